//! Verification of a one-time code for the MFA service (`POST /api/v1/verify`): the user is
//! found by userName or alias (the one login-name resolver), must be active and enrolled, and
//! the code must match its authenticator (RFC 6238, ± one 30-second step) and not have been
//! accepted before (RFC 6238 §5.2). Throttle: after [`MAX_FAILURES`] wrong codes in a row a
//! user's codes are not checked for [`LOCKOUT`]; every answer in that time is a denial.

use std::time::Duration;

use time::OffsetDateTime;

use crate::auth::seal::purpose;
use crate::directory::{Directory, Error, format_time, now, open_totp};
use crate::store::{enrollment, users};

/// Wrong codes in a row before the user is locked out.
pub const MAX_FAILURES: i64 = 5;
/// How long a lock-out lasts.
pub const LOCKOUT: Duration = Duration::from_secs(5 * 60);

/// The answer to a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Deny(DenyReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// No user has this userName or alias.
    UnknownUser,
    /// The user is deactivated.
    Inactive,
    /// The user has not registered an authenticator.
    NotEnrolled,
    /// Too many wrong codes: locked out for a while.
    Throttled,
    /// The code is wrong (or not 6 digits).
    InvalidCode,
    /// The code was right but has been accepted before.
    CodeReused,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DenyReason::UnknownUser => "unknown_user",
            DenyReason::Inactive => "user_inactive",
            DenyReason::NotEnrolled => "not_enrolled",
            DenyReason::Throttled => "too_many_attempts",
            DenyReason::InvalidCode => "invalid_code",
            DenyReason::CodeReused => "code_reused",
        }
    }
}

impl Directory {
    /// Verifies `code` for the user `login` (userName or alias) now.
    pub async fn verify_code(&self, login: &str, code: &str) -> Result<Verdict, Error> {
        let (login, code) = (login.to_owned(), code.trim().to_owned());
        let at = OffsetDateTime::now_utc();
        let t = u64::try_from(at.unix_timestamp()).unwrap_or(0);
        let key = self.secrets.clone();
        self.store
            .write(move |tx| {
                let deny = |r| Ok(Verdict::Deny(r));
                let Some(user) = users::find_by_login(tx, &login)? else {
                    return deny(DenyReason::UnknownUser);
                };
                if user.doc.get("active").and_then(serde_json::Value::as_bool) == Some(false) {
                    return deny(DenyReason::Inactive);
                }
                let Some(a) = enrollment::authenticator_state(tx, user.seq)? else {
                    return deny(DenyReason::NotEnrolled);
                };
                let now_text = now();
                if a.locked_until.as_deref().is_some_and(|u| u > now_text.as_str()) {
                    return deny(DenyReason::Throttled);
                }
                let secret = open_totp(&key, purpose::TOTP, &user.id, &a.secret)?;
                match secret.check(&code, t) {
                    Some(step) if i64::try_from(step).unwrap_or(i64::MAX) <= a.last_step => {
                        deny(DenyReason::CodeReused)
                    }
                    Some(step) => {
                        enrollment::record_success(tx, user.seq, step)?;
                        Ok(Verdict::Allow)
                    }
                    None => {
                        let failures = a.failures + 1;
                        if failures >= MAX_FAILURES {
                            let until = format_time(at + LOCKOUT);
                            tracing::warn!(user = %user.id, until = %until, "too many wrong codes: locked out");
                            enrollment::record_failure(tx, user.seq, 0, Some(&until))?;
                        } else {
                            enrollment::record_failure(tx, user.seq, failures, None)?;
                        }
                        deny(DenyReason::InvalidCode)
                    }
                }
            })
            .await
    }
}
