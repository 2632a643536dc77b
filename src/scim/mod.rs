//! The SCIM 2.0 protocol (RFC 7643 schemas, RFC 7644 protocol): schemas, the filter language,
//! the PATCH engine, projection, list queries, discovery documents and error values.
//! Knows nothing of HTTP or SQL: it must not import `actix_web`, `rusqlite` or any other
//! module of this crate.

pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod limits;
pub mod list;
pub mod patch;
pub mod project;
pub mod redact;
pub mod resource;
pub mod schema;

pub use error::ScimError;
