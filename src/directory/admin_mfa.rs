//! Administrators' own second factor (issue 13 item 5): registering a TOTP authenticator from
//! the account page, ten one-time recovery codes (argon2 digests only), the code step of
//! sign-in that turns a pending session into a full one under a new session id, and the
//! operator's reset for a lost phone. Wrong codes count in the same per-username throttle as
//! wrong passwords; an accepted time step is never accepted again (RFC 6238 §5.2).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::recovery::RecoveryCode;
use crate::auth::totp::TotpSecret;
use crate::directory::admins::{NewSignIn, SessionPolicy, SignInError};
use crate::directory::{Directory, Error, now};
use crate::store::admins;

/// How long the pending state between the password and the code lasts.
pub const PENDING_SIGN_IN: Duration = Duration::from_secs(5 * 60);
/// How long a secret shown for registration stays usable without being confirmed.
pub const REGISTRATION_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// In-memory state: secrets being registered (per administrator). A restart forgets them: the
/// registration page then shows a new one.
#[derive(Default)]
pub struct MfaState {
    registering: Mutex<HashMap<i64, (TotpSecret, Instant)>>,
}

/// What the account page shows about an administrator's second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorStatus {
    /// When the authenticator was registered; `None` when there is none.
    pub registered_at: Option<String>,
    pub recovery_codes_left: i64,
}

/// Which kind of code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Authenticator,
    /// A recovery code, now used up; this many remain.
    RecoveryCode {
        left: i64,
    },
}

/// Which code of the registration form a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeField {
    /// The code of the authenticator being registered.
    Code,
    /// The code of the authenticator being replaced.
    Current,
}

/// What `admin reset-second-factor` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetReport {
    pub username: String,
    pub had_authenticator: bool,
    pub recovery_codes_removed: usize,
    pub sessions_ended: usize,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Fresh recovery codes and their digests (argon2, on a blocking thread).
