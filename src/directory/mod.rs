//! The appliance's rules: integrations and their settings, who sees and owns which user
//! (`policy`), uniqueness of login names, the user use-cases the SCIM handlers call, and
//! enrollment: the email outbox (`outbox`), links and authenticators (`enroll`), code
//! verification (`verify`) and the keys it takes (`verifier_keys`), and the secrets sealed at
//! rest (`secrets`).
//! Uses `scim` for protocol semantics and `store` for persistence; must not import `web`.
//! Imports no database crate (no SQLite driver): it talks to the store only through the
//! [`Tx`](crate::store::Tx) its closures receive and the `store` repository functions that take
//! it, so the same rules can run on another engine (issue 18 item 2).

/// A random id of 32 lower-case hex digits (a UUID v4 without dashes) with a `parse` that
/// accepts only that shape, so arbitrary path text never reaches a query.
macro_rules! hex_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn generate() -> $name {
                $name(uuid::Uuid::new_v4().simple().to_string())
            }
            pub fn parse(s: &str) -> Option<$name> {
                (s.len() == 32
                    && s.bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
                .then(|| $name(s.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                // `pad`, so that a width (`{:<34}`) lines up tables.
                f.pad(&self.0)
            }
        }
    };
}

pub mod activity;
pub mod admin_mfa;
pub mod admins;
pub mod clock;
pub mod cursor;
pub mod enroll;
pub mod groups;
pub mod integration;
pub mod manage;
pub mod outbox;
pub mod policy;
pub mod rotation;
pub mod secrets;
pub mod stats;
pub mod users;
pub mod verifier_keys;
pub mod verify;

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;
use time::macros::format_description;

use crate::auth::seal::{self, SecretsKey};
use crate::auth::totp::TotpSecret;
use crate::scim::ScimError;
use crate::store::{Store, StoreError, Tx};

pub use integration::{Integration, IntegrationId, PatchAnswer, Settings, SettingsChange};

/// Errors of the directory's use-cases. `web/` maps them to HTTP in one place.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A protocol error (bad filter, bad value, bad PATCH …).
    #[error(transparent)]
    Scim(#[from] ScimError),
    #[error("not found")]
    NotFound,
    #[error("{attribute} '{value}' is already taken")]
    Conflict {
        attribute: &'static str,
        value: String,
    },
    #[error("{0}")]
    Forbidden(String),
    #[error("the resource has changed: its current version is {current}")]
    PreconditionFailed { current: String },
    #[error("missing or invalid API token for this Base URL")]
    Unauthorized,
    /// The presented token is the integration's current one, but its lifetime is over.
    #[error(
        "the API token expired at {at}: regenerate it on the integration's page and paste the new one into the identity provider"
    )]
    TokenExpired { at: String },
    /// Invalid input to an operator use-case (CLI, admin pages).
    #[error("{0}")]
    Invalid(String),
    #[error("the service is shutting down")]
    Unavailable,
    /// An admin sign-in was refused.
    #[error(transparent)]
    SignIn(#[from] admins::SignInError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict { attribute, value } => Error::Conflict { attribute, value },
            StoreError::WriterGone => Error::Unavailable,
            other => Error::Internal(other.to_string()),
        }
    }
}

/// Where a user or group comes from, for the provisioning extension and the admin pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The owning integration (id, name); None when manual.
    pub source: Option<(String, String)>,
    /// Set when an integration claimed it from manual provisioning.
    pub claim: Option<crate::store::provenance::Claim>,
}

impl Provenance {
    pub(crate) fn load(
        tx: &mut Tx<'_>,
        kind: crate::store::provenance::Kind,
        seq: i64,
        source: Option<&str>,
    ) -> Result<Provenance, Error> {
        use crate::store::provenance;
        let source = match source {
            Some(id) => Some((
                id.to_owned(),
                provenance::integration_name(tx, id)?.unwrap_or_default(),
            )),
            None => None,
        };
        Ok(Provenance {
            source,
            claim: provenance::claim(tx, kind, seq)?,
        })
    }
}

