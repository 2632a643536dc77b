//! Enrollment emails through the outbox, against a real SMTP server (the test sink): queued
//! in the user-creation job, sent once, retried through outages and 4xx answers, failed on
//! 5xx with the server's answer, bounded attempts, and resumed after a restart.

use std::time::Duration;

use scimgate::config::{Smtp, SmtpTls};
use scimgate::directory::outbox::Delivery;
use scimgate::directory::{Directory, Integration, SettingsChange};
use scimgate::mail::Mailer;
use scimgate::store::WriterThread;
use serde_json::json;
use time::OffsetDateTime;

use crate::support::smtp::{Mode, SmtpSink};
use crate::support::*;

pub fn smtp_to(sink: &SmtpSink) -> Smtp {
    Smtp {
        host: "127.0.0.1".into(),
        port: sink.addr.port(),
        tls: SmtpTls::None,
        from: "MFA <mfa@example.test>".into(),
        timeout_secs: 5,
        ..Smtp::default()
    }
}

pub fn mailer(sink: &SmtpSink) -> Mailer {
    Mailer::from_config(&smtp_to(sink), "https://mfa.example.test")
        .unwrap()
        .unwrap()
}

pub fn delivery(max_attempts: u32) -> Delivery {
    Delivery {
        max_attempts,
        retry_base: Duration::from_secs(30),
        public_url: "https://mfa.example.test".into(),
        link_lifetime: Duration::from_secs(72 * 3600),
    }
}

/// A directory on a database file in `dir`, as the appliance opens it.
pub fn open(dir: &std::path::Path) -> (Directory, WriterThread) {
    let config = config_in(dir);
    scimgate::app::open_directory(&config).unwrap()
}

pub async fn close(d: Directory, writer: WriterThread) {
    drop(d);
    tokio::task::spawn_blocking(move || writer.stop())
        .await
        .unwrap();
}

/// An integration named "okta" with Send enrollment emails as given.
pub async fn integration(d: &Directory, sends: bool) -> Integration {
    d.create_integration("okta").await.unwrap();
    d.update_settings(
        "okta",
        SettingsChange {
            send_enrollment_emails: Some(sends),
            ..SettingsChange::default()
        },
    )
    .await
    .unwrap()
}

pub fn user(name: &str, email: Option<&str>) -> serde_json::Value {
    let mut u = json!({"schemas": [USER_URN], "userName": name, "active": true});
    if let Some(e) = email {
        u["emails"] = json!([{"value": e, "type": "work", "primary": true}]);
    }
    u
}

pub fn later(secs: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::seconds(secs)
}

/// Issue 13 item 7: the message as mail servers and spam filters expect it, read back with a
/// standard MIME parser from what the SMTP server received.
#[actix_web::test]
async fn enrollment_email_is_well_formed_mime() {
    use mail_parser::{MessageParser, MimeHeaders};
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    let mut u = user("bea@example.test", Some("bea@mail.test"));
    u["displayName"] = json!("Bea <b>&</b>");
    d.create_user(&okta, &u).await.unwrap();
    assert_eq!(
        d.drain_once(&mailer(&sink), &delivery(8))
            .await
            .unwrap()
            .sent,
        1
    );
    let raw = sink.messages()[0].data.clone();
    let msg = MessageParser::default().parse(raw.as_bytes()).unwrap();
    let id = msg.message_id().expect("a Message-ID");
    assert!(id.ends_with("@mfa.example.test"), "{id}");
    assert!(id.len() > "@mfa.example.test".len() + 20, "{id}");
    assert!(
        raw.lines()
            .any(|l| l.eq_ignore_ascii_case("MIME-Version: 1.0")),
        "{raw}"
    );
    let date = msg.date().expect("a Date").to_timestamp();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - date).abs() < 120, "Date {date} is not now ({now})");
    let ct = msg.content_type().expect("a Content-Type");
    assert_eq!(ct.ctype(), "multipart");
    assert_eq!(ct.subtype(), Some("alternative"));
    assert_eq!(msg.text_body.len(), 1);
    assert_eq!(msg.html_body.len(), 1);
    let text = msg.body_text(0).unwrap();
    let html = msg.body_html(0).unwrap();
    let link = crate::enroll::link_in(&raw);
    assert!(
        link.starts_with("https://mfa.example.test/enroll/"),
        "{link}"
    );
    assert!(
        text.contains(&link) && text.contains("Hello Bea <b>&</b>,"),
        "{text}"
    );
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    // The IdP's display name is text in the HTML part, not markup.
    assert!(!html.contains("<b>&</b>"), "{html}");
    assert!(
        html.contains("Hello Bea &#60;b&#62;&#38;&#60;/b&#62;,"),
        "{html}"
    );
    // Each message has its own id.
    d.create_user(&okta, &user("cy@example.test", Some("cy@mail.test")))
        .await
        .unwrap();
    d.drain_once(&mailer(&sink), &delivery(8)).await.unwrap();
    let second = sink.messages()[1].data.clone();
    let second = MessageParser::default().parse(second.as_bytes()).unwrap();
    assert_ne!(second.message_id(), Some(id));
    close(d, w).await;
}

