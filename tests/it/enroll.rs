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
fn link_in(data: &str) -> String {
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
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
