//! One-time recovery codes for an administrator's second factor: ten at a time, each
//! `xxxx-xxxx-xxxx` from a 31-character alphabet without look-alikes (no 0/o, 1/l/i), about
//! 59 random bits each, stored only as argon2id digests. Hashing and checking are slow on
//! purpose: callers run them on a blocking thread.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::TryRng;
use rand::rngs::SysRng;

/// Codes issued at a time.
pub const COUNT: usize = 10;
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
const GROUPS: usize = 3;
const GROUP_LEN: usize = 4;

/// A recovery code in its canonical form. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

impl std::fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecoveryCode(…)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("no randomness: {0}")]
    Random(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

impl RecoveryCode {
    /// [`COUNT`] fresh codes.
    pub fn generate() -> Result<Vec<RecoveryCode>, RecoveryError> {
        (0..COUNT).map(|_| Self::one()).collect()
    }

    fn one() -> Result<RecoveryCode, RecoveryError> {
        let mut out = String::with_capacity(GROUPS * (GROUP_LEN + 1));
        let mut n = 0;
        while n < GROUPS * GROUP_LEN {
            let mut b = [0u8; 16];
            SysRng
                .try_fill_bytes(&mut b)
                .map_err(|e| RecoveryError::Random(e.to_string()))?;
            // Rejection sampling keeps every character equally likely (248 = 8 × 31).
            for x in b.into_iter().filter(|x| *x < 248) {
                if n == GROUPS * GROUP_LEN {
                    break;
                }
                if n > 0 && n % GROUP_LEN == 0 {
                    out.push('-');
                }
                out.push(ALPHABET[usize::from(x) % ALPHABET.len()] as char);
                n += 1;
            }
        }
        Ok(RecoveryCode(out))
    }

    /// A typed code, forgiving case, spaces and missing dashes; `None` if it cannot be one.
    pub fn parse(typed: &str) -> Option<RecoveryCode> {
        let chars: Vec<char> = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if chars.len() != GROUPS * GROUP_LEN
            || !chars
                .iter()
                .all(|c| c.is_ascii() && ALPHABET.contains(&(*c as u8)))
        {
            return None;
        }
        let groups: Vec<String> = chars
            .chunks(GROUP_LEN)
            .map(|g| g.iter().collect())
            .collect();
        Some(RecoveryCode(groups.join("-")))
    }

    /// The text shown to the administrator, once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The argon2id digest kept in the database.
    pub fn digest(&self) -> Result<String, RecoveryError> {
        Argon2::default()
            .hash_password(self.0.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| RecoveryError::Hash(e.to_string()))
    }

    /// Whether this code is the one behind `phc`.
    pub fn matches(&self, phc: &str) -> bool {
        PasswordHash::new(phc).is_ok_and(|p| {
            Argon2::default()
                .verify_password(self.0.as_bytes(), &p)
                .is_ok()
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn codes_are_distinct_readable_and_verify_once_parsed() {
        let codes = RecoveryCode::generate().unwrap();
        assert_eq!(codes.len(), COUNT);
        for c in &codes {
            let t = c.expose();
            assert_eq!(t.len(), 14, "{t}");
            assert_eq!(t.matches('-').count(), 2);
            assert!(!t.contains(['0', '1', 'o', 'l', 'i']));
        }
        let mut uniq: Vec<&str> = codes.iter().map(|c| c.expose()).collect();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), COUNT);
        let d = codes[0].digest().unwrap();
        assert!(d.starts_with("$argon2id$") && !d.contains(codes[0].expose()));
        let typed = codes[0].expose().to_uppercase().replace('-', " ");
        assert!(RecoveryCode::parse(&typed).unwrap().matches(&d));
        assert!(!codes[1].matches(&d));
        assert!(RecoveryCode::parse("123456").is_none());
        assert!(RecoveryCode::parse("oooo-oooo-oooo").is_none());
        assert!(!format!("{:?}", codes[0]).contains(codes[0].expose()));
    }
}
