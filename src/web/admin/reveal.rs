//! One-time display of a new API token (issue 13 item 6). The POST that makes the token leaves
//! it here, keyed by the administrator's session, and redirects; the GET of the integration's
//! page takes it out. A reload then shows no token, and never makes another one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::TokenDigest;

/// How long a token waits for its page to be opened.
const WAIT_FOR: Duration = Duration::from_secs(300);

/// New tokens waiting to be shown once. Held in memory only: a restart drops them.
#[derive(Default)]
pub struct TokenReveal {
    /// Key: the digest of the session cookie.
    pending: Mutex<HashMap<Vec<u8>, Pending>>,
}

struct Pending {
    integration: String,
    token: String,
    at: Instant,
}

impl std::fmt::Debug for TokenReveal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenReveal(…)")
    }
}

fn key(session_cookie: &str) -> Vec<u8> {
    TokenDigest::of(session_cookie).as_bytes().to_vec()
}

impl TokenReveal {
    /// Leaves `token` for this session's next view of the integration's page (replacing one
    /// not yet shown).
    pub fn put(&self, session_cookie: &str, integration: &str, token: String) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.retain(|_, v| v.at.elapsed() < WAIT_FOR);
        p.insert(
            key(session_cookie),
            Pending {
                integration: integration.to_owned(),
                token,
                at: Instant::now(),
            },
        );
    }

    /// The token waiting for this session and integration, once.
    pub fn take(&self, session_cookie: &str, integration: &str) -> Option<String> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(session_cookie);
        match p.get(&k) {
            Some(v) if v.integration == integration && v.at.elapsed() < WAIT_FOR => {
                p.remove(&k).map(|v| v.token)
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
        let r = TokenReveal::default();
        r.put("cookie-a", "i1", "scg_x".into());
        assert_eq!(r.take("cookie-b", "i1"), None);
        assert_eq!(r.take("cookie-a", "i2"), None);
        assert_eq!(r.take("cookie-a", "i1").as_deref(), Some("scg_x"));
        assert_eq!(r.take("cookie-a", "i1"), None);
    }
}
