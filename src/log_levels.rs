//! Log levels that mean something (issue 14 item 4): ERROR says the server is at fault, never
//! the client. actix-http ends every HTTP/1 connection that failed with one line at ERROR,
//! `stream error: {DispatchError}` (target `actix_http::h1::dispatcher`, actix-http 3.x,
//! `h1/dispatcher.rs`), whoever caused the failure. A client causes most of them: a malformed
//! request line, an unknown HTTP version, an invalid header, a head over 128 KiB, a broken
//! chunked body (`request parse error: …`, answered 400 or 431), a request it never finishes
//! (`request did not complete within the specified timeout`, 408), a connection it does not
//! close or resets (`connection shutdown timeout`, `I/O error: …`), a body the handler had no
//! use for (`handler dropped payload before reading EOF`). [`ClientFaultsBelowError`] writes
//! those lines at DEBUG instead, same target and text, so they stay available to whoever turns
//! `actix_http=debug` on and cannot be written at will by anyone who can open a socket. The
//! other `stream error` kinds (`service error`, `body error`, `upgrade error`, `internal error`)
//! and every other actix line stay at ERROR: those are faults of this server.
//! Uses nothing from the other layers.

use std::fmt;

use tracing::callsite::{Callsite, Identifier};
use tracing::field::{Field, FieldSet, Visit};
use tracing::metadata::Kind;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The target of actix-http's HTTP/1 dispatcher, whose `stream error` line is re-levelled.
const DISPATCHER: &str = "actix_http::h1::dispatcher";
/// How that line begins (`error!("stream error: {}", &err)`).
const STREAM_ERROR: &str = "stream error: ";

/// The `Display` beginnings of the `actix_http::error::DispatchError` variants a client causes.
const CLIENT_FAULTS: [&str; 5] = [
    "request parse error: ",
    "request did not complete within the specified timeout",
    "connection shutdown timeout",
    "I/O error: ",
    "handler dropped payload before reading EOF",
];

/// Whether an actix-http ERROR event's message reports a client's fault.
pub fn is_client_fault(target: &str, message: &str) -> bool {
    target == DISPATCHER
        && message
            .strip_prefix(STREAM_ERROR)
            .is_some_and(|kind| CLIENT_FAULTS.iter().any(|c| kind.starts_with(c)))
}

/// A layer over the whole subscriber: it drops actix-http's ERROR line for a client's fault and
/// hands the subscriber beneath the same message at DEBUG, if that level is enabled for the
/// target. Add it last (`subscriber.with(ClientFaultsBelowError)`), so that what lies beneath
/// is the formatter and its filter.
pub struct ClientFaultsBelowError;

impl ClientFaultsBelowError {
    /// Registers the DEBUG callsite with the installed subscriber; call once after installing it,
    /// so that filters that cache per-callsite interest know it.
    pub fn register_callsite() {
        tracing::callsite::register(&RELEVELED_CALLSITE);
    }
}

impl<S: Subscriber> Layer<S> for ClientFaultsBelowError {
    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        let meta = event.metadata();
        if *meta.level() != Level::ERROR || meta.target() != DISPATCHER {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if !is_client_fault(meta.target(), &message.0) {
            return true;
        }
        if ctx.enabled(&RELEVELED) {
            let fields = RELEVELED.fields();
            if let Some(field) = fields.field("message") {
                let text: &str = &message.0;
                let values = [(&field, Some(&text as &dyn tracing::Value))];
                ctx.event(&Event::new(&RELEVELED, &fields.value_set(&values)));
            }
        }
        false
    }
}

/// Collects an event's `message` field.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}

/// The callsite of the re-levelled line: actix-http's target and message, at DEBUG.
struct ReleveledCallsite;

static RELEVELED_CALLSITE: ReleveledCallsite = ReleveledCallsite;

static RELEVELED: Metadata<'static> = Metadata::new(
    "client error on an HTTP connection",
    DISPATCHER,
    Level::DEBUG,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    FieldSet::new(&["message"], Identifier(&RELEVELED_CALLSITE)),
    Kind::EVENT,
);

impl Callsite for ReleveledCallsite {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &RELEVELED
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[test]
    fn client_faults_are_told_from_server_faults() {
        for client in [
            "stream error: request parse error: invalid Header provided",
            "stream error: request parse error: message head is too large",
            "stream error: request parse error: invalid HTTP version specified",
            "stream error: request did not complete within the specified timeout",
            "stream error: connection shutdown timeout",
            "stream error: I/O error: Connection reset by peer (os error 104)",
            "stream error: handler dropped payload before reading EOF",
        ] {
            assert!(is_client_fault(DISPATCHER, client), "{client}");
        }
        for server in [
            "stream error: service error",
            "stream error: body error: template failed",
            "stream error: upgrade error",
            "stream error: internal error",
            "Response payload stream error: oops",
            "Internal server error: unexpected payload chunk",
        ] {
            assert!(!is_client_fault(DISPATCHER, server), "{server}");
        }
        assert!(!is_client_fault(
            "scimgate::web",
            "stream error: request parse error: invalid Header provided"
        ));
    }

    /// A writer the formatter writes into, for the test to read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The lines a subscriber with `directives` writes for actix-http's two ERROR lines: a
    /// client's fault and a server's.
    fn lines_with(directives: &str) -> Vec<String> {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(directives))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
            .with(ClientFaultsBelowError);
        tracing::subscriber::with_default(subscriber, || {
            ClientFaultsBelowError::register_callsite();
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: {}", "request parse error: invalid Header provided");
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: {}", "body error: broken");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_client_fault_is_written_at_debug_and_a_server_fault_at_error() {
        let lines = lines_with("debug");
        assert_eq!(lines.len(), 2, "{lines:#?}");
        assert!(
            lines[0].contains(" DEBUG actix_http::h1::dispatcher: stream error: request parse error: invalid Header provided"),
            "{lines:#?}"
        );
        assert!(
            lines[1]
                .contains(" ERROR actix_http::h1::dispatcher: stream error: body error: broken"),
            "{lines:#?}"
        );

        let lines = lines_with("info");
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(lines[0].contains(" ERROR "), "{lines:#?}");
    }

    /// The JSON format (issue 16 item 5) keeps the re-levelling.
    #[test]
    fn the_json_format_is_relevelled_too() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || writer.clone())
            .json()
            .finish()
            .with(ClientFaultsBelowError);
        tracing::subscriber::with_default(subscriber, || {
            ClientFaultsBelowError::register_callsite();
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: {}", "request parse error: invalid Header provided");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "{lines:#?}");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["level"], "DEBUG", "{text}");
        assert_eq!(v["target"], DISPATCHER, "{text}");
        assert_eq!(
            v["fields"]["message"],
            "stream error: request parse error: invalid Header provided"
        );
    }
}
