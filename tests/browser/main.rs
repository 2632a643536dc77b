//! Browser tests: headless Debian chromium driven over WebDriver (chromedriver, fantoccini)
//! through the vendor guide's path, with JavaScript on and off. They also take the screenshots
//! the README shows (`UPDATE_SCREENSHOTS=1` writes them to `docs/screenshots/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../it/support/smtp.rs"]
#[allow(dead_code)]
mod smtp;
mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use support::*;

const PASSWORD: &str = "correct horse battery";

/// A SCIM request with a token: (status, body).
async fn scim(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let req = client
        .request(method.parse().unwrap(), url)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "application/scim+json"));
    let mut res = match body {
        Some(b) => req.send_body(b.to_string()).await.unwrap(),
        None => req.send().await.unwrap(),
    };
    let bytes = res.body().await.unwrap();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (res.status().as_u16(), v)
}

const PUSHED_PASSWORD: &str = "Pushed-Pw-7!";

fn user(name: &str, given: &str, family: &str, alias: Option<&str>) -> Value {
    let mut u = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": given, "familyName": family},
        "displayName": format!("{given} {family}"),
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true,
        // Okta sends one; it is never stored, and the Activity page shows it redacted.
        "password": PUSHED_PASSWORD,
    });
    if let Some(a) = alias {
        u["aliases"] = json!([{"value": a, "type": "email"}]);
    }
    u
}

async fn sign_in(c: &Client, app: &Appliance) {
    c.goto(&app.url("/admin/login")).await.unwrap();
    fill(c, "username", "admin").await;
    fill(c, "password", PASSWORD).await;
    click_at(c, Locator::Css("button[type=submit]")).await;
    expect_path(c, "/admin/provisioning").await;
}