#[actix_web::test]
async fn created_user_gets_one_enrollment_email() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    d.create_user(&okta, &user("ann@example.test", Some("ann@mail.test")))
        .await
        .unwrap();
    assert_eq!(d.outbox_counts().await.unwrap(), (1, 0, 0));
    let r = d.drain_once(&mailer(&sink), &delivery(8)).await.unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(sink.count_to("ann@mail.test"), 1);
    let m = &sink.messages()[0];
    assert!(m.data.contains("ann@example.test"), "{}", m.data);
    assert!(m.data.contains("https://mfa.example.test"), "{}", m.data);
    assert!(
        m.data.contains("From: MFA <mfa@example.test>"),
        "{}",
        m.data
    );
    // Nothing is due any more, however late it is.
    let r = d
        .drain_once_at(&mailer(&sink), &delivery(8), later(86_400))
        .await
        .unwrap();
    assert_eq!(r.attempted(), 0);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(d.outbox_counts().await.unwrap(), (0, 1, 0));
    close(d, w).await;
}

#[actix_web::test]
async fn no_email_without_the_setting_an_address_or_when_inactive() {
    let dir = tempfile::tempdir().unwrap();
    let (d, w) = open(dir.path());
    let off = integration(&d, false).await;
    let a = d
        .create_user(&off, &user("a@example.test", Some("a@mail.test")))
        .await
        .unwrap();
    let on = d
        .update_settings(
            "OKTA", // names compare folded
            SettingsChange {
                send_enrollment_emails: Some(true),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert!(on.settings.send_enrollment_emails);
    let b = d
        .create_user(&on, &user("b@example.test", None))
        .await
        .unwrap();
    let mut inactive = user("c@example.test", Some("c@mail.test"));
    inactive["active"] = json!(false);
    let c = d.create_user(&on, &inactive).await.unwrap();
    assert_eq!(d.outbox_counts().await.unwrap(), (0, 0, 0));
    let why = |id: String| {
        let d = &d;
        async move { d.user_email_status(&id).await.unwrap().1.unwrap() }
    };
    assert!(why(a.meta.id).await.contains("setting was off"));
    assert!(why(b.meta.id.clone()).await.contains("no email address"));
    assert!(why(c.meta.id).await.contains("deactivated"));
    // An administrator's resend is refused with the same reason.
    let e = d.resend_enrollment(&b.meta.id).await.unwrap_err();
    assert!(e.to_string().contains("no email address"), "{e}");
    close(d, w).await;
}

/// The outage test: the SMTP server is down while users are created; nothing is lost, and
/// once it is back (and the appliance restarted) each email arrives exactly once.
#[actix_web::test]
async fn outage_loses_nothing_and_sends_each_email_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SmtpSink::start().await;
    sink.shut_down().await;
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    for i in 0..5 {
        d.create_user(
            &okta,
            &user(
                &format!("u{i}@example.test"),
                Some(&format!("u{i}@mail.test")),
            ),
        )
        .await
        .unwrap();
    }
    let m = mailer(&sink);
    let r = d.drain_once(&m, &delivery(8)).await.unwrap();
    assert_eq!(r.retrying, 5, "{r:?}");
    let pending = d.list_outbox(Some("pending"), 100).await.unwrap();
    assert_eq!(pending.len(), 5);
    for p in &pending {
        assert_eq!(p.attempts, 1);
        assert!(p.last_error.as_deref().is_some_and(|e| !e.is_empty()));
    }
    // A second pass before the backoff has passed does not retry.
    assert_eq!(d.drain_once(&m, &delivery(8)).await.unwrap().attempted(), 0);
    // Restart the appliance while the server is still down.
    close(d, w).await;
    let (d, w) = open(dir.path());
    sink.bring_up().await;
    let m = mailer(&sink);
    let r = d
        .drain_once_at(&m, &delivery(8), later(3600))
        .await
        .unwrap();
    assert_eq!(r.sent, 5, "{r:?}");
    assert_eq!(
        d.drain_once_at(&m, &delivery(8), later(86_400))
            .await
            .unwrap()
            .attempted(),
        0
    );
    for i in 0..5 {
        assert_eq!(sink.count_to(&format!("u{i}@mail.test")), 1, "u{i}");
    }
    assert_eq!(sink.messages().len(), 5);
    assert_eq!(d.outbox_counts().await.unwrap(), (0, 5, 0));
    close(d, w).await;
}

#[actix_web::test]
async fn temporary_answer_is_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::TempFail);
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    d.create_user(&okta, &user("t@example.test", Some("t@mail.test")))
        .await
        .unwrap();
    let m = mailer(&sink);
    assert_eq!(d.drain_once(&m, &delivery(8)).await.unwrap().retrying, 1);
    let msg = &d.list_outbox(None, 10).await.unwrap()[0];
    assert!(
        msg.last_error.as_deref().unwrap_or("").contains("451"),
        "{msg:?}"
    );
    // Due again between 30 s and 37.5 s later (base 30 s, up to 25 % jitter).
    assert_eq!(
        d.drain_once_at(&m, &delivery(8), later(29))
            .await
            .unwrap()
            .attempted(),
        0
    );
    assert_eq!(
        d.drain_once_at(&m, &delivery(8), later(38))
            .await
            .unwrap()
            .retrying,
        1
    );
    // The second wait is twice as long: not due 38 s after that, due 76 s after.
    sink.set_mode(Mode::Accept);
    assert_eq!(
        d.drain_once_at(&m, &delivery(8), later(38 + 38))
            .await
            .unwrap()
            .attempted(),
        0
    );
    let r = d
        .drain_once_at(&m, &delivery(8), later(38 + 76))
        .await
        .unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(sink.count_to("t@mail.test"), 1);
    close(d, w).await;
}

