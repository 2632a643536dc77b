//! Verifier keys (issue 13 item 1): `/api/v1/verify` takes a verifier key and nothing else
//! (an integration's API token, an unknown or revoked key, or none get 401 with the JSON
//! error); a key records its last use; the Settings page creates a key, shows it once (not as
//! the answer to the POST, and not again on reload) and revokes it after a confirmation; the
//! CLI does the same on the database file while `serve` runs.

use awc::http::StatusCode;
use scimgate::auth::totp::TotpSecret;
use serde_json::{Value, json};

use crate::binary::{scimgate, serve_logged, sigterm};
use crate::enroll::{app_with_mail, enroll_by_email, post_user, unix_now};
use crate::mail::user;
use crate::support::admin::Browser;
use crate::support::smtp::SmtpSink;
use crate::support::*;

/// `POST /api/v1/verify` at `addr`: status, `WWW-Authenticate`, JSON body.
async fn verify_at(addr: &str, key: Option<&str>, body: Value) -> (u16, Option<String>, Value) {
    let mut req = awc::Client::default().post(format!("http://{addr}/api/v1/verify"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let mut r = req.send_json(&body).await.unwrap();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), challenge, r.json().await.unwrap())
}

async fn verify(app: &TestApp, key: Option<&str>, body: Value) -> (u16, Value) {
    let (s, _, v) = verify_at(&app.addr.to_string(), key, body).await;
    (s, v)
}

/// Asserts a 401 with the documented `{"error": "…"}` body that mentions a verifier key and
/// does not repeat what was presented.
fn assert_refused(status: u16, v: &Value, presented: Option<&str>) {
    assert_eq!(status, 401, "{v}");
    let msg = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {v}"));
    assert!(msg.contains("verifier key"), "{msg}");
    assert_eq!(v.as_object().unwrap().len(), 1, "{v}");
    if let Some(p) = presented {
        assert!(
            !msg.contains(&p[4..]),
            "the error repeats the presented value: {msg}"
        );
    }
}

/// A six-digit code that `secret` does not accept now (none of the steps in its window).
fn wrong_code(secret: &TotpSecret) -> String {
    let near: Vec<String> = (0..5)
        .map(|i| secret.code_at(unix_now() + i * 30 - 60).unwrap())
        .collect();
    (0..)
        .map(|n| format!("{:06}", 123_457 + n))
        .find(|c| !near.contains(c))
        .unwrap()
}

#[actix_web::test]
async fn verify_takes_only_a_verifier_key() {
    let sink = SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    post_user(&app, &user("vera@example.test", Some("vera@mail.test"))).await;
    let (secret, _) = enroll_by_email(&app, &sink, "vera@mail.test").await;
    let next = secret.code_at(unix_now() + 30).unwrap();
    let body = json!({"user": "vera@example.test", "code": next});

    // No key, an integration's API token, an unknown key, a malformed header.
    let (s, challenge, v) = verify_at(&app.addr.to_string(), None, body.clone()).await;
    assert_refused(s, &v, None);
    assert!(challenge.unwrap().starts_with("Bearer"));
    let (s, v) = verify(&app, Some(&app.token), body.clone()).await;
    assert_refused(s, &v, Some(&app.token));
    assert!(v["error"].as_str().unwrap().contains("integration"), "{v}");
    let unknown = format!("scv_{}", "A".repeat(43));
    let (s, v) = verify(&app, Some(&unknown), body.clone()).await;
    assert_refused(s, &v, Some(&unknown));

    // A verifier key: allow for the right code, deny for a wrong one.
    let created = app.directory.create_verifier_key("mfa").await.unwrap();
    let key = created.secret.expose().to_owned();
    assert!(key.starts_with("scv_") && key.len() == 47, "{key}");
    assert_eq!(
        app.directory.list_verifier_keys().await.unwrap()[0].last_used,
        None
    );
    let (s, v) = verify(&app, Some(&key), body.clone()).await;
    assert_eq!((s, v), (200, json!({"result": "allow"})));
    let (s, v) = verify(
        &app,
        Some(&key),
        json!({"user": "vera@example.test", "code": wrong_code(&secret)}),
    )
    .await;
    assert_eq!(
        (s, v),
        (200, json!({"result": "deny", "reason": "invalid_code"}))
    );
    // Its last use is recorded, and recent.
    let listed = app.directory.list_verifier_keys().await.unwrap();
    assert_eq!(listed.len(), 1);
    let used = listed[0].last_used.clone().expect("last use recorded");
    assert!(used >= created.key.created, "{used}");

    // Duplicate names (any case) are refused; a second key works beside the first.
    let dup = app
        .directory
        .create_verifier_key(" MFA ")
        .await
        .unwrap_err();
    assert!(dup.to_string().contains("already exists"), "{dup}");
    let second = app
        .directory
        .create_verifier_key("mfa-standby")
        .await
        .unwrap();

    // Revoked from another process on the same file (as `scimgate verifier-key revoke`
    // does while `serve` runs): refused from the next request on.
    {
        let (other, writer) = scimgate::app::open_directory(&app.config).unwrap();
        other.revoke_verifier_key("MFA").await.unwrap();
        drop(other);
        tokio::task::spawn_blocking(move || writer.stop())
            .await
            .unwrap();
    }
    let (s, v) = verify(&app, Some(&key), body.clone()).await;
    assert_refused(s, &v, Some(&key));
    let (s, v) = verify(&app, Some(second.secret.expose()), body).await;
    assert_eq!(s, 200, "{v}");
    // The name of a revoked key may be given to a new one.
    app.directory.create_verifier_key("mfa").await.unwrap();
    let names: Vec<String> = app
        .directory
        .list_verifier_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["mfa-standby", "mfa"]);
}

