//! Enrollment emails through the outbox (issue 7). A message is queued in the same write job
//! as the user it is about, so a user is never created without its email being recorded, and
//! a crash never loses one. The drainer (`drain_once`, run in a loop by `app`) sends due
//! messages one at a time, oldest first: an accepted message is marked sent; a temporary
//! failure (4xx, connection refused, timeout) is retried after an exponential backoff with
//! jitter; a permanent failure (5xx) or the last allowed attempt marks it failed with the
//! server's answer. Delivery is at least once: a crash between the server's `250` and the
//! commit of "sent" sends that one message again after the restart.

use std::time::Duration;

use rand::RngExt;
use serde_json::Value;
use time::OffsetDateTime;

use crate::directory::{Directory, Error, format_time, now};
use crate::mail::{Email, Mailer, SendError};
use crate::scim::resource::Document;
use crate::store::Tx;
use crate::store::outbox::{self, OutboxRow};
use crate::store::users;

/// How delivery is retried, and what the emails link to.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Attempts before a message is marked failed.
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each further one.
    pub retry_base: Duration,
    /// The appliance's public URL: enrollment links start with it.
    pub public_url: String,
    /// How long an enrollment link stays valid.
    pub link_lifetime: Duration,
}

/// The longest wait between two attempts.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(6 * 60 * 60);

/// Messages one `drain_once` sends at most (the loop calls it again at once when it was full).
pub const DRAIN_BATCH: i64 = 50;

/// What one pass of the drainer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

impl DrainReport {
    pub fn attempted(&self) -> usize {
        self.sent + self.retrying + self.failed
    }
}

/// A queued email, as the admin pages and the CLI show it.
pub type OutboxMessage = OutboxRow;

/// The wait before attempt `attempts + 1`, given `attempts` failed ones (>= 1): base·2^(n-1),
/// at most [`MAX_RETRY_WAIT`], plus up to 25 % random jitter so that many messages failing
/// together do not retry in lock-step.
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(20);
    let wait = base.saturating_mul(1 << exp).min(MAX_RETRY_WAIT);
    let jitter = rand::rng().random_range(0.0..0.25);
    wait.mul_f64(1.0 + jitter)
}

/// The address an enrollment email goes to: the primary email, else the work email, else
/// the first (RFC 7643 §4.1.2 `emails`).
pub fn enrollment_address(doc: &Document) -> Option<String> {
    let emails: Vec<&Value> = doc
        .get("emails")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let value = |e: &&Value| {
        e.get("value")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let pick = |f: &dyn Fn(&&Value) -> bool| emails.iter().filter(|e| f(e)).find_map(value);
    pick(&|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            pick(&|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| pick(&|_| true))
}

fn is_active(doc: &Document) -> bool {
    doc.get("active").and_then(Value::as_bool).unwrap_or(true)
}

/// Why a user would get no enrollment email, `None` when one is due.
pub fn no_email_reason(doc: &Document, sends: bool) -> Option<&'static str> {
    if !sends {
        Some("the integration that created the user does not have Send enrollment emails on")
    } else if !is_active(doc) {
        Some("the user is deactivated")
    } else if enrollment_address(doc).is_none() {
        Some("the user has no email address")
    } else {
        None
    }
}

/// Queues the enrollment email of a just-created user, inside the creating write job, when
/// the creating integration sends them. Returns whether a message was queued.
pub(crate) fn enqueue_enrollment(
    tx: &mut Tx<'_>,
    sends: bool,
    user_seq: i64,
    doc: &Document,
) -> Result<bool, Error> {
    if no_email_reason(doc, sends).is_some() {
        return Ok(false);
    }
    let Some(to) = enrollment_address(doc) else {
        return Ok(false);
    };
    outbox::insert(tx, "enrollment", Some(user_seq), &to, &now())?;
    Ok(true)
}

/// The HTML part of the enrollment email (askama escapes the IdP's names and the link).
#[derive(askama::Template)]
#[template(path = "mail/enrollment.html")]
struct EnrollmentHtml<'a> {
    greeting: &'a str,
    user_name: &'a str,
    link: &'a str,
    hours: u64,
}