#[actix_web::test]
async fn permanent_answer_fails_with_the_servers_words_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    sink.set_mode(Mode::PermFail);
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    let u = d
        .create_user(&okta, &user("p@example.test", Some("p@mail.test")))
        .await
        .unwrap();
    let m = mailer(&sink);
    assert_eq!(d.drain_once(&m, &delivery(8)).await.unwrap().failed, 1);
    let failed = d.list_outbox(Some("failed"), 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    let err = failed[0].last_error.clone().unwrap();
    assert!(
        err.contains("550") && err.contains("No such user here"),
        "{err}"
    );
    assert_eq!(failed[0].user_id.as_deref(), Some(u.meta.id.as_str()));
    // Never retried on its own.
    assert_eq!(
        d.drain_once_at(&m, &delivery(8), later(86_400))
            .await
            .unwrap()
            .attempted(),
        0
    );
    // An administrator retries it once the address is fixed.
    sink.set_mode(Mode::Accept);
    d.retry_message(failed[0].id).await.unwrap();
    assert!(
        d.retry_message(failed[0].id).await.is_err(),
        "only failed messages"
    );
    assert_eq!(d.drain_once(&m, &delivery(8)).await.unwrap().sent, 1);
    assert_eq!(sink.count_to("p@mail.test"), 1);
    close(d, w).await;
}