async fn new_recovery_codes() -> Result<(Vec<RecoveryCode>, Vec<String>), Error> {
    blocking(|| {
        let codes = RecoveryCode::generate().map_err(|e| Error::Internal(e.to_string()))?;
        let digests = codes
            .iter()
            .map(|c| c.digest().map_err(|e| Error::Internal(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, Error>((codes, digests))
    })
    .await?
}

impl Directory {
    /// The text stored for an administrator's TOTP secret: sealed with the secrets key and
    /// bound to the administrator's id (purpose "admin-totp"), as users' secrets are
    /// (issue 13 items 2 and 5). The one place that writes it.
    fn store_admin_secret(&self, admin_id: i64, secret: &TotpSecret) -> Result<String, Error> {
        super::seal_totp(
            self.secrets_key(),
            crate::auth::seal::purpose::ADMIN_TOTP,
            &admin_id.to_string(),
            secret,
        )
    }

    /// The administrator's TOTP secret from its stored text (the inverse of
    /// [`Self::store_admin_secret`]).
    fn open_admin_secret(&self, admin_id: i64, stored: &str) -> Result<TotpSecret, Error> {
        super::open_totp(
            self.secrets_key(),
            crate::auth::seal::purpose::ADMIN_TOTP,
            &admin_id.to_string(),
            stored,
        )
    }

    pub async fn second_factor_status(&self, admin_id: i64) -> Result<SecondFactorStatus, Error> {
        let row = self
            .store
            .read(move |c| admins::second_factor(c, admin_id).map_err(Error::from))
            .await?
            .ok_or(Error::NotFound)?;
        Ok(SecondFactorStatus {
            registered_at: row.secret.and(row.registered_at),
            recovery_codes_left: row.recovery_codes_left,
        })
    }

    /// The secret to show on the registration page: the same one until it is confirmed or
    /// [`REGISTRATION_LIFETIME`] passes, so that a reload shows the QR code already scanned.
    pub fn registration_secret(&self, admin_id: i64) -> TotpSecret {
        let mut map = self
            .admin_mfa
            .registering
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        map.retain(|_, (_, at)| now.duration_since(*at) < REGISTRATION_LIFETIME);
        map.entry(admin_id)
            .or_insert_with(|| (TotpSecret::generate(), now))
            .0
            .clone()
    }

    fn pending_registration(&self, admin_id: i64) -> Option<TotpSecret> {
        let map = self
            .admin_mfa
            .registering
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.get(&admin_id)
            .filter(|(_, at)| at.elapsed() < REGISTRATION_LIFETIME)
            .map(|(s, _)| s.clone())
    }

    /// Checks a code of `admin_id`'s registered authenticator, or (with `recovery`) one of its
    /// recovery codes, which is then used up. Throttled per username like passwords: a wrong
    /// code counts as a failed sign-in. Errors: `SignIn(Throttled | WrongCode | CodeUsed)`.
    pub async fn check_admin_code(
        &self,
        admin_id: i64,
        username: &str,
        typed: &str,
        recovery: bool,
    ) -> Result<Accepted, Error> {
        if let Some(secs) = self.sign_in_throttle.wait(username, Instant::now()) {
            tracing::warn!(username, "second factor refused: too many failed attempts");
            return Err(Error::SignIn(SignInError::Throttled(secs)));
        }
        let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        let row = self
            .store
            .read(move |c| admins::second_factor(c, admin_id).map_err(Error::from))
            .await?
            .ok_or(Error::NotFound)?;
        let Some(stored) = row.secret else {
            return Err(Error::Invalid("no authenticator is registered".into()));
        };
        let result = if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let secret = self.open_admin_secret(admin_id, &stored)?;
            match secret.check(&digits, unix_now()) {
                None => Err(SignInError::WrongCode),
                Some(step) => {
                    let step = i64::try_from(step).unwrap_or(i64::MAX);
                    let fresh = self
                        .store
                        .write(move |c| {
                            admins::advance_step(c, admin_id, step).map_err(Error::from)
                        })
                        .await?;
                    if fresh {
                        Ok(Accepted::Authenticator)
                    } else {
                        Err(SignInError::CodeUsed)
                    }
                }
            }
        } else if let Some(code) = RecoveryCode::parse(typed).filter(|_| recovery) {
            let digests = self
                .store
                .read(move |c| admins::recovery_codes(c, admin_id).map_err(Error::from))
                .await?;
            let hit = blocking(move || {
                digests
                    .into_iter()
                    .find(|(_, d)| code.matches(d))
                    .map(|(id, _)| id)
            })
            .await?;
            match hit {
                None => Err(SignInError::WrongCode),
                Some(id) => {
                    let left = self
                        .store
                        .write(move |c| {
                            if !admins::use_recovery_code(c, id)? {
                                return Ok::<_, Error>(None);
                            }
                            Ok(admins::second_factor(c, admin_id)?.map(|r| r.recovery_codes_left))
                        })
                        .await?;
                    match left {
                        Some(left) => {
                            tracing::warn!(username, left, "admin recovery code used");
                            Ok(Accepted::RecoveryCode { left })
                        }
                        None => Err(SignInError::CodeUsed),
                    }
                }
            }
        } else {
            Err(SignInError::WrongCode)
        };
        match result {
            Ok(a) => Ok(a),
            Err(e) => {
                let n = self.sign_in_throttle.fail(username, Instant::now());
                tracing::warn!(username, failures = n, reason = %e, "wrong admin second-factor code");
                Err(Error::SignIn(e))
            }
        }
    }

    /// The code step of sign-in: the pending session behind `cookie` plus a right code give a
    /// full session under a NEW cookie (the pending one is deleted in the same transaction).
    pub async fn complete_sign_in(
        &self,
        cookie: &str,
        typed: &str,
        policy: SessionPolicy,
    ) -> Result<(NewSignIn, Accepted), Error> {
        let Some(pending) = self.session(cookie, policy).await?.filter(|s| s.pending) else {
            return Err(Error::SignIn(SignInError::Expired));
        };
        let accepted = self
            .check_admin_code(pending.admin_id, &pending.username, typed, true)
            .await?;
        self.sign_in_throttle.succeed(&pending.username);
        let new = self
            .open_session(
                pending.admin_id,
                &pending.username,
                false,
                policy,
                Some(cookie),
            )
            .await?;
        tracing::info!(username = %pending.username, with = ?accepted, "admin signed in with a second factor");
        Ok((new, accepted))
    }

    /// Registers the authenticator shown by [`Self::registration_secret`] once `code` (from
    /// it) is right; replacing a registered one needs `current`, a code of the old one. Returns
    /// ten new recovery codes (the old ones stop working). A refusal names the field it is
    /// about: `Current` (`SignIn(WrongCode | CodeUsed | Throttled)`), or `Code` (`Invalid` when
    /// the secret shown expired, `SignIn(WrongCode | Throttled)`). Wrong codes are counted.
    pub async fn register_second_factor(
        &self,
        admin_id: i64,
        username: &str,
        code: &str,
        current: Option<&str>,
    ) -> Result<Vec<RecoveryCode>, (CodeField, Error)> {
        let Some(secret) = self.pending_registration(admin_id) else {
            return Err((
                CodeField::Code,
                Error::Invalid("the key shown has expired; scan the new QR code".into()),
            ));
        };
        if let Some(secs) = self.sign_in_throttle.wait(username, Instant::now()) {
            return Err((CodeField::Code, Error::SignIn(SignInError::Throttled(secs))));
        }
        let status = self
            .second_factor_status(admin_id)
            .await
            .map_err(|e| (CodeField::Code, e))?;
        let replacing = status.registered_at.is_some();
        if replacing {
            self.check_admin_code(admin_id, username, current.unwrap_or_default(), false)
                .await
                .map_err(|e| (CodeField::Current, e))?;
        }
        let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let Some(step) = secret.check(&digits, unix_now()) else {
            let n = self.sign_in_throttle.fail(username, Instant::now());
            tracing::warn!(
                username,
                failures = n,
                "wrong code while registering an admin authenticator"
            );
            return Err((CodeField::Code, Error::SignIn(SignInError::WrongCode)));
        };
        let step = i64::try_from(step).unwrap_or(i64::MAX);
        let stored = self
            .store_admin_secret(admin_id, &secret)
            .map_err(|e| (CodeField::Code, e))?;
        let done = async {
            let (codes, digests) = new_recovery_codes().await?;
            self.store
                .write(move |c| {
                    admins::set_second_factor(c, admin_id, &stored, step, &now(), &digests)
                        .map_err(Error::from)
                })
                .await?;
            Ok::<_, Error>(codes)
        };
        let codes = done.await.map_err(|e| (CodeField::Code, e))?;
        self.admin_mfa
            .registering
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&admin_id);
        self.sign_in_throttle.succeed(username);
        if replacing {
            tracing::info!(
                username,
                "admin authenticator replaced; new recovery codes issued"
            );
        } else {
            tracing::info!(
                username,
                "admin authenticator registered; recovery codes issued"
            );
        }
        Ok(codes)
    }

    /// New recovery codes (the old ones stop working), given a code of the authenticator.
    pub async fn regenerate_recovery_codes(
        &self,
        admin_id: i64,
        username: &str,
        code: &str,
    ) -> Result<Vec<RecoveryCode>, Error> {
        self.check_admin_code(admin_id, username, code, false)
            .await?;
        let (codes, digests) = new_recovery_codes().await?;
        self.store
            .write(move |c| {
                admins::replace_recovery_codes(c, admin_id, &digests, &now()).map_err(Error::from)
            })
            .await?;
        tracing::info!(username, "admin recovery codes regenerated");
        Ok(codes)
    }

    /// Removes the administrator's authenticator and recovery codes, given a code of it.
    pub async fn remove_second_factor(
        &self,
        admin_id: i64,
        username: &str,
        code: &str,
    ) -> Result<(), Error> {
        self.check_admin_code(admin_id, username, code, false)
            .await?;
        self.store
            .write(move |c| admins::clear_second_factor(c, admin_id).map_err(Error::from))
            .await?;
        tracing::info!(username, "admin authenticator removed by its administrator");
        Ok(())
    }

    /// `scimgate admin reset-second-factor`: removes an administrator's authenticator and
    /// recovery codes and ends their sessions. `NotFound` for an unknown username.
    pub async fn reset_second_factor(&self, username: &str) -> Result<ResetReport, Error> {
        let lookup = username.trim().to_owned();
        let report = self
            .store
            .write(move |c| {
                let admin = admins::find_by_username(c, &lookup)?.ok_or(Error::NotFound)?;
                let (had, codes) = admins::clear_second_factor(c, admin.id)?;
                let sessions = admins::delete_sessions_of(c, admin.id)?;
                Ok::<_, Error>(ResetReport {
                    username: admin.username,
                    had_authenticator: had,
                    recovery_codes_removed: codes,
                    sessions_ended: sessions,
                })
            })
            .await?;
        tracing::warn!(
            username = %report.username,
            had_authenticator = report.had_authenticator,
            recovery_codes_removed = report.recovery_codes_removed,
            sessions_ended = report.sessions_ended,
            "admin second factor reset by the operator"
        );
        Ok(report)
    }
}