/// The HTML part of the test email.
#[derive(askama::Template)]
#[template(path = "mail/test.html")]
struct TestHtml<'a> {
    public_url: &'a str,
}

/// The enrollment email of a user, with its one-time link: the same words as text and HTML.
fn enrollment_email(
    to: &str,
    doc: &Document,
    link: &str,
    lifetime: Duration,
) -> Result<Email, askama::Error> {
    let user_name = doc.get("userName").and_then(Value::as_str).unwrap_or("");
    let greeting = doc
        .get("displayName")
        .and_then(Value::as_str)
        .or_else(|| {
            doc.get("name")
                .and_then(|n| n.get("givenName"))
                .and_then(Value::as_str)
        })
        .unwrap_or(user_name);
    let hours = lifetime.as_secs() / 3600;
    let html = askama::Template::render(&EnrollmentHtml {
        greeting,
        user_name,
        link,
        hours,
    })?;
    Ok(Email {
        to: to.to_owned(),
        subject: "Set up your sign-in verification".into(),
        text: format!(
            "Hello {greeting},\r\n\r\n\
             An account with the user name {user_name} has been created for you in the \
             multi-factor authentication service. To set up your authenticator app, open \
             this link:\r\n\r\n{link}\r\n\r\n\
             The link works once and expires in {hours} hours. You need an authenticator app \
             on your phone (for example Google Authenticator, Microsoft Authenticator or \
             FreeOTP).\r\n\r\n\
             If you did not expect this email, tell your IT department.\r\n"
        ),
        html,
    })
}

impl Directory {
    /// Wakes the drainer (after a message was queued).
    pub fn wake_mail(&self) {
        self.mail_wake.notify_one();
    }

