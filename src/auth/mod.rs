//! Security primitives, free of HTTP and SQL: API tokens, one-time link tokens, TOTP
//! authenticators (`totp`), a MAC for cursors (and, with the admin pages, password
//! hashes, sessions and CSRF tokens). Must not import `web`, `directory` or `store`.

pub mod mac;
pub mod token;
pub mod totp;

pub use token::{ApiToken, TokenDigest};