/// The guide's path, end to end, with JavaScript on (the copy buttons work).
#[actix_web::test]
async fn the_guides_path_in_a_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = Appliance::start().await;
    let c = driver.browser(true).await;

    // Setup link → first admin.
    c.goto(&app.setup_link).await.unwrap();
    assert_eq!(text(&c, "h1").await, "Create the first administrator");
    screenshot(&c, "01-setup").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", PASSWORD).await;
    fill(&c, "confirm", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/provisioning").await;
    // Sign out and sign in again.
    click(&c, "sign-out").await;
    expect_path(&c, "/admin/login").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", "not the password").await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    wait_text(&c, "#error", "wrong").await;
    screenshot(&c, "02-sign-in").await;
    sign_in(&c, &app).await;

    // Identity & Users > User Provisioning > Add Provisioning (+): a blank name is refused next
    // to the field, then SCIM 2.0 + a unique name > Save and Deploy.
    click(&c, "add-provisioning").await;
    expect_path(&c, "/admin/provisioning/new").await;
    fill(&c, "name", "   ").await;
    click(&c, "save-and-deploy").await;
    wait_text(&c, "#name-error", "must not be empty").await;
    fill(&c, "name", "Okta").await;
    screenshot(&c, "03-add-provisioning").await;
    click(&c, "save-and-deploy").await;
    wait_text(&c, "#token-warning", "you will not see it again").await;
    let token = value(&c, "api-token").await;
    let base_url = value(&c, "base-url").await;
    assert!(token.starts_with("scg_"), "{token}");
    assert!(
        base_url.starts_with(&format!("{}/scim/v2/", app.configured_url)),
        "{base_url}"
    );
    // The copy button works (JavaScript on): it copies and says so.
    let copy = c
        .find(Locator::Css("button[data-copy=api-token]"))
        .await
        .unwrap();
    assert!(copy.is_displayed().await.unwrap());
    copy.click().await.unwrap();
    // The label changes when the clipboard's promise settles, not at the click.
    let label = wait_text(&c, "button[data-copy=api-token]", "Copied").await;
    assert_eq!(label, "Copied");
    screenshot(&c, "04-save-and-deploy-token").await;
    // A reload shows no token and posts nothing again (the token came by a redirect).
    c.refresh().await.unwrap();
    wait_text(&c, "#notice", "shown once and is not shown again").await;
    assert!(!c.source().await.unwrap().contains(&token));

    // The token and Base URL work for SCIM, as Okta's "Test API Credentials" and a sync do.
    let (status, _) = scim("GET", &format!("{base_url}/Users?count=1"), &token, None).await;
    assert_eq!(status, 200);
    let mut ids = Vec::new();
    for (n, g, f, a) in [
        (
            "alice.martin@example.com",
            "Alice",
            "Martin",
            Some("amartin@example.com"),
        ),
        ("bob.ng@example.com", "Bob", "Ng", None),
        ("chen.li@example.com", "Chen", "Li", Some("cli@example.com")),
    ] {
        let (status, body) = scim(
            "POST",
            &format!("{base_url}/Users"),
            &token,
            Some(user(n, g, f, a)),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap_or_default().to_owned());
    }
    // A group pushed with two members, as Okta's Push Groups does.
    let (status, body) = scim(
        "POST",
        &format!("{base_url}/Groups"),
        &token,
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{"value": ids[0]}, {"value": ids[2]}]
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = scim(
        "POST",
        &format!("{base_url}/Users"),
        &token,
        Some(user("bob.ng@example.com", "B", "N", None)),
    )
    .await;
    assert_eq!(status, 409);

    // Toggle the settings > Save and Deploy > a reload shows them saved.
    let page = path(&c).await;
    assert!(page.starts_with("/admin/provisioning/"), "{page}");
    for id in ["send_enrollment_emails", "include_manual"] {
        click(&c, id).await;
    }
    click(&c, "save-settings").await;
    wait_text(&c, "#notice", "Saved and deployed").await;
    c.refresh().await.unwrap();
    let checked = |id: &'static str| {
        let c = c.clone();
        async move {
            c.find(Locator::Id(id))
                .await
                .unwrap()
                .is_selected()
                .await
                .unwrap()
        }
    };
    assert!(checked("send_enrollment_emails").await);
    assert!(checked("include_manual").await);
    assert!(!checked("read_all_users").await);
    // The token is not shown again.
    assert!(c.find(Locator::Id("api-token")).await.is_err());
    c.execute(
        "document.getElementById('settings').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(&c, "05-provisioning-settings").await;

    // Regenerate (confirm, default overlap 24 h) > both tokens work, and the page says until
    // when the old one does; a reload does not show the token again.
    click(&c, "regenerate").await;
    screenshot(&c, "06-regenerate-confirm").await;
    click(&c, "confirm").await;
    let new_token = value(&c, "api-token").await;
    assert_ne!(new_token, token);
    wait_text(
        &c,
        "#previous-token",
        "The previous token keeps working until",
    )
    .await;
    screenshot(&c, "06b-regenerated-with-overlap").await;
    let (status, _) = scim("GET", &format!("{base_url}/Users"), &token, None).await;
    assert_eq!(status, 200);
    let (status, _) = scim("GET", &format!("{base_url}/Users"), &new_token, None).await;
    assert_eq!(status, 200);
    c.refresh().await.unwrap();
    wait_text(&c, "#notice", "not shown again").await;
    assert!(c.find(Locator::Id("api-token")).await.is_err());

    // Add a manual user (a field error first), then find it in the search.
    c.goto(&app.url("/admin/users")).await.unwrap();
    click(&c, "add-user").await;
    fill(&c, "user_name", "dana.fox@example.com").await;
    fill(&c, "email", "not an email").await;
    click(&c, "create-user").await;
    wait_text(&c, "#email-error", "Not an email address").await;
    screenshot(&c, "07-add-user-error").await;
    fill(&c, "email", "dana.fox@example.com").await;
    fill(&c, "given_name", "Dana").await;
    fill(&c, "family_name", "Fox").await;
    fill(&c, "aliases", "dfox@example.com").await;
    click(&c, "create-user").await;
    // Add user lands on the new user's page; the list finds it by alias.
    wait_text(&c, "#notice", "was added").await;
    wait_text(&c, "h1", "dana.fox@example.com").await;
    c.goto(&app.url("/admin/users")).await.unwrap();
    fill(&c, "q", "DFOX").await;
    click(&c, "search").await;
    expect_query(&c, "q=DFOX").await;
    let rows = wait_text(&c, "#users tbody", "dana.fox").await;
    assert!(
        rows.contains("dana.fox@example.com") && rows.contains("Manual"),
        "{rows}"
    );
    assert!(!rows.contains("alice.martin"), "{rows}");
    // The full list, as the README shows it.
    c.goto(&app.url("/admin/users")).await.unwrap();
    let rows = text(&c, "#users tbody").await;
    assert!(
        rows.contains("alice.martin@example.com") && rows.contains("Okta"),
        "{rows}"
    );
    screenshot(&c, "08-users").await;
    click_at(&c, Locator::LinkText("alice.martin@example.com")).await;
    let h1 = wait_text(&c, "h1", "alice.martin").await;
    assert!(
        h1.contains("alice.martin@example.com") && h1.contains("Active"),
        "{h1}"
    );
    screenshot(&c, "09-user").await;

    // Activity shows the SCIM requests (written within a second).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        c.goto(&app.url("/admin/activity")).await.unwrap();
        let body = c.source().await.unwrap();
        if body.contains("created user chen.li@example.com") && body.contains("already taken") {
            break;
        }
        assert!(Instant::now() < deadline, "activity not shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    screenshot(&c, "10-activity").await;
    // One request's page: the body as received, the pushed password redacted.
    click_at(&c, Locator::XPath(
        "//tr[contains(., 'created user chen.li@example.com')]//a[starts-with(@href, '/admin/activity/')]",
    )).await;
    let body = wait_text(&c, "#body", "chen.li@example.com").await;
    assert!(body.contains("[redacted]"), "{body}");
    assert!(!c.source().await.unwrap().contains(PUSHED_PASSWORD));
    screenshot(&c, "14-activity-request").await;
    // Groups: the list, and a group's page with its members.
    c.goto(&app.url("/admin/groups")).await.unwrap();
    wait_text(&c, "#groups", "Engineering").await;
    screenshot(&c, "15-groups").await;
    click_at(&c, Locator::LinkText("Engineering")).await;
    wait_text(&c, "h1", "Engineering").await;
    let page = c.source().await.unwrap();
    assert!(
        page.contains("alice.martin@example.com") || page.contains("Alice Martin"),
        "{page}"
    );
    screenshot(&c, "16-group").await;
    c.goto(&app.url("/admin/provisioning")).await.unwrap();
    wait_text(&c, "table", "Okta").await;
    screenshot(&c, "11-user-provisioning").await;
    c.goto(&app.url("/admin/settings")).await.unwrap();
    screenshot(&c, "12-settings").await;
    // A verifier key: created, shown once after the redirect, not again on reload.
    fill(&c, "verifier-key-name", "mfa").await;
    click(&c, "create-verifier-key").await;
    wait_text(&c, "#verifier-key-warning", "you will not see it again").await;
    let key = value(&c, "verifier-key").await;
    assert!(key.starts_with("scv_"), "{key}");
    screenshot(&c, "12b-settings-verifier-key").await;
    c.refresh().await.unwrap();
    wait_text(&c, "#verifier-key-notice", "shown once").await;
    assert!(!c.source().await.unwrap().contains(&key));
    // A phone-sized window.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&app.url("/admin/users")).await.unwrap();
    screenshot(&c, "13-users-phone").await;
    c.set_window_size(1280, 900).await.unwrap();

    // Sign out: the pages need signing in again.
    click(&c, "sign-out").await;
    c.goto(&app.url("/admin/users")).await.unwrap();
    expect_path(&c, "/admin/login").await;
    c.close().await.unwrap();
}

/// The same pages with JavaScript off: every form works; the token is selectable text and the
/// copy buttons (the only script) are hidden.
#[actix_web::test]
async fn everything_works_with_javascript_off() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = Appliance::start().await;
    let c = driver.browser(false).await;
    c.goto(&app.setup_link).await.unwrap();
    fill(&c, "username", "admin").await;
    fill(&c, "password", PASSWORD).await;
    fill(&c, "confirm", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/provisioning").await;
    click(&c, "add-provisioning").await;
    fill(&c, "name", "Entra ID").await;
    click(&c, "save-and-deploy").await;
    let token = value(&c, "api-token").await;
    let base_url = value(&c, "base-url").await;
    let copy = c
        .find(Locator::Css("button[data-copy=api-token]"))
        .await
        .unwrap();
    assert!(
        !copy.is_displayed().await.unwrap(),
        "copy buttons need JavaScript"
    );
    let (status, _) = scim("GET", &format!("{base_url}/Users"), &token, None).await;
    assert_eq!(status, 200);
    click(&c, "read_all_users").await;
    click(&c, "save-settings").await;
    wait_text(&c, "#notice", "Saved and deployed").await;
    c.refresh().await.unwrap();
    assert!(
        c.find(Locator::Id("read_all_users"))
            .await
            .unwrap()
            .is_selected()
            .await
            .unwrap()
    );
    click(&c, "delete").await;
    click(&c, "confirm").await;
    wait_text(&c, ".notice", "was deleted").await;
    let (status, _) = scim("GET", &format!("{base_url}/Users"), &token, None).await;
    assert_eq!(status, 401);
    c.goto(&app.url("/admin/users/new")).await.unwrap();
    fill(&c, "user_name", "erin@example.com").await;
    click(&c, "create-user").await;
    wait_text(&c, "h1", "erin@example.com").await;
    wait_text(&c, "#notice", "was added").await;
    click(&c, "sign-out").await;
    expect_path(&c, "/admin/login").await;
    c.close().await.unwrap();
}

/// Enrollment as a user lives it: the email from a real SMTP listener, its link opened in the
/// browser (JavaScript off), the key read off the page, the code an authenticator app would
/// show typed in, and the check by alias that the verify endpoint then allows.
#[actix_web::test]
async fn enrollment_from_the_email_link() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let sink = smtp::SmtpSink::start().await;
    let port = sink.addr.port();
    let app = Appliance::start_with(|c| {
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = port;
        c.smtp.tls = scimgate::config::SmtpTls::None;
        c.smtp.from = "MFA <mfa@example.test>".into();
    })
    .await;
    let created = app.directory.create_integration("okta").await.unwrap();
    let id = created.integration.id.as_str().to_owned();
    app.directory
        .update_settings(
            &id,
            scimgate::directory::SettingsChange {
                send_enrollment_emails: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let base = format!("{}/scim/v2/{id}", app.public_url);
    let token = created.token.expose().to_owned();
    let mut body = user("enrollee@example.com", "Erin", "Enrollee", Some("erin"));
    body["emails"] = json!([{"value": "erin@mail.test", "type": "work", "primary": true}]);
    let (status, _) = scim("POST", &format!("{base}/Users"), &token, Some(body)).await;
    assert_eq!(status, 201);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.count_to("erin@mail.test") == 0 {
        assert!(Instant::now() < deadline, "no enrollment email arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let data = sink
        .messages()
        .last()
        .unwrap()
        .data
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = data.find("/enroll/").expect("a link in the email");
    let token_part: String = data[start + "/enroll/".len()..]
        .chars()
        .take_while(|ch| ch.is_ascii_alphanumeric() || *ch == '-' || *ch == '_')
        .collect();
    let c = driver.browser(false).await;
    c.goto(&app.url(&format!("/enroll/{token_part}")))
        .await
        .unwrap();
    click(&c, "start").await;
    let key = text(&c, "code.key").await;
    screenshot(&c, "enrollment").await;
    let secret = scimgate::auth::totp::TotpSecret::from_base32(key.trim())
        .expect("a base32 key on the page");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fill(&c, "code", &secret.code_at(now).unwrap()).await;
    click(&c, "confirm").await;
    wait_text(&c, "h1", "You are all set").await;
    // The account now verifies codes by its alias, with a verifier key (not the SCIM token).
    let next = secret.code_at(now + 30).unwrap();
    let key = app.directory.create_verifier_key("mfa").await.unwrap();
    let (status, v) = scim(
        "POST",
        &app.url("/api/v1/verify"),
        key.secret.expose(),
        Some(json!({"user": "ERIN", "code": next})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"], "allow", "{v}");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Issue 13 item 5 in a browser (JavaScript off): with `admin.require_second_factor` the first
/// administrator registers an authenticator right after setup (a wrong code first), keeps the
/// recovery codes, then signs in with the password and a code (a wrong one first), and with a
/// recovery code.
#[actix_web::test]
async fn admin_second_factor_in_a_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = Appliance::start_with(|c| c.admin.require_second_factor = true).await;
    let c = driver.browser(false).await;

    // Setup leads into registration; other pages send back there.
    c.goto(&app.setup_link).await.unwrap();
    fill(&c, "username", "admin").await;
    fill(&c, "password", PASSWORD).await;
    fill(&c, "confirm", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/account/register").await;
    wait_text(&c, "#required", "requires a second factor").await;
    c.goto(&app.url("/admin/users")).await.unwrap();
    expect_path(&c, "/admin/account/register").await;
    let key = text(&c, "code.key").await;
    let secret = scimgate::auth::totp::TotpSecret::from_base32(key.trim()).expect("a base32 key");
    assert!(c.find(Locator::Css(".qr svg")).await.is_ok(), "a QR code");
    screenshot(&c, "admin-second-factor-register").await;
    let good = secret.code_at(unix_now()).unwrap();
    let bad = if good == "123456" { "654321" } else { "123456" };
    fill(&c, "code", bad).await;
    click(&c, "confirm").await;
    wait_text(&c, "#code-error", "not right").await;
    fill(&c, "code", &secret.code_at(unix_now()).unwrap()).await;
    click(&c, "confirm").await;
    expect_path(&c, "/admin/account/recovery-codes").await;
    wait_text(&c, "h1", "Recovery codes").await;
    let mut codes = Vec::new();
    for e in c
        .find_all(Locator::Css("#recovery-codes code"))
        .await
        .unwrap()
    {
        codes.push(e.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    // Shown once: a reload says so and shows none.
    c.refresh().await.unwrap();
    wait_text(&c, "#already-shown", "already shown").await;
    click(&c, "account").await;
    expect_path(&c, "/admin/account").await;
    wait_text(&c, "#recovery-left", "10 of 10").await;
    c.goto(&app.url("/admin/provisioning")).await.unwrap();
    expect_path(&c, "/admin/provisioning").await;

    // Password, then a wrong code, then the right one.
    click(&c, "sign-out").await;
    expect_path(&c, "/admin/login").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/login/code").await;
    c.goto(&app.url("/admin/settings")).await.unwrap();
    expect_path(&c, "/admin/login/code").await;
    let next = secret.code_at(unix_now() + 30).unwrap();
    let bad = if next == "123456" { "654321" } else { "123456" };
    fill(&c, "code", bad).await;
    click(&c, "verify").await;
    wait_text(&c, "#error", "not right").await;
    screenshot(&c, "admin-second-factor-code").await;
    fill(&c, "code", &next).await;
    click(&c, "verify").await;
    expect_path(&c, "/admin/provisioning").await;

    // A recovery code signs in once; the account page counts what is left.
    click(&c, "sign-out").await;
    expect_path(&c, "/admin/login").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/login/code").await;
    fill(&c, "code", &codes[0]).await;
    click(&c, "verify").await;
    expect_path(&c, "/admin/account").await;
    wait_text(&c, "#notice", "recovery code").await;
    wait_text(&c, "#recovery-left", "9 of 10").await;
    click(&c, "sign-out").await;
    expect_path(&c, "/admin/login").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/login/code").await;
    fill(&c, "code", &codes[0]).await;
    click(&c, "verify").await;
    wait_text(&c, "#error", "not right").await;
}

/// Issue 15: no admin page scrolls sideways at 1280 × 800, and none is wider than a 375 px
/// phone (lists turn into stacked rows), with the long names, deactivated users, aliases,
/// pending emails and long filters a real directory has.
#[actix_web::test]
async fn every_page_fits_the_window() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = Appliance::start().await;
    app.directory.create_admin("admin", PASSWORD).await.unwrap();
    let name = "Okta production EMEA and North America workforce";
    let created = app.directory.create_integration(name).await.unwrap();
    let id = created.integration.id.as_str().to_owned();
    app.directory
        .update_settings(
            &id,
            scimgate::directory::SettingsChange {
                send_enrollment_emails: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let base = app.url(&format!("/scim/v2/{id}"));
    let token = created.token.expose().to_owned();
    let mut user_ids = Vec::new();
    for (n, g, f) in [
        (
            "alexandra.konstantinopoulou-vanderberg@subsidiary-holdings.example.com",
            "Alexandra Maria",
            "Konstantinopoulou-Vanderberg",
        ),
        ("bo.li@example.com", "Bo", "Li"),
    ] {
        let alias = format!("alias.of.{n}");
        let (s, v) = scim(
            "POST",
            &format!("{base}/Users"),
            &token,
            Some(user(n, g, f, Some(&alias))),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        user_ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let (s, _) = scim(
        "PATCH",
        &format!("{base}/Users/{}", user_ids[0]),
        &token,
        Some(patch),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = scim(
        "POST",
        &format!("{base}/Groups"),
        &token,
        Some(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "All employees of the EMEA and North America regions (workforce)",
            "members": [{"value": user_ids[0]}, {"value": user_ids[1]}]}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let group = v["id"].as_str().unwrap().to_owned();
    let filter = "userName%20eq%20%22alexandra.konstantinopoulou-vanderberg%40subsidiary-holdings.example.com%22";
    let (s, _) = scim(
        "GET",
        &format!("{base}/Users?filter={filter}&startIndex=1&count=100"),
        &token,
        None,
    )
    .await;
    assert_eq!(s, 200);

    let c = driver.browser(true).await;
    sign_in(&c, &app).await;
    c.goto(&app.url("/admin/activity")).await.unwrap();
    let activity = c
        .find(Locator::Css("a[href^='/admin/activity/']"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let pages = [
        "/admin/provisioning".to_owned(),
        format!("/admin/provisioning/{id}"),
        "/admin/provisioning/new".to_owned(),
        "/admin/users".to_owned(),
        format!("/admin/users/{}", user_ids[0]),
        "/admin/users/new".to_owned(),
        "/admin/groups".to_owned(),
        format!("/admin/groups/{group}"),
        "/admin/activity".to_owned(),
        activity,
        "/admin/outbox".to_owned(),
        "/admin/settings".to_owned(),
        "/admin/account".to_owned(),
    ];
    let mut wrong = Vec::new();
    for (w, h) in [(1280, 800), (375, 812)] {
        c.set_window_size(w, h).await.unwrap();
        for p in &pages {
            c.goto(&app.url(p)).await.unwrap();
            wait_text(&c, "h1", "").await;
            // The page's width, and every card's content against the card (a table that
            // scrolls inside its card cuts columns off).
            let v = c
                .execute(
                    "const over = [...document.querySelectorAll('.card')]
                        .filter(e => e.scrollWidth > e.clientWidth + 1)
                        .map(e => (e.id || e.className) + ' ' + e.scrollWidth + '>' + e.clientWidth);
                     return [window.innerWidth, document.documentElement.scrollWidth, over];",
                    vec![],
                )
                .await
                .unwrap();
            let inner = v[0].as_u64().unwrap();
            let scroll = v[1].as_u64().unwrap();
            if scroll > inner {
                wrong.push(format!(
                    "{p} at {w} px: the page is {scroll} px wide in a {inner} px window"
                ));
            }
            if v[2] != json!([]) {
                wrong.push(format!("{p} at {w} px: cards scroll sideways: {}", v[2]));
            }
            // Every page at both sizes, for looking at (target/screenshots/fit-*).
            let slug: String = p
                .trim_start_matches("/admin/")
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
                .take(24)
                .collect();
            let png = c.screenshot().await.unwrap();
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(format!("fit-{w}-{slug}.png")), png).unwrap();
        }
    }
    // One word for one thing: the pages say "provisioning", never "integration" (Okta's own
    // menu item "Configure API Integration" aside).
    c.set_window_size(1280, 800).await.unwrap();
    for p in &pages {
        c.goto(&app.url(p)).await.unwrap();
        wait_text(&c, "h1", "").await;
        let text = c
            .execute("return document.body.innerText;", vec![])
            .await
            .unwrap();
        let text = text
            .as_str()
            .unwrap()
            .to_lowercase()
            .replace("api integration", "");
        if let Some(at) = text.find("integration") {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(40)
                .map_or(0, |(i, _)| i);
            wrong.push(format!("{p} says: …{}…", &text[from..(at + 11)]));
        }
    }
    // Activity rows are one line high at 1280 px.
    c.goto(&app.url("/admin/activity")).await.unwrap();
    wait_text(&c, "#activity", "GET").await;
    let heights = c
        .execute(
            "return [...document.querySelectorAll('#activity tbody tr')].map(r => r.offsetHeight);",
            vec![],
        )
        .await
        .unwrap();
    if heights
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h.as_u64().unwrap() > 48)
    {
        wrong.push(format!("Activity rows taller than one line: {heights}"));
    }
    // No SMTP server and Send enrollment emails on: both pages say so.
    for p in [&pages[1], &pages[4]] {
        c.goto(&app.url(p)).await.unwrap();
        if wait_text(&c, "#smtp-off", "No SMTP server")
            .await
            .is_empty()
        {
            wrong.push(format!("{p}: no SMTP warning"));
        }
    }
    // A token used a moment ago, at the granularity it is written with.
    c.goto(&app.url("/admin/provisioning")).await.unwrap();
    wait_text(&c, "table", "within the last minute").await;
    c.goto(&app.url("/admin/outbox")).await.unwrap();
    wait_text(&c, "#outbox", "Pending").await;
    screenshot(&c, "17-email-outbox").await;
    c.set_window_size(375, 812).await.unwrap();
    c.goto(&app.url(&pages[4])).await.unwrap();
    wait_text(&c, "h1", "alexandra").await;
    screenshot(&c, "13b-user-phone").await;
    // Headings and labels as a screen reader reads them: the page's button is not part of its
    // heading, the radio button has its label, a request's heading is not smaller than its
    // breadcrumb.
    c.set_window_size(1280, 800).await.unwrap();
    for (page, button) in [
        ("/admin/provisioning", "add-provisioning"),
        ("/admin/users", "add-user"),
        ("/admin/groups", "add-group"),
    ] {
        c.goto(&app.url(page)).await.unwrap();
        wait_text(&c, "h1", "").await;
        let inside = c
            .execute(
                "return document.getElementById(arguments[0]).closest('h1') !== null;",
                vec![json!(button)],
            )
            .await
            .unwrap();
        if inside != json!(false) {
            wrong.push(format!("{page}: #{button} is inside the heading"));
        }
    }
    c.goto(&app.url("/admin/provisioning/new")).await.unwrap();
    wait_text(&c, "h1", "Add Provisioning").await;
    let labelled = c
        .execute(
            "const r = document.querySelector('input[type=radio][name=kind]');
             return [r.labels.length, r.closest('fieldset')?.querySelector('legend')?.textContent];",
            vec![],
        )
        .await
        .unwrap();
    if labelled != json!([1, "Provisioning type"]) {
        wrong.push(format!("the provisioning type radio: {labelled}"));
    }
    c.goto(&app.url(&pages[9])).await.unwrap();
    wait_text(&c, "h1", "").await;
    let sizes = c
        .execute(
            "const px = e => parseFloat(getComputedStyle(e).fontSize);
             return [px(document.querySelector('h1 code') || document.querySelector('h1')),
                     px(document.querySelector('.crumbs'))];",
            vec![],
        )
        .await
        .unwrap();
    if sizes[0].as_f64().unwrap() <= sizes[1].as_f64().unwrap() * 1.2 {
        wrong.push(format!(
            "a request's heading is not larger than its breadcrumb: {sizes}"
        ));
    }
    c.close().await.unwrap();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Issue 15: sign-in in a browser: back to the page asked for, the cursor in the password
/// after a wrong one, and a notice when the session ended.
#[actix_web::test]
async fn sign_in_returns_where_you_were() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let app = Appliance::start().await;
    app.directory.create_admin("admin", PASSWORD).await.unwrap();
    let c = driver.browser(true).await;
    c.goto(&app.url("/admin/users?q=bo")).await.unwrap();
    expect_path(&c, "/admin/login").await;
    fill(&c, "username", "admin").await;
    fill(&c, "password", "not the password").await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    wait_text(&c, "#error", "wrong").await;
    let focused = c
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("password"));
    fill(&c, "password", PASSWORD).await;
    click_at(&c, Locator::Css("button[type=submit]")).await;
    expect_path(&c, "/admin/users").await;
    expect_query(&c, "q=bo").await;
    // The session ends while the page is open; the next page says so.
    let cookie = c.get_named_cookie("scimgate_session").await.unwrap();
    app.directory.sign_out(cookie.value()).await.unwrap();
    c.goto(&app.url("/admin/groups")).await.unwrap();
    expect_path(&c, "/admin/login").await;
    wait_text(&c, ".notice", "Your session ended").await;
    c.close().await.unwrap();
}
