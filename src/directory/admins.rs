//! Administrators of the admin pages: the first-admin setup link, `admin create`, sign-in with
//! throttling of repeated failures, and server-side sessions with idle and absolute expiry.
//! An administrator with an authenticator gets a pending session from the password step; the
//! second factor (`admin_mfa`) turns it into a full one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::auth::TokenDigest;
use crate::auth::password;
use crate::auth::secret::random_secret;
use crate::directory::{Directory, Error, format_time, now};
use crate::store::admins::{self, NewSession};
use crate::store::fold::fold;

/// The longest administrator username.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Failed sign-ins per username before further attempts are refused for a while.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait imposed after repeated failures.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(15 * 60);

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub absolute: Duration,
}

/// A signed-in administrator's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub admin_id: i64,
    pub username: String,
    /// The per-session CSRF form token.
    pub csrf: String,
    /// Only the password step passed: the second factor is awaited, no admin page is granted.
    pub pending: bool,
    /// The administrator has a registered authenticator.
    pub has_second_factor: bool,
}

/// A new session: the cookie value exists only here and in the browser.
#[derive(Debug)]
pub struct NewSignIn {
    pub cookie: String,
    pub session: Session,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignInError {
    #[error("the username or password is wrong")]
    Wrong,
    #[error("too many failed sign-ins for this username; try again in {0} seconds")]
    Throttled(u64),
    /// A wrong authenticator or recovery code (counted by the same throttle as passwords).
    #[error("the code is wrong")]
    WrongCode,
    /// An authenticator code whose time step was already accepted (RFC 6238 §5.2).
    #[error("this code was already used; wait for the next one")]
    CodeUsed,
    /// The pending sign-in is unknown or expired: start again with the password.
    #[error("the sign-in has expired; enter your password again")]
    Expired,
}

/// Failed sign-ins per folded username, kept in memory (a restart forgets them).
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    /// Seconds to wait before `user` may try again, if any: after [`FREE_FAILURES`] failures
    /// the wait doubles with each further one (1 s, 2 s, 4 s … up to [`MAX_LOCKOUT`]).
    pub fn wait(&self, user: &str, at: Instant) -> Option<u64> {
        let map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let (n, last) = map.get(&fold(user))?;
        if *n < FREE_FAILURES {
            return None;
        }
        let lock = Duration::from_secs(1u64 << (n - FREE_FAILURES).min(20)).min(MAX_LOCKOUT);
        let until = *last + lock;
        (until > at).then(|| (until - at).as_secs().max(1))
    }

    /// Counts a failure; returns the failures so far.
    pub fn fail(&self, user: &str, at: Instant) -> u32 {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        // Bound the memory an attacker trying many usernames can take.
        if map.len() > 10_000 {
            map.retain(|_, (_, last)| at.duration_since(*last) < MAX_LOCKOUT);
        }
        let e = map.entry(fold(user)).or_insert((0, at));
        e.0 = e.0.saturating_add(1);
        e.1 = at;
        e.0
    }

    pub fn succeed(&self, user: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&fold(user));
    }
}

fn later(d: Duration) -> String {
    format_time(OffsetDateTime::now_utc() + d)
}

fn check_username(username: &str) -> Result<String, Error> {
    let u = username.trim();
    if u.is_empty() {
        return Err(Error::Invalid("the username must not be empty".into()));
    }
    if u.chars().count() > MAX_USERNAME_CHARS {
        return Err(Error::Invalid(format!(
            "the username must be at most {MAX_USERNAME_CHARS} characters"
        )));
    }
    if u.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(Error::Invalid(
            "the username must not contain spaces or control characters".into(),
        ));
    }
    Ok(u.to_owned())
}

async fn hash_blocking(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
        .map_err(|e| match e {
            password::PasswordError::Hash(m) => Error::Internal(m),
            e => Error::Invalid(e.to_string()),
        })
}

impl Directory {
    pub async fn admin_count(&self) -> Result<i64, Error> {
        self.store
            .read(|c| admins::count(c).map_err(Error::from))
            .await
    }

