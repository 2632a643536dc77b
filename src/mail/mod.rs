//! Outgoing email over SMTP (lettre): the transport built from `[smtp]`, and one send that
//! classifies failures as temporary (retry later) or permanent. Knows nothing of users, the
//! database or HTTP; `directory` decides what to send and when.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Smtp, SmtpTls};

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth retrying: a 4xx answer, connection refused, a timeout.
    #[error("{0}")]
    Temporary(String),
    /// Retrying will not help: a 5xx answer, an invalid address.
    #[error("{0}")]
    Permanent(String),
}

/// A configuration problem, found when the mailer is built.
#[derive(Debug, thiserror::Error)]
#[error("smtp: {0}")]
pub struct MailConfigError(String);

/// An email to send: plain text.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// The SMTP transport of `[smtp]`. Cheap to clone (a shared connection pool).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for messages.
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer({} from {})", self.server, self.from)
    }
}

impl Mailer {
    /// The mailer of `[smtp]`; `None` when `smtp.host` is empty (email is off).
    pub fn from_config(c: &Smtp) -> Result<Option<Mailer>, MailConfigError> {
        if c.host.is_empty() {
            return Ok(None);
        }
        let from: Mailbox = c
            .from
            .parse()
            .map_err(|e| MailConfigError(format!("from '{}': {e}", c.from)))?;
        let tls = match c.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls | SmtpTls::Tls => {
                let params = TlsParameters::new(c.host.clone())
                    .map_err(|e| MailConfigError(format!("TLS for {}: {e}", c.host)))?;
                if c.tls == SmtpTls::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host)
            .port(c.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(c.timeout_secs)));
        if !c.username.is_empty() {
            let password = c
                .password()
                .map_err(|e| MailConfigError(format!("password_file: {e}")))?;
            b = b.credentials(Credentials::new(c.username.clone(), password));
        }
        Ok(Some(Mailer {
            transport: b.build(),
            from,
            server: format!("{}:{}", c.host, c.port),
        }))
    }

    /// `host:port` of the SMTP server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Sends one message; `Ok` carries the server's answer (e.g. `250 2.0.0 Ok: queued`).
    pub async fn send(&self, email: &Email) -> Result<String, SendError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|e| SendError::Permanent(format!("invalid recipient '{}': {e}", email.to)))?;
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone())
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        match self.transport.send(msg).await {
            Ok(resp) => Ok(format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// 5xx answers are permanent (RFC 5321 §4.2.1); everything else (4xx, refused connections,
/// timeouts, TLS trouble that may be transient) is retried.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = error_text(e);
    if e.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Temporary(text)
    }
}

/// The error with its causes, e.g. `permanent error (550): 5.1.1 no such user`.
fn error_text(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}
