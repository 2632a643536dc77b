//! Admin passwords: argon2id with the crate's defaults (m=19456 KiB, t=2, p=1), stored as PHC
//! strings. Both functions are slow on purpose (tens of milliseconds): callers run them on a
//! blocking thread, never on the async workers.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// The longest password accepted (bounds the hashing work a request can ask for).
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// A hash of a password nobody knows: verified against when the username is unknown, so that an
/// unknown user costs the same time as a wrong password (no username probing by timing).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2NpbWdhdGUtZHVtbXk$Jq5y6mBAUUzK2V4Q6Y1bfm8b3k6yQwXbGvN3a2QmC0c";

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("the password must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("hashing failed: {0}")]
    Hash(String),
}

pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes a password that passes [`check_policy`].
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_policy(password)?;
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `phc`; with `None` (unknown user) it verifies against a dummy hash
/// and returns false, taking the same time.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    let (target, real) = match phc {
        Some(p) => (p, true),
        None => (DUMMY_HASH, false),
    };
    let Ok(parsed) = PasswordHash::new(target) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("wrong horse battery", Some(&h)));
        assert!(!verify("correct horse battery", None));
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
    }

    #[test]
    fn the_dummy_hash_parses() {
        // Otherwise the unknown-user path would be faster than a wrong password.
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
