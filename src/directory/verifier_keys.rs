//! Verifier keys (issue 13 item 1; DESIGN.md, *Authentication check*): the only credential
//! `/api/v1/verify` accepts, so that an integration's API token, which sits in an IdP's
//! configuration, cannot probe codes or lock users out. A key is `scv_` + 256 random bits,
//! shown once at creation and stored only as its SHA-256 digest.
//!
//! Authentication reads the database on every request (a lookup of the digest in a unique
//! index) and keeps no cache, so a revocation, from the admin pages or from
//! `scimgate verifier-key revoke` in another process, takes effect on the next request.
//! Revoked keys stay in the table, marked; their names may be reused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::token::VERIFIER_KEY_PREFIX;
use crate::auth::{ApiToken, TokenDigest};
use crate::directory::{Directory, Error, now};
use crate::store::verifier_keys::{self, VerifierKeyRow};

/// The longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// How often a key's "last used" time is written at most: a busy MFA service verifies many
/// codes a second, and each write would be a commit. The list is at most this much behind.
pub const TOUCH_EVERY: Duration = Duration::from_secs(60);

hex_id!(
    /// A verifier key id: 32 lower-case hex digits.
    VerifierKeyId
);

/// A verifier key in force, as listed (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub id: VerifierKeyId,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

impl From<VerifierKeyRow> for VerifierKey {
    fn from(r: VerifierKeyRow) -> Self {
        VerifierKey {
            id: VerifierKeyId(r.id),
            name: r.name,
            created: r.created_at,
            last_used: r.last_used_at,
        }
    }
}

/// A new key and its value, which exists only here and in the operator's hands.
#[derive(Debug)]
pub struct CreatedKey {
    pub key: VerifierKey,
    pub secret: ApiToken,
}

/// When each key's use was last written (throttles those writes).
#[derive(Debug, Default)]
pub struct KeyUse(Mutex<HashMap<String, Instant>>);

impl KeyUse {
    /// Whether a write of `id`'s last use is due now (and if so, notes it as done).
    fn due(&self, id: &str) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match seen.get(id) {
            Some(t) if now.duration_since(*t) < TOUCH_EVERY => false,
            _ => {
                seen.insert(id.to_owned(), now);
                true
            }
        }
    }
}

/// A key name as entered: trimmed, 1 to [`MAX_NAME_CHARS`] characters, no control characters.
pub fn valid_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Invalid("the name must not be empty".into()));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::Invalid(format!(
            "the name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "the name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

impl Directory {
    /// Creates a verifier key named `name`. A key in force with the same name (any case) is
    /// refused with `Invalid`.
    pub async fn create_verifier_key(&self, name: &str) -> Result<CreatedKey, Error> {
        let name = valid_name(name)?;
        let secret = ApiToken::with_prefix(VERIFIER_KEY_PREFIX)
            .map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let row = VerifierKeyRow {
            id: VerifierKeyId::generate().0,
            name,
            created_at: now(),
            last_used_at: None,
            revoked_at: None,
        };
        let (stored, digest) = (row.clone(), secret.digest());
        self.store
            .write(move |tx| {
                verifier_keys::insert(tx, &stored, digest.as_bytes()).map_err(Error::from)
            })
            .await
            .map_err(|e| match e {
                Error::Conflict { value, .. } => {
                    Error::Invalid(format!("a verifier key named '{value}' already exists"))
                }
                e => e,
            })?;
        Ok(CreatedKey {
            key: row.into(),
            secret,
        })
    }

    /// The keys in force, oldest first.
    pub async fn list_verifier_keys(&self) -> Result<Vec<VerifierKey>, Error> {
        self.store
            .read(|tx| {
                Ok::<_, Error>(
                    verifier_keys::list_active(tx)?
                        .into_iter()
                        .map(VerifierKey::from)
                        .collect(),
                )
            })
            .await
    }

    /// The key in force with this id (the admin pages address keys by id).
    pub async fn verifier_key(&self, id: &str) -> Result<VerifierKey, Error> {
        let id = VerifierKeyId::parse(id).ok_or(Error::NotFound)?;
        self.store
            .read(move |tx| Ok::<_, Error>(verifier_keys::find(tx, id.as_str())?))
            .await?
            .map(VerifierKey::from)
            .ok_or(Error::NotFound)
    }

    /// Revokes the key in force named `name` (any case): `Invalid` when there is none.
    pub async fn revoke_verifier_key(&self, name: &str) -> Result<VerifierKey, Error> {
        let name = name.trim().to_owned();
        self.store
            .write(move |tx| {
                let key = verifier_keys::find_by_name(tx, &name)?.ok_or_else(|| {
                    Error::Invalid(format!("there is no verifier key named '{name}'"))
                })?;
                verifier_keys::revoke(tx, &key.id, &now())?;
                Ok(VerifierKey::from(key))
            })
            .await
    }

    /// Revokes the key in force with this id: `NotFound` when there is none.
    pub async fn revoke_verifier_key_id(&self, id: &str) -> Result<VerifierKey, Error> {
        let id = VerifierKeyId::parse(id).ok_or(Error::NotFound)?;
        self.store
            .write(move |tx| {
                let key = verifier_keys::find(tx, id.as_str())?.ok_or(Error::NotFound)?;
                verifier_keys::revoke(tx, &key.id, &now())?;
                Ok(VerifierKey::from(key))
            })
            .await
    }

    /// The key in force that `presented` is. Every failure (an unknown or revoked key, an
    /// integration token, anything else) is the same `Unauthorized`.
    ///
    /// The row is found by the digest of the presented value (a unique-index lookup, which can
    /// reveal at most something about a SHA-256 digest, not about a key) and the match is then
    /// confirmed in constant time.
    pub async fn authenticate_verifier(&self, presented: &str) -> Result<VerifierKey, Error> {
        let digest = TokenDigest::of(presented);
        let found = self
            .store
            .read(move |tx| Ok::<_, Error>(verifier_keys::find_by_digest(tx, digest.as_bytes())?))
            .await?;
        let Some((row, stored)) = found else {
            return Err(Error::Unauthorized);
        };
        if !TokenDigest::from_bytes(&stored).is_some_and(|d| d.matches(presented)) {
            return Err(Error::Unauthorized);
        }
        let key = VerifierKey::from(row);
        if self.verifier_key_use.due(key.id.as_str()) {
            let (id, at) = (key.id.0.clone(), now());
            let r: Result<(), Error> = self
                .store
                .write(move |c| verifier_keys::touch(c, &id, &at).map_err(Error::from))
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not record the verifier key's last use");
            }
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(valid_name("  mfa  ").ok().as_deref(), Some("mfa"));
        assert!(valid_name("   ").is_err());
        assert!(valid_name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(valid_name(&"é".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(valid_name("a\u{7}b").is_err());
    }

    #[test]
    fn use_is_written_at_most_once_a_minute_per_key() {
        let u = KeyUse::default();
        assert!(u.due("a"));
        assert!(!u.due("a"));
        assert!(u.due("b"));
    }
}
