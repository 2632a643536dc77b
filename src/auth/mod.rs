//! Security primitives, free of HTTP and SQL: API tokens, one-time link tokens, TOTP
//! authenticators (`totp`), a MAC for cursors, admin password hashes and recovery codes, and the random secrets
//! behind sessions, CSRF form tokens and the setup link. Must not import `web`, `directory` or
//! `store`.

pub mod mac;
pub mod password;
pub mod recovery;
pub mod secret;
pub mod token;
pub mod totp;

pub use token::{ApiToken, TokenDigest};
