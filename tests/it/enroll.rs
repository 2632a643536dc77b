//! Enrollment end to end: the email's one-time link, the pages (landing, QR code and key,
//! code confirmation, done), a used link, a replaced link, and deactivation revoking it.

use std::time::Duration;

use scimgate::auth::totp::TotpSecret;
use scimgate::directory::SettingsChange;
use serde_json::json;

use crate::mail::{close, delivery, integration, later, mailer, open, smtp_to, user};
use crate::support::smtp::SmtpSink;
use crate::support::*;

/// The enrollment link in a captured message (quoted-printable soft breaks undone).
pub(crate) fn link_in(data: &str) -> String {
    let text = data.replace("=\n", "").replace("=3D", "=");
    let start = text.find("/enroll/").expect("a link");
    let line_start = text[..start]
        .rfind(char::is_whitespace)
        .map_or(0, |i| i + 1);
    text[line_start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An appliance whose integration sends enrollment emails to the sink.
pub(crate) async fn app_with_mail(sink: &SmtpSink) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.smtp = smtp_to(sink);
    let app = TestApp::spawn_with(dir, config).await;
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
    app
}

pub(crate) async fn post_user(app: &TestApp, body: &serde_json::Value) -> String {
    let mut resp = app
        .client
        .post(format!("{}/Users", app.base_url))
        .bearer_auth(&app.token)
        .send_json(body)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let v: serde_json::Value = resp.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

/// Waits for the email to `rcpt`, then enrolls through its link: the authenticator's secret
/// and the code that confirmed it.
pub(crate) async fn enroll_by_email(
    app: &TestApp,
    sink: &SmtpSink,
    rcpt: &str,
) -> (TotpSecret, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let data = loop {
        if let Some(m) = sink
            .messages()
            .into_iter()
            .find(|m| m.rcpt.iter().any(|r| r == rcpt))
        {
            break m.data;
        }
        assert!(std::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let link = link_in(&data);
    let path = &link[link.find("/enroll/").unwrap()..];
    let url = format!("http://{}{path}", app.addr);
    let mut r = app.client.post(&url).send().await.unwrap();
    let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    let key = body
        .split("<code class=\"key\">")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap();
    let secret = TotpSecret::from_base32(key).unwrap();
    let code = secret.code_at(unix_now()).unwrap();
    let r = app
        .client
        .post(format!("{url}/confirm"))
        .send_form(&[("code", &code)])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    (secret, code)
}

async fn verify(
    app: &TestApp,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut req = app
        .client
        .post(format!("http://{}/api/v1/verify", app.addr));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let mut r = req.send_json(&body).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

fn deny(reason: &str) -> serde_json::Value {
    json!({"result": "deny", "reason": reason})
}

#[actix_web::test]
async fn verify_codes_by_user_name_or_alias() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    let mut body = user("vic@example.test", Some("vic@mail.test"));
    body["aliases"] = json!([{"value": "vic"}]);
    let id = post_user(&app, &body).await;
    let (secret, used) = enroll_by_email(&app, &sink, "vic@mail.test").await;
    let tok = Some(app.token.as_str());
    // Authentication and request shape.
    let (s, v) = verify(&app, None, json!({"user": "vic", "code": "123456"})).await;
    assert_eq!(s, 401, "{v}");
    let (s, _) = verify(
        &app,
        Some("scg_wrong"),
        json!({"user": "vic", "code": "123456"}),
    )
    .await;
    assert_eq!(s, 401);
    let (s, v) = verify(&app, tok, json!({"name": "vic"})).await;
    assert_eq!(s, 400);
    assert!(v["error"].as_str().unwrap().contains("user"), "{v}");
    // The code used to confirm enrollment is not accepted again (RFC 6238 §5.2).
    let (s, v) = verify(&app, tok, json!({"user": "vic@example.test", "code": used})).await;
    assert_eq!((s, v), (200, deny("code_reused")));
    // The next step's code, by alias (any case), is.
    let next = secret.code_at(unix_now() + 30).unwrap();
    let (_, v) = verify(&app, tok, json!({"user": "VIC", "code": next})).await;
    assert_eq!(v, json!({"result": "allow"}));
    let (_, v) = verify(&app, tok, json!({"user": "nobody", "code": next})).await;
    assert_eq!(v, deny("unknown_user"));
    // Another user, not enrolled.
    post_user(&app, &user("new@example.test", None)).await;
    let (_, v) = verify(&app, tok, json!({"user": "new@example.test", "code": next})).await;
    assert_eq!(v, deny("not_enrolled"));
    // Deactivation denies; reactivation restores the authenticator.
    let patch = |active: bool| json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": active}}]});
    for active in [false, true] {
        let r = app
            .client
            .patch(format!("{}/Users/{id}", app.base_url))
            .bearer_auth(&app.token)
            .send_json(&patch(active))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let (_, v) = verify(&app, tok, json!({"user": "vic", "code": "000000"})).await;
        if active {
            let bad = if next == "000000" {
                deny("code_reused")
            } else {
                deny("invalid_code")
            };
            assert_eq!(v, bad);
        } else {
            assert_eq!(v, deny("user_inactive"));
        }
    }
    // The throttle: 5 wrong codes in a row, then nothing is checked for a while.
    let wrong = if next == "999999" { "999998" } else { "999999" };
    for _ in 0..3 {
        let (_, v) = verify(&app, tok, json!({"user": "vic", "code": wrong})).await;
        assert_eq!(v, deny("invalid_code"));
    }
    let (_, v) = verify(&app, tok, json!({"user": "vic", "code": "12"})).await;
    assert_eq!(v, deny("invalid_code"));
    let fresh = secret.code_at(unix_now() + 30).unwrap();
    let (_, v) = verify(&app, tok, json!({"user": "vic", "code": fresh})).await;
    assert_eq!(v, deny("too_many_attempts"));
    // Deletion deletes the authenticator with the user.
    let r = app
        .client
        .delete(format!("{}/Users/{id}", app.base_url))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, v) = verify(&app, tok, json!({"user": "vic", "code": fresh})).await;
    assert_eq!(v, deny("unknown_user"));
}

#[actix_web::test]
async fn enroll_through_the_emailed_link() {
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
        .send_json(&user("eve@example.test", Some("eve@mail.test")))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sink.count_to("eve@mail.test") == 0 {
        assert!(std::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let link = link_in(&sink.messages()[0].data);
    let public = format!("http://localhost:{}", app.addr.port());
    assert!(link.starts_with(&format!("{public}/enroll/")), "{link}");
    let path = link.trim_start_matches(&public).to_owned();
    let url = format!("http://{}{path}", app.addr);

    // Landing.
    let mut r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("eve@example.test"), "{body}");
    // The QR page: an inline SVG and the key.
    let mut r = app.client.post(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("<svg"), "{body}");
    let key = body
        .split("<code class=\"key\">")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap()
        .to_owned();
    let secret = TotpSecret::from_base32(&key).unwrap();
    // A wrong code shows the same secret again with a message.
    let good = secret.code_at(unix_now()).unwrap();
    let bad = if good == "000000" { "111111" } else { "000000" };
    let mut r = app
        .client
        .post(format!("{url}/confirm"))
        .send_form(&[("code", bad)])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("not right"), "{body}");
    assert!(body.contains(&key));
    // The right one registers the authenticator.
    let good = secret.code_at(unix_now()).unwrap();
    let mut r = app
        .client
        .post(format!("{url}/confirm"))
        .send_form(&[("code", format!("{} {}", &good[..3], &good[3..]))])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("all set"), "{body}");
    // The link is used up.
    let mut r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    assert!(body.contains("no longer valid"), "{body}");
    // An unknown or malformed token gets the same page.
    let r = app
        .client
        .get(format!("http://{}/enroll/short", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[actix_web::test]
async fn a_new_link_replaces_the_old_and_deactivation_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    let (d, w) = open(dir.path());
    let okta = integration(&d, true).await;
    let u = d
        .create_user(&okta, &user("lin@example.test", Some("lin@mail.test")))
        .await
        .unwrap();
    let m = mailer(&sink);
    d.drain_once(&m, &delivery(8)).await.unwrap();
    let token = |i: usize| {
        let l = link_in(&sink.messages()[i].data);
        l.rsplit('/').next().unwrap().to_owned()
    };
    let first = token(0);
    assert_eq!(d.enrollment_link(&first).await.unwrap(), "lin@example.test");
    d.resend_enrollment(&u.meta.id).await.unwrap();
    d.drain_once_at(&m, &delivery(8), later(1)).await.unwrap();
    let second = token(1);
    assert_ne!(first, second);
    assert!(d.enrollment_link(&first).await.is_err(), "replaced");
    assert!(d.enrollment_link(&second).await.is_ok());
    // Deactivation revokes the link.
    let mut off = user("lin@example.test", Some("lin@mail.test"));
    off["active"] = json!(false);
    d.replace_user(&okta, &u.meta.id, &off, None).await.unwrap();
    assert!(d.enrollment_link(&second).await.is_err(), "revoked");
    // Reactivation does not bring the old link back.
    let mut on = off.clone();
    on["active"] = json!(true);
    d.replace_user(&okta, &u.meta.id, &on, None).await.unwrap();
    assert!(d.enrollment_link(&second).await.is_err());
    close(d, w).await;
}