    /// Waits until a message is queued or `timeout` passes.
    pub async fn mail_queued(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.mail_wake.notified()).await;
    }

    /// One pass of the drainer at the current time.
    pub async fn drain_once(&self, mailer: &Mailer, d: &Delivery) -> Result<DrainReport, Error> {
        self.drain_once_at(mailer, d, OffsetDateTime::now_utc())
            .await
    }

    /// One pass of the drainer as if it were `at`: sends the messages due then (tests step
    /// time forward with it instead of sleeping through a backoff).
    pub async fn drain_once_at(
        &self,
        mailer: &Mailer,
        d: &Delivery,
        at: OffsetDateTime,
    ) -> Result<DrainReport, Error> {
        let at_text = format_time(at);
        let due = self
            .store
            .read(move |tx| {
                let rows = outbox::due(tx, &at_text, DRAIN_BATCH)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let doc = match r.user_seq {
                        Some(seq) => users::find_by_seq(tx, seq)?.map(|u| u.doc),
                        None => None,
                    };
                    out.push((r, doc));
                }
                Ok::<_, Error>(out)
            })
            .await?;
        let mut report = DrainReport::default();
        for (row, doc) in due {
            let Some(doc) = doc else {
                // Not an enrollment message of a live user: nothing this drainer can render.
                self.record(
                    row.id,
                    Err(SendError::Permanent(format!(
                        "cannot render a '{}' message without its user",
                        row.kind
                    ))),
                    d,
                    at,
                    row.attempts,
                )
                .await?;
                report.failed += 1;
                continue;
            };
            // A fresh link per attempt: only the digest is stored, so the token exists only in
            // the message being sent (and replaces the link of any earlier attempt).
            // Checked again in the same job: a deactivation since the read cancelled it.
            let (seq, lifetime, id) = (row.user_seq.unwrap_or_default(), d.link_lifetime, row.id);
            let token = self
                .store
                .write(move |tx| {
                    if outbox::find(tx, id)?.is_none_or(|r| r.status != "pending") {
                        return Ok::<_, Error>(None);
                    }
                    crate::directory::enroll::issue_link(tx, seq, lifetime).map(Some)
                })
                .await?;
            let Some(token) = token else { continue };
            let link = format!("{}/enroll/{token}", d.public_url);
            let result = match enrollment_email(&row.recipient, &doc, &link, d.link_lifetime) {
                Ok(email) => mailer.send(&email).await,
                Err(e) => Err(SendError::Permanent(format!(
                    "cannot render the message: {e}"
                ))),
            };
            match &result {
                Ok(answer) => {
                    tracing::info!(message = row.id, to = %row.recipient, %answer, "enrollment email sent");
                    report.sent += 1;
                }
                Err(e) => {
                    tracing::warn!(message = row.id, to = %row.recipient, error = %e, attempt = row.attempts + 1, "enrollment email not sent");
                }
            }
            let outcome = self.record(row.id, result, d, at, row.attempts).await?;
            match outcome {
                Outcome::Sent => {}
                Outcome::Retry => report.retrying += 1,
                Outcome::Failed => report.failed += 1,
            }
        }
        Ok(report)
    }

    async fn record(
        &self,
        id: i64,
        result: Result<String, SendError>,
        d: &Delivery,
        at: OffsetDateTime,
        attempts_before: i64,
    ) -> Result<Outcome, Error> {
        let attempts = u32::try_from(attempts_before + 1).unwrap_or(u32::MAX);
        let (outcome, next) = match &result {
            Ok(_) => (Outcome::Sent, String::new()),
            Err(SendError::Temporary(_)) if attempts < d.max_attempts => {
                let wait = backoff(d.retry_base, attempts);
                (Outcome::Retry, format_time(at + wait))
            }
            Err(_) => (Outcome::Failed, String::new()),
        };
        self.store
            .write(move |tx| {
                match (&outcome, result) {
                    (_, Ok(_)) => outbox::mark_sent(tx, id, &now())?,
                    (Outcome::Retry, Err(e)) => outbox::mark_retry(tx, id, &next, &e.to_string())?,
                    (_, Err(SendError::Temporary(e))) => outbox::mark_failed(
                        tx,
                        id,
                        &format!("gave up after {attempts} attempts: {e}"),
                    )?,
                    (_, Err(e)) => outbox::mark_failed(tx, id, &e.to_string())?,
                }
                Ok::<_, Error>(())
            })
            .await?;
        Ok(outcome)
    }

    /// The newest queued emails first (at most `limit`, 1 to 1000), only those with
    /// `status` (`pending`, `sent`, `failed`, `cancelled`) when given.
    pub async fn list_outbox(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, Error> {
        if let Some(s) = status
            && !["pending", "sent", "failed", "cancelled"].contains(&s)
        {
            return Err(Error::Invalid(format!(
                "'{s}' is not a status: pending, sent, failed or cancelled"
            )));
        }
        let status = status.map(str::to_owned);
        let limit = limit.clamp(1, 1000);
        self.store
            .read(move |tx| Ok(outbox::list(tx, status.as_deref(), limit)?))
            .await
    }

    /// Counts of (pending, sent, failed) messages.
    pub async fn outbox_counts(&self) -> Result<(i64, i64, i64), Error> {
        self.store.read(|tx| Ok(outbox::counts(tx)?)).await
    }

    /// Puts a failed or cancelled message back in the queue, due now.
    pub async fn retry_message(&self, id: i64) -> Result<(), Error> {
        let done = self
            .store
            .write(move |tx| {
                if outbox::find(tx, id)?.is_none() {
                    return Err(Error::NotFound);
                }
                Ok(outbox::requeue(tx, id, &now())?)
            })
            .await?;
        if !done {
            return Err(Error::Invalid(
                "only a failed or cancelled message can be retried".into(),
            ));
        }
        self.wake_mail();
        Ok(())
    }

    /// Queues a new enrollment email for the user with id `user_id` (an administrator's
    /// "resend"), whatever the creating integration's setting: refused for a deactivated
    /// user or one without an email address.
    pub async fn resend_enrollment(&self, user_id: &str) -> Result<i64, Error> {
        let user_id = user_id.to_owned();
        let id = self
            .store
            .write(move |tx| {
                let row = users::find_by_id(tx, &user_id)?.ok_or(Error::NotFound)?;
                if let Some(reason) = no_email_reason(&row.doc, true) {
                    return Err(Error::Invalid(format!("cannot send: {reason}")));
                }
                let to = enrollment_address(&row.doc).unwrap_or_default();
                Ok(outbox::insert(
                    tx,
                    "enrollment",
                    Some(row.seq),
                    &to,
                    &now(),
                )?)
            })
            .await?;
        self.wake_mail();
        Ok(id)
    }

    /// The enrollment emails of a user, newest first, and, when there are none, why.
    pub async fn user_email_status(
        &self,
        user_id: &str,
    ) -> Result<(Vec<OutboxMessage>, Option<String>), Error> {
        let user_id = user_id.to_owned();
        self.store
            .read(move |tx| {
                let row = users::find_by_id(tx, &user_id)?.ok_or(Error::NotFound)?;
                let messages = outbox::of_user(tx, row.seq)?;
                if !messages.is_empty() {
                    return Ok((messages, None));
                }
                let sends = match &row.source {
                    None => {
                        return Ok((
                            messages,
                            Some("the user was created by an administrator, not by an integration".into()),
                        ));
                    }
                    Some(src) => crate::store::integrations::find(tx, src)?
                        .is_some_and(|i| i.send_enrollment_emails),
                };
                let reason = no_email_reason(&row.doc, sends).unwrap_or(
                    "the integration's Send enrollment emails setting was off when the user was created",
                );
                Ok((messages, Some(reason.to_owned())))
            })
            .await
    }
}

