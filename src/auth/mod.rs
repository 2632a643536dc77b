//! Security primitives, free of HTTP and SQL: API tokens, one-time link tokens, TOTP
//! authenticators (`totp`), sealing secrets at rest (`seal`) with the key file (`keyfile`), a
//! MAC for cursors, admin password hashes and recovery codes (`recovery`), and the random
//! secrets behind sessions, CSRF form tokens and the setup link. Must not import `web`, `directory` or `store`.

pub mod keyfile;
pub mod mac;
pub mod password;
pub mod recovery;
pub mod seal;
pub mod secret;
pub mod token;
pub mod totp;

pub use token::{ApiToken, TokenDigest};