/// Whether `text` holds a verifier key (`scv_` and 43 base64url characters).
fn has_key(text: &str) -> bool {
    text.match_indices("scv_").any(|(i, _)| {
        let rest = &text.as_bytes()[i + 4..];
        rest.len() >= 43
            && rest[..43]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    })
}

/// The `href` of the first revoke link in the Settings page.
fn revoke_link(body: &str) -> String {
    let at = body
        .find("href=\"/admin/settings/verifier-keys/")
        .unwrap_or_else(|| panic!("no revoke link in: {body}"));
    let rest = &body[at + 6..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[actix_web::test]
async fn settings_page_creates_shows_once_and_revokes() {
    let app = TestApp::spawn().await;
    let mut admin = Browser::admin(&app).await;
    let page = admin.get("/admin/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"verifier-keys\""), "{}", page.body);
    assert!(page.body.contains("No verifier keys yet"));
    let csrf = page.csrf();

    // A bad name: the error next to the field, nothing created.
    let bad = admin
        .post(
            "/admin/settings/verifier-keys",
            &[("csrf", &csrf), ("name", "   ")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("id=\"verifier-key-name-error\""),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("The name must not be empty."));
    // A form without its CSRF token is refused.
    let forged = admin
        .post("/admin/settings/verifier-keys", &[("name", "forged")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(app.directory.list_verifier_keys().await.unwrap().is_empty());

    // Create: the POST redirects; the page it leads to shows the key once.
    let created = admin
        .post(
            "/admin/settings/verifier-keys",
            &[("csrf", &csrf), ("name", "mfa")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let to = created.location.unwrap();
    assert!(!has_key(&created.body) && !to.contains("scv_"), "{to}");
    // Another administrator's session does not get it.
    let mut other = Browser::new(&app);
    let signed_in = other.sign_in("admin", "correct horse battery").await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let theirs = other.get(&to).await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(!has_key(&theirs.body), "{}", theirs.body);
    assert!(theirs.input("verifier-key").is_none());
    let shown = admin.get(&to).await;
    assert_eq!(shown.status, StatusCode::OK);
    let key = shown.input("verifier-key").expect("the key on the page");
    assert!(key.starts_with("scv_"), "{key}");
    assert!(shown.body.contains("you will not see it again"));
    assert!(
        shown.body.contains("<td data-label=\"Name\">mfa</td>"),
        "{}",
        shown.body
    );
    let (s, v) = verify(
        &app,
        Some(&key),
        json!({"user": "nobody", "code": "123456"}),
    )
    .await;
    assert_eq!(
        (s, v),
        (200, json!({"result": "deny", "reason": "unknown_user"}))
    );
    // A reload shows no key, and says so.
    let again = admin.get(&to).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(!again.body.contains(&key) && !has_key(&again.body));
    assert!(again.body.contains("shown once and is not shown again"));
    // The list shows when it was last used.
    let listed = admin.get("/admin/settings").await;
    let row = listed
        .body
        .split("<tr><td data-label=\"Name\">mfa</td>")
        .nth(1)
        .unwrap();
    let row = &row[..row.find("</tr>").unwrap()];
    // At the granularity uses are written with (once a minute).
    assert!(
        row.contains("within the last minute") && row.matches(" UTC").count() == 1,
        "{row}"
    );
    // A taken name (any case) is refused next to the field.
    let dup = admin
        .post(
            "/admin/settings/verifier-keys",
            &[("csrf", &csrf), ("name", "MFA")],
        )
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.body.contains("already exists"), "{}", dup.body);

    // Revoke asks first; the GET changes nothing.
    let link = revoke_link(&listed.body);
    let confirm = admin.get(&link).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.body.contains("Revoke verifier key"),
        "{}",
        confirm.body
    );
    let (s, _) = verify(&app, Some(&key), json!({"user": "nobody", "code": "1"})).await;
    assert_eq!(s, 200);
    let refused = admin.post(&link, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let done = admin.post(&link, &[("csrf", &confirm.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let after = admin.get(&done.location.unwrap()).await;
    assert!(after.body.contains("was revoked"), "{}", after.body);
    assert!(!after.body.contains("<td data-label=\"Name\">mfa</td>"));
    let (s, v) = verify(&app, Some(&key), json!({"user": "nobody", "code": "1"})).await;
    assert_refused(s, &v, Some(&key));
    // Revoking it again: nothing there.
    let gone = admin.post(&link, &[("csrf", &csrf)]).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

fn run(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    scimgate(dir).args(args).output().unwrap()
}

#[actix_web::test]
async fn cli_creates_lists_and_revokes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["verifier-key", "create", "--name", "mfa", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "key", "name"]);
    assert_eq!(created["name"], "mfa");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("scv_"), "{key}");

    // Without --json: the key once, with the warning.
    let out = run(dir.path(), &["verifier-key", "create", "--name", "standby"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("scv_") && text.contains("shown only this once"),
        "{text}"
    );
    // Taken names and bad names are refused, nothing on stdout.
    let long = "x".repeat(65);
    for name in ["MFA", " ", long.as_str()] {
        let out = run(dir.path(), &["verifier-key", "create", "--name", name]);
        assert!(!out.status.success(), "{name:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("already exists") || err.contains("name must"),
            "{err}"
        );
    }
    let out = run(
        dir.path(),
        &["integration", "create", "--name", "okta", "--json"],
    );
    let token = serde_json::from_slice::<Value>(&out.stdout).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (mut child, addr, _log) = serve_logged(scimgate(dir.path()));
    let body = json!({"user": "nobody", "code": "123456"});
    let (s, _, v) = verify_at(&addr, Some(&key), body.clone()).await;
    assert_eq!((s, v["result"].as_str()), (200, Some("deny")));
    let (s, _, v) = verify_at(&addr, Some(&token), body.clone()).await;
    assert_refused(s, &v, Some(&token));

    // The list: names, ids, created, last used; never a key.
    let out = run(dir.path(), &["verifier-key", "list", "--json"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("scv_"));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "mfa");
    assert_eq!(list[0]["id"], id.as_str());
    assert!(list[0]["created"].is_string());
    assert!(list[0]["last_used"].is_string(), "{list:?}");
    assert!(list[1]["last_used"].is_null(), "{list:?}");
    let out = run(dir.path(), &["verifier-key", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("mfa") && text.contains(&id) && text.contains("never"),
        "{text}"
    );
    assert!(!text.contains("scv_"));

    // Revoke while serve runs: the next request is refused.
    let out = run(dir.path(), &["verifier-key", "revoke", "mfa"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, _, v) = verify_at(&addr, Some(&key), body).await;
    assert_refused(s, &v, Some(&key));
    let out = run(dir.path(), &["verifier-key", "revoke", "mfa"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no verifier key named 'mfa'"));
    let out = run(dir.path(), &["verifier-key", "list", "--json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    sigterm(&mut child);
}