/// Sends a test email now (not through the outbox) and returns the server's answer, for
/// `scimgate mail test` and the Settings page.
pub async fn send_test_email(
    mailer: &Mailer,
    to: &str,
    public_url: &str,
) -> Result<String, SendError> {
    let html = askama::Template::render(&TestHtml { public_url })
        .map_err(|e| SendError::Permanent(format!("cannot render the message: {e}")))?;
    mailer
        .send(&Email {
            to: to.to_owned(),
            subject: "scimgate test email".into(),
            text: format!(
                "This is a test email from the scimgate appliance at {public_url}: its SMTP \
                 settings work.\r\n"
            ),
            html,
        })
        .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retry,
    Failed,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Document {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn address_prefers_primary_then_work_then_first() {
        let d = doc(json!({"emails": [
            {"value": "a@x.test", "type": "home"},
            {"value": "w@x.test", "type": "work"},
            {"value": "p@x.test", "type": "home", "primary": true}]}));
        assert_eq!(enrollment_address(&d).as_deref(), Some("p@x.test"));
        let d = doc(json!({"emails": [
            {"value": "a@x.test", "type": "home"},
            {"value": "w@x.test", "type": "Work"}]}));
        assert_eq!(enrollment_address(&d).as_deref(), Some("w@x.test"));
        let d = doc(json!({"emails": [{"value": "a@x.test"}]}));
        assert_eq!(enrollment_address(&d).as_deref(), Some("a@x.test"));
        assert_eq!(enrollment_address(&doc(json!({}))), None);
        assert_eq!(
            enrollment_address(&doc(json!({"emails": [{"value": " "}]}))),
            None
        );
    }

    #[test]
    fn reasons() {
        let with = doc(json!({"emails": [{"value": "a@x.test"}]}));
        assert_eq!(no_email_reason(&with, true), None);
        assert!(no_email_reason(&with, false).is_some());
        let inactive = doc(json!({"active": false, "emails": [{"value": "a@x.test"}]}));
        assert_eq!(
            no_email_reason(&inactive, true),
            Some("the user is deactivated")
        );
        assert_eq!(
            no_email_reason(&doc(json!({})), true),
            Some("the user has no email address")
        );
    }

    #[test]
    fn backoff_doubles_with_bounded_jitter_and_a_cap() {
        let base = Duration::from_secs(30);
        for (n, expect) in [(1u32, 30u64), (2, 60), (3, 120), (5, 480)] {
            let w = backoff(base, n);
            assert!(w >= Duration::from_secs(expect), "{n}: {w:?}");
            assert!(w <= Duration::from_secs(expect).mul_f64(1.25), "{n}: {w:?}");
        }
        let w = backoff(base, 40);
        assert!(w >= MAX_RETRY_WAIT && w <= MAX_RETRY_WAIT.mul_f64(1.25));
    }
}
