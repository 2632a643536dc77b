//! Outgoing email over SMTP (lettre): the transport built from `[smtp]`, and one send that
//! classifies failures as temporary (retry later) or permanent. Knows nothing of users, the
//! database or HTTP; `directory` decides what to send and when.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
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

/// An email to send: a text part, and an HTML part with the same content. Sent as
/// `multipart/alternative` (RFC 2046 §5.1.4), text first so that clients which show the
/// last part they understand pick the HTML.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The SMTP transport of `[smtp]`. Cheap to clone (a shared connection pool).
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for messages.
    server: String,
    /// The right-hand side of each `Message-ID`: the public URL's host (RFC 5322 §3.6.4 asks
    /// for a domain the sender controls; the machine's own hostname is often `localhost`).
    id_domain: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer({} from {})", self.server, self.from)
    }
}

impl Mailer {
    /// The mailer of `[smtp]`; `None` when `smtp.host` is empty (email is off). `public_url`
    /// (`server.public_url`) names the domain of the messages' `Message-ID`s.
    pub fn from_config(c: &Smtp, public_url: &str) -> Result<Option<Mailer>, MailConfigError> {
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
            id_domain: message_id_domain(public_url),
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
        let id = message_id(&self.id_domain)
            .map_err(|e| SendError::Temporary(format!("no random bytes for a Message-ID: {e}")))?;
        // `multipart` adds `MIME-Version: 1.0`; `Date` is the moment of sending (RFC 5322
        // §3.6.1), so a retried message carries the time it finally left.
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(id))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
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

/// The host of `public_url`, e.g. `mfa.example.com` for `https://mfa.example.com:8443/`;
/// `scimgate.invalid` (RFC 2606) when it has none.
fn message_id_domain(public_url: &str) -> String {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        // An IPv6 literal: RFC 5322 domain-literal form.
        return v6
            .split_once(']')
            .map(|(a, _)| format!("[IPv6:{a}]"))
            .unwrap_or_else(|| "scimgate.invalid".to_owned());
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.is_empty() {
        "scimgate.invalid".to_owned()
    } else {
        host.to_ascii_lowercase()
    }
}

/// `<128 random bits in hex @ domain>`: unique without a counter (RFC 5322 §3.6.4).
fn message_id(domain: &str) -> Result<String, rand::rngs::SysError> {
    use rand::TryRng;
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng.try_fill_bytes(&mut bytes)?;
    Ok(format!("<{}@{domain}>", hex::encode(bytes)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_at_the_public_host() {
        assert_eq!(
            message_id_domain("https://MFA.example.com:8443/x"),
            "mfa.example.com"
        );
        assert_eq!(message_id_domain("http://10.0.0.5"), "10.0.0.5");
        assert_eq!(message_id_domain("https://[::1]:8443"), "[IPv6:::1]");
        assert_eq!(message_id_domain(""), "scimgate.invalid");
        let a = message_id("mfa.example.com").expect("random");
        let b = message_id("mfa.example.com").expect("random");
        assert!(
            a.starts_with('<') && a.ends_with("@mfa.example.com>"),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
