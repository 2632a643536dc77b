//! What the log may say (issue 13 item 4): the real binary, logging at `debug`, runs the setup
//! flow with the administrator's second factor (registration, recovery codes, a sign-in with a
//! recovery code), a verifier key made on the Settings page, a whole enrollment (SCIM create →
//! email → link → QR page → code) and code verifications with verifier keys, and its captured
//! log is searched for every token, link, key, password, code, cookie and secret issued along
//! the way. The one-time setup link printed at start is the only one allowed, and only in that
//! start-up line.

use std::time::{Duration, Instant};

use scimgate::auth::totp::TotpSecret;
use serde_json::Value;

use crate::binary::{scimgate, serve_logged, sigterm};
use crate::enroll::{link_in, unix_now};
use crate::support::admin::Browser;
use crate::support::smtp::SmtpSink;
use crate::support::*;

/// Waits until a log line contains `needle`; returns that line.
async fn log_line(log: &crate::binary::Log, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(l) = log.lock().unwrap().iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        assert!(Instant::now() < deadline, "no log line with {needle:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The path segment after `prefix` in `url`.
fn segment_after<'a>(url: &'a str, prefix: &str) -> &'a str {
    let at = url
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix} in {url}"))
        + prefix.len();
    url[at..].split(['/', '?', ' ']).next().unwrap()
}

#[actix_web::test]
async fn no_secret_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let sink = SmtpSink::start().await;
    let out = scimgate(dir.path())
        .args(["integration", "create", "--name", "okta", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    let out = scimgate(dir.path())
        .args([
            "integration",
            "set",
            "okta",
            "--send-enrollment-emails",
            "on",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = scimgate(dir.path())
        .args(["verifier-key", "create", "--name", "mfa", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let verifier_key = created["key"].as_str().unwrap().to_owned();
    assert!(verifier_key.starts_with("scv_"));

    let mut cmd = scimgate(dir.path());
    cmd.env("SCIMGATE_LOG", "debug")
        .env("SCIMGATE_SMTP_HOST", "127.0.0.1")
        .env("SCIMGATE_SMTP_PORT", sink.addr.port().to_string())
        .env("SCIMGATE_SMTP_TLS", "none")
        .env("SCIMGATE_SMTP_FROM", "MFA <mfa@example.test>");
    let (mut child, addr, log) = serve_logged(cmd);
    let addr: std::net::SocketAddr = addr.parse().unwrap();

    // The setup flow.
    let start_line = log_line(&log, "one-time link").await;
    let setup_link = start_line.split_whitespace().last().unwrap().to_owned();
    let setup_token = segment_after(&setup_link, "/admin/setup/").to_owned();
    let password = "correct horse battery staple";
    let mut browser = Browser::at(addr);
    browser.setup(&setup_link, "admin", password).await;
    // The second factor is required: register it, keep the recovery codes shown once.
    let (admin_secret, recovery_codes) = crate::admin_mfa::register(&mut browser).await;
    let admin_key = admin_secret.expose().to_owned();
    crate::admin_mfa::sign_out(&mut browser).await;
    let login = browser.sign_in("admin", password).await;
    assert_eq!(login.location.as_deref(), Some("/admin/login/code"));
    let form = browser.get("/admin/login/code").await;
    let signed_in =
        crate::admin_mfa::give_code(&mut browser, &form.csrf(), &recovery_codes[0]).await;
    assert_eq!(signed_in.status.as_u16(), 303, "{}", signed_in.body);
    let page = browser.get("/admin/settings").await;
    assert_eq!(page.status.as_u16(), 200);
    let cookies: Vec<String> = browser.cookies.values().cloned().collect();
    assert!(!cookies.is_empty());
    let csrf = page.csrf();
    // A verifier key made on the Settings page (POST, redirect, shown once).
    let made = browser
        .post(
            "/admin/settings/verifier-keys",
            &[("csrf", &csrf), ("name", "standby")],
        )
        .await;
    assert_eq!(made.status.as_u16(), 303, "{}", made.body);
    let shown = browser.get(made.location.as_deref().unwrap()).await;
    let page_key = shown.input("verifier-key").expect("the key on the page");
    assert!(page_key.starts_with("scv_"));

    // An enrollment, from the SCIM create to the confirmed code.
    let client = awc::Client::default();
    let r = send(
        client
            .post(format!("http://{addr}/scim/v2/{id}/Users"))
            .insert_header(("Authorization", format!("Bearer {token}"))),
        Some(&okta_user("ana@example.com")),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mail = loop {
        if let Some(m) = sink.messages().into_iter().next() {
            break m.data;
        }
        assert!(Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let link = link_in(&mail);
    let enroll_token = segment_after(&link, "/enroll/").to_owned();
    let url = format!("http://{addr}/enroll/{enroll_token}");
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut res = client.post(&url).send().await.unwrap();
    let body = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let key = body
        .split("<code class=\"key\">")
        .nth(1)
        .unwrap()
        .split("</code>")
        .next()
        .unwrap()
        .to_owned();
    let secret = TotpSecret::from_base32(&key).unwrap();
    let code = secret.code_at(unix_now()).unwrap();
    let r = client
        .post(format!("{url}/confirm"))
        .send_form(&[("code", &code)])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // The MFA service verifies the next code with its verifier key.
    let r = send(
        client
            .post(format!("http://{addr}/api/v1/verify"))
            .insert_header(("Authorization", format!("Bearer {verifier_key}"))),
        Some(&serde_json::json!({"user": "ana@example.com", "code": secret.code_at(unix_now() + 30).unwrap()})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["result"], "allow", "{}", r.body);
    let r = send(
        client
            .post(format!("http://{addr}/api/v1/verify"))
            .insert_header(("Authorization", format!("Bearer {page_key}"))),
        Some(&serde_json::json!({"user": "ana@example.com", "code": "000000"})),
    )
    .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    log_line(&log, "/api/v1/verify").await;

    // The request log saw these requests, with the link tokens cut to four characters.
    log_line(&log, &format!("/enroll/{}…/confirm", &enroll_token[..4])).await;
    log_line(&log, &format!("/admin/setup/{}…", &setup_token[..4])).await;
    sigterm(&mut child);

    let lines = log.lock().unwrap().clone();
    let secrets = [
        ("the integration's API token", token.as_str()),
        ("the verifier key", verifier_key.as_str()),
        ("the enrollment link token", enroll_token.as_str()),
        ("the TOTP secret", key.as_str()),
        ("the administrator's password", password),
        ("the CSRF token", csrf.as_str()),
        (
            "the verifier key made on the Settings page",
            page_key.as_str(),
        ),
        ("the administrator's TOTP secret", admin_key.as_str()),
    ];
    for line in &lines {
        for (what, s) in secrets
            .iter()
            .copied()
            .chain(cookies.iter().map(|c| ("a cookie", c.as_str())))
            .chain(
                recovery_codes
                    .iter()
                    .map(|c| ("a recovery code", c.as_str())),
            )
        {
            assert!(!line.contains(s), "{what} is in the log: {line}");
        }
        if line.contains(&setup_token) {
            assert_eq!(line, &start_line, "the setup link is in a later line");
        }
    }
    let setup_lines = lines.iter().filter(|l| l.contains(&setup_token)).count();
    assert_eq!(setup_lines, 1, "the setup link is printed once, at start");
}