#[actix_web::test]
async fn attempts_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SmtpSink::start().await;
    sink.shut_down().await;
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    d.create_user(&okta, &user("b@example.test", Some("b@mail.test")))
        .await
        .unwrap();
    let m = mailer(&sink);
    let mut at = later(0);
    let mut failed = 0;
    for _ in 0..3 {
        failed += d.drain_once_at(&m, &delivery(3), at).await.unwrap().failed;
        at += time::Duration::hours(7);
    }
    assert_eq!(failed, 1);
    let f = &d.list_outbox(Some("failed"), 10).await.unwrap()[0];
    assert_eq!(f.attempts, 3);
    assert!(
        f.last_error
            .as_deref()
            .unwrap_or("")
            .starts_with("gave up after 3 attempts"),
        "{f:?}"
    );
    close(d, w).await;
}

#[actix_web::test]
async fn deactivation_cancels_a_pending_email() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = SmtpSink::start().await;
    sink.shut_down().await;
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    let u = d
        .create_user(&okta, &user("x@example.test", Some("x@mail.test")))
        .await
        .unwrap();
    let mut off = user("x@example.test", Some("x@mail.test"));
    off["active"] = json!(false);
    d.replace_user(&okta, &u.meta.id, &off, None).await.unwrap();
    sink.bring_up().await;
    let r = d
        .drain_once_at(&mailer(&sink), &delivery(8), later(3600))
        .await
        .unwrap();
    assert_eq!(r.attempted(), 0);
    assert_eq!(sink.messages().len(), 0);
    let (msgs, _) = d.user_email_status(&u.meta.id).await.unwrap();
    assert_eq!(msgs[0].status, "cancelled");
    close(d, w).await;
}

/// The whole path as an identity provider drives it: `[smtp]` configured, the setting on,
/// a POST /Users, and the running appliance's drainer delivers the email.
#[actix_web::test]
async fn serve_sends_the_email_of_a_user_posted_over_scim() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    let mut config = config_in(dir.path());
    config.smtp = smtp_to(&sink);
    let app = TestApp::spawn_with(dir, config).await;
    {
        let (d, w) = open(app.config.database.path.parent().unwrap());
        d.update_settings(
            &app.integration_id,
            SettingsChange {
                send_enrollment_emails: Some(true),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
        close(d, w).await;
    }
    let resp = app
        .client
        .post(format!("{}/Users", app.base_url))
        .bearer_auth(&app.token)
        .send_json(&user("web@example.test", Some("web@mail.test")))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sink.count_to("web@mail.test") == 0 {
        assert!(std::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.count_to("web@mail.test"), 1);
}

#[actix_web::test]
async fn login_names_resolve_by_user_name_or_alias() {
    let dir = tempfile::tempdir().unwrap();
    let (d, w) = open(dir.path());
    let okta = integration(&d, false).await;
    let mut body = user("Ann.Lee@Example.test", None);
    body["aliases"] = json!([{"value": "ALee"}]);
    let u = d.create_user(&okta, &body).await.unwrap();
    let found = d
        .resolve_login("ann.lee@example.TEST")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.meta.id, u.meta.id);
    let found = d.resolve_login(" alee ").await.unwrap().unwrap();
    assert_eq!(found.meta.id, u.meta.id);
    assert!(d.resolve_login("nobody").await.unwrap().is_none());
    close(d, w).await;
}