    /// Creates an administrator (`scimgate admin create`). The password is hashed on a blocking
    /// thread. Errors: `Invalid` (username or password rules), `Conflict` (username taken).
    pub async fn create_admin(&self, username: &str, password: &str) -> Result<(), Error> {
        let username = check_username(username)?;
        let hash = hash_blocking(password.to_owned()).await?;
        self.store
            .write(move |c| {
                admins::insert(c, &username, &hash, &now())?;
                admins::delete_setup_links(c)?;
                Ok::<_, Error>(())
            })
            .await
    }

    /// When no administrator exists: a fresh one-time setup secret valid for `ttl` (any older
    /// link stops working). `None` once an administrator exists.
    pub async fn new_setup_link(&self, ttl: Duration) -> Result<Option<String>, Error> {
        let secret = random_secret().map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let digest = TokenDigest::of(&secret).as_bytes().to_vec();
        let expires = later(ttl);
        self.store
            .write(move |c| {
                if admins::count(c)? > 0 {
                    return Ok(None);
                }
                admins::put_setup_link(c, &digest, &expires)?;
                Ok::<_, Error>(Some(secret))
            })
            .await
    }

    /// Whether `secret` is the current, unexpired setup link and no administrator exists yet.
    pub async fn setup_link_valid(&self, secret: &str) -> Result<bool, Error> {
        let digest = TokenDigest::of(secret).as_bytes().to_vec();
        let now = now();
        self.store
            .read(move |c| {
                Ok::<_, Error>(
                    admins::count(c)? == 0
                        && admins::find_setup_link(c, &digest)?.is_some_and(|exp| exp > now),
                )
            })
            .await
    }

    /// Uses the setup link: creates the first administrator and retires the link, atomically.
    /// `NotFound` when the link is unknown, expired or already used.
    pub async fn complete_setup(
        &self,
        secret: &str,
        username: &str,
        password: &str,
    ) -> Result<(), Error> {
        let username = check_username(username)?;
        let hash = hash_blocking(password.to_owned()).await?;
        let digest = TokenDigest::of(secret).as_bytes().to_vec();
        self.store
            .write(move |c| {
                let now = now();
                let valid = admins::count(c)? == 0
                    && admins::find_setup_link(c, &digest)?.is_some_and(|exp| exp > now);
                if !valid {
                    return Err(Error::NotFound);
                }
                admins::insert(c, &username, &hash, &now)?;
                admins::delete_setup_links(c)?;
                Ok(())
            })
            .await
    }

