//! One-time display of a new secret (issue 13 items 1, 5 and 6): the POST that makes an API
//! token, a verifier key or an administrator's recovery codes leaves it here, keyed by the administrator's session, and redirects; the
//! next GET of the page that shows it takes it out. A reload then shows no secret and never
//! makes another one, and the secret never appears in a URL (so neither in the request log nor
//! in the browser's history).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::TokenDigest;

/// How long a secret waits for its page to be opened.
pub const WAIT_FOR: Duration = Duration::from_secs(10 * 60);

/// Secrets waiting to be shown once, at most one per session. Held in memory only: a restart
/// drops them.
pub struct Reveal<T> {
    /// Key: the digest of the session cookie, so only the session that made a secret sees it.
    pending: Mutex<HashMap<Vec<u8>, Pending<T>>>,
}

struct Pending<T> {
    /// What the secret belongs to (an integration's id, a verifier key's name; empty for
    /// recovery codes).
    scope: String,
    value: T,
    at: Instant,
}

impl<T> Default for Reveal<T> {
    fn default() -> Self {
        Reveal {
            pending: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> std::fmt::Debug for Reveal<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reveal(…)")
    }
}

fn key(session_cookie: &str) -> Vec<u8> {
    TokenDigest::of(session_cookie).as_bytes().to_vec()
}

impl<T> Reveal<T> {
    /// Leaves `value` for this session's next view of the page of `scope` (replacing one not
    /// yet shown).
    pub fn put(&self, session_cookie: &str, scope: &str, value: T) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.retain(|_, v| v.at.elapsed() < WAIT_FOR);
        p.insert(
            key(session_cookie),
            Pending {
                scope: scope.to_owned(),
                value,
                at: Instant::now(),
            },
        );
    }

    /// The secret waiting for this session and `scope` (any scope when `None`), once:
    /// `(scope, value)`.
    pub fn take(&self, session_cookie: &str, scope: Option<&str>) -> Option<(String, T)> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(session_cookie);
        match p.get(&k) {
            Some(v) if scope.is_none_or(|s| v.scope == s) && v.at.elapsed() < WAIT_FOR => {
                p.remove(&k).map(|v| (v.scope, v.value))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_once_to_its_session_only() {
        let r = Reveal::<String>::default();
        r.put("cookie-a", "i1", "scg_x".into());
        assert_eq!(r.take("cookie-b", Some("i1")), None);
        assert_eq!(r.take("cookie-a", Some("i2")), None);
        assert_eq!(
            r.take("cookie-a", Some("i1")),
            Some(("i1".to_owned(), "scg_x".to_owned()))
        );
        assert_eq!(r.take("cookie-a", Some("i1")), None);
        r.put("cookie-a", "mfa", "scv_y".into());
        assert_eq!(
            r.take("cookie-a", None),
            Some(("mfa".to_owned(), "scv_y".to_owned()))
        );
        assert_eq!(r.take("cookie-a", None), None);
    }
}