/// The directory: the use-cases over one store.
pub struct Directory {
    store: Store,
    /// When each integration's token use was last recorded (throttles those writes).
    token_touched: Mutex<HashMap<String, std::time::Instant>>,
    /// Integrations authenticated since the database last changed (see `integration::CachedAuth`).
    auth_cache: Mutex<integration::AuthCache>,
    /// When this process last changed an integration (see `Directory::settle`).
    integration_changed: Mutex<Option<std::time::Instant>>,
    /// Bumped by every in-process change to an integration, so that a lookup that raced with
    /// the change does not cache what it read before it.
    auth_generation: std::sync::atomic::AtomicU64,
    /// Signs list cursors; made at start-up, so cursors do not survive a restart.
    cursor_key: crate::auth::mac::MacKey,
    /// Where index-paged walks stopped (see `cursor::ResumePoints`).
    resume: cursor::ResumePoints,
    /// Failed admin sign-ins, per username.
    sign_in_throttle: admins::Throttle,
    /// Administrators' authenticators being registered, and recovery codes to show once.
    admin_mfa: admin_mfa::MfaState,
    /// Wakes the email drainer when a message is queued.
    mail_wake: tokio::sync::Notify,
    /// When each verifier key's use was last written (throttles those writes).
    verifier_key_use: verifier_keys::KeyUse,
    /// Seals and opens the TOTP secrets the database keeps (see `secrets`).
    secrets: SecretsKey,
    /// The time token overlaps and expiry are judged by (see `clock`).
    clock: clock::Clock,
    /// Sizes a written user or group document may not exceed (`[scim]` limits).
    limits: crate::scim::limits::Limits,
}

impl Directory {
    /// The directory over `store`, whose secrets are sealed with `secrets` (the key
    /// [`secrets::unlock`] checked against the database; `app::open_directory` does both).
    pub fn new(store: Store, secrets: SecretsKey) -> Directory {
        let cursor_key = secrets.derive_mac_key(cursor::KEY_LABEL);
        Directory {
            store,
            secrets,
            token_touched: Mutex::new(HashMap::new()),
            auth_cache: Mutex::new(integration::AuthCache::default()),
            integration_changed: Mutex::new(None),
            auth_generation: std::sync::atomic::AtomicU64::new(0),
            cursor_key,
            resume: cursor::ResumePoints::default(),
            sign_in_throttle: admins::Throttle::default(),
            admin_mfa: admin_mfa::MfaState::default(),
            mail_wake: tokio::sync::Notify::new(),
            verifier_key_use: verifier_keys::KeyUse::default(),
            clock: clock::Clock::default(),
            limits: crate::scim::limits::Limits::default(),
        }
    }

    /// The per-attribute limits written documents are held to (default: `Limits::default`).
    pub fn with_limits(mut self, limits: crate::scim::limits::Limits) -> Directory {
        self.limits = limits;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key secrets are sealed with. Seal with `seal::aad(purpose, row id)` as associated
    /// data, the purpose naming the column (see `auth::seal::purpose`).
    pub fn secrets_key(&self) -> &SecretsKey {
        &self.secrets
    }
}

/// Seals a TOTP secret for the row (`purpose`, `id`).
pub(crate) fn seal_totp(
    key: &SecretsKey,
    purpose: &str,
    id: &str,
    secret: &TotpSecret,
) -> Result<String, Error> {
    key.seal_str(secret.expose(), &seal::aad(purpose, id))
        .map_err(|e| Error::Internal(format!("cannot seal a TOTP secret: {e}")))
}

/// Opens a TOTP secret sealed for the row (`purpose`, `id`).
pub(crate) fn open_totp(
    key: &SecretsKey,
    purpose: &str,
    id: &str,
    sealed: &str,
) -> Result<TotpSecret, Error> {
    key.open_str(sealed, &seal::aad(purpose, id))
        .ok()
        .and_then(|s| TotpSecret::from_base32(&s))
        .ok_or_else(|| {
            Error::Internal(format!(
                "the {purpose} secret of {id} does not open with the secrets key"
            ))
        })
}

/// Now, as stored and returned: RFC 3339 in UTC with milliseconds, so that text order is time
/// order (filters and sorting on `meta.lastModified` compare the text).
pub fn now() -> String {
    format_time(OffsetDateTime::now_utc())
}

pub fn format_time(t: OffsetDateTime) -> String {
    let f =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&f)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format_sorts_as_text() {
        let a = format_time(time::macros::datetime!(2026-01-02 03:04:05.006 UTC));
        assert_eq!(a, "2026-01-02T03:04:05.006Z");
        let b = format_time(time::macros::datetime!(2026-01-02 03:04:05.1 UTC));
        assert!(a < b);
    }
}