    /// Checks a username and password (argon2 off the async threads, the same cost for an
    /// unknown username) and opens a session.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        policy: SessionPolicy,
    ) -> Result<NewSignIn, Error> {
        let started = Instant::now();
        if let Some(secs) = self.sign_in_throttle.wait(username, started) {
            tracing::warn!(username, "sign-in refused: too many failed attempts");
            return Err(Error::SignIn(SignInError::Throttled(secs)));
        }
        let lookup = username.trim().to_owned();
        let admin = self
            .store
            .read(move |c| admins::find_by_username(c, &lookup).map_err(Error::from))
            .await?;
        let phc = admin.as_ref().map(|a| a.password_hash.clone());
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || password::verify(&pw, phc.as_deref()))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        let Some(admin) = admin.filter(|_| ok) else {
            let n = self.sign_in_throttle.fail(username, Instant::now());
            tracing::warn!(username, failures = n, "failed admin sign-in");
            return Err(Error::SignIn(SignInError::Wrong));
        };
        if admin.second_factor {
            // The throttle is cleared only once the code is right too: otherwise the password
            // would buy unlimited guesses at the code.
            let new = self
                .open_session(admin.id, &admin.username, true, policy, None)
                .await?;
            tracing::info!(username = %admin.username, "admin password accepted; awaiting the second factor");
            return Ok(new);
        }
        self.sign_in_throttle.succeed(username);
        let new = self
            .open_session(admin.id, &admin.username, false, policy, None)
            .await?;
        tracing::info!(username = %admin.username, "admin signed in");
        Ok(new)
    }

    /// Creates a session (a new random cookie and CSRF token). A pending one lasts
    /// [`PENDING_SIGN_IN`](crate::directory::admin_mfa::PENDING_SIGN_IN) at most. `replaces`
    /// (a cookie) is deleted in the same transaction: the session id changes when a pending
    /// session becomes a full one (session fixation).
    pub(crate) async fn open_session(
        &self,
        admin_id: i64,
        username: &str,
        pending: bool,
        policy: SessionPolicy,
        replaces: Option<&str>,
    ) -> Result<NewSignIn, Error> {
        let cookie = random_secret().map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let csrf = random_secret().map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        let digest = TokenDigest::of(&cookie).as_bytes().to_vec();
        let old = replaces.map(|c| TokenDigest::of(c).as_bytes().to_vec());
        let lifetime = if pending {
            policy
                .absolute
                .min(crate::directory::admin_mfa::PENDING_SIGN_IN)
        } else {
            policy.absolute
        };
        let expires = later(lifetime);
        let csrf2 = csrf.clone();
        let has_second_factor = self
            .store
            .write(move |c| {
                let now = now();
                if let Some(old) = old {
                    admins::delete_session(c, &old)?;
                }
                admins::insert_session(
                    c,
                    NewSession {
                        digest: &digest,
                        admin_id,
                        csrf: &csrf2,
                        now: &now,
                        expires: &expires,
                        pending,
                    },
                )?;
                if !pending {
                    admins::record_sign_in(c, admin_id, &now)?;
                }
                Ok::<_, Error>(
                    admins::second_factor(c, admin_id)?.is_some_and(|f| f.secret.is_some()),
                )
            })
            .await?;
        Ok(NewSignIn {
            cookie,
            session: Session {
                admin_id,
                username: username.to_owned(),
                csrf,
                pending,
                has_second_factor,
            },
        })
    }

    /// The live session behind a cookie value. Expired sessions are deleted; a used session's
    /// idle clock is reset (written at most once a minute).
    pub async fn session(
        &self,
        cookie: &str,
        policy: SessionPolicy,
    ) -> Result<Option<Session>, Error> {
        let digest = TokenDigest::of(cookie).as_bytes().to_vec();
        let d = digest.clone();
        let Some(row) = self
            .store
            .read(move |c| admins::find_session(c, &d).map_err(Error::from))
            .await?
        else {
            return Ok(None);
        };
        let now_t = OffsetDateTime::now_utc();
        let now = format_time(now_t);
        let idle_before = format_time(now_t - policy.idle);
        if row.expires <= now || row.last_seen <= idle_before {
            let d = digest.clone();
            self.store
                .write(move |c| admins::delete_session(c, &d).map_err(Error::from))
                .await?;
            return Ok(None);
        }
        if row.last_seen < format_time(now_t - Duration::from_secs(60)) {
            self.store
                .write(move |c| {
                    admins::touch_session(c, &digest, &now)?;
                    admins::delete_expired_sessions(c, &now, &idle_before)?;
                    Ok::<_, Error>(())
                })
                .await?;
        }
        Ok(Some(Session {
            admin_id: row.admin_id,
            username: row.username,
            csrf: row.csrf,
            pending: row.pending,
            has_second_factor: row.has_second_factor,
        }))
    }

    pub async fn sign_out(&self, cookie: &str) -> Result<(), Error> {
        let digest = TokenDigest::of(cookie).as_bytes().to_vec();
        self.store
            .write(move |c| admins::delete_session(c, &digest).map_err(Error::from))
            .await
    }

    pub async fn list_admins(&self) -> Result<Vec<admins::AdminRow>, Error> {
        self.store
            .read(|c| admins::list(c).map_err(Error::from))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_backs_off_after_free_failures() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert_eq!(t.wait("Alice", t0), None);
            t.fail("alice", t0);
        }
        assert_eq!(t.wait("ALICE", t0), Some(1));
        assert_eq!(t.wait("alice", t0 + Duration::from_secs(2)), None);
        t.fail("alice", t0);
        assert_eq!(t.wait("alice", t0), Some(2));
        assert_eq!(t.wait("bob", t0), None);
        t.succeed("alice");
        assert_eq!(t.wait("alice", t0), None);
    }
}
