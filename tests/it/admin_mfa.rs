//! Administrators' second factor over HTTP (issue 13 item 5): with
//! `admin.require_second_factor` a new administrator registers an authenticator before any
//! other page; sign-in then takes the password and a code in two steps, with nothing granted in
//! between and a new session id after; codes and recovery codes work once; wrong codes count in
//! the sign-in throttle; `scimgate admin reset-second-factor` clears a lost phone.

use awc::http::StatusCode;
use scimgate::auth::totp::TotpSecret;

use crate::binary::scimgate;
use crate::enroll::unix_now;
use crate::support::admin::{Browser, Page};
use crate::support::*;

pub(crate) const PASSWORD: &str = "correct horse battery";
const REGISTER: &str = "/admin/account/register";
const CODE: &str = "/admin/login/code";

/// Every admin page outside the account pages.
const PAGES: &[&str] = &[
    "/admin/provisioning",
    "/admin/provisioning/new",
    "/admin/users",
    "/admin/users/new",
    "/admin/groups",
    "/admin/activity",
    "/admin/outbox",
    "/admin/settings",
];

pub(crate) async fn app(require: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.admin.require_second_factor = require;
    TestApp::spawn_with(dir, config).await
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &s[s.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

pub(crate) fn key_in(page: &Page) -> TotpSecret {
    let key = between(&page.body, "<code class=\"key\">", "</code>").expect("a key");
    TotpSecret::from_base32(key).unwrap()
}

pub(crate) fn recovery_codes_in(page: &Page) -> Vec<String> {
    let list = between(&page.body, "id=\"recovery-codes\">", "</ul>").unwrap_or_default();
    list.split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap().to_owned())
        .collect()
}

fn session_cookie(b: &Browser) -> String {
    b.cookies
        .get("scimgate_session")
        .cloned()
        .unwrap_or_default()
}

/// A code of `secret` the server has not accepted yet: the next time step (within the
/// ±1 step of skew), since registration used the current one.
pub(crate) fn next_code(secret: &TotpSecret) -> String {
    secret.code_at(unix_now() + 30).unwrap()
}

/// A 6-digit code that is none of the codes valid now.
fn wrong_code(secret: &TotpSecret) -> String {
    let now = unix_now();
    let valid: Vec<String> = [now - 30, now, now + 30, now + 60]
        .iter()
        .map(|t| secret.code_at(*t).unwrap())
        .collect();
    (0..)
        .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap()
}

/// Registers an authenticator from the registration page; returns its secret and the recovery
/// codes shown once.
pub(crate) async fn register(b: &mut Browser) -> (TotpSecret, Vec<String>) {
    let page = b.get(REGISTER).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<svg"), "a QR code");
    let secret = key_in(&page);
    let code = secret.code_at(unix_now()).unwrap();
    let p = b
        .post(REGISTER, &[("csrf", &page.csrf()), ("code", &code)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/account/recovery-codes"));
    let shown = b.get("/admin/account/recovery-codes").await;
    let codes = recovery_codes_in(&shown);
    assert_eq!(codes.len(), 10, "{}", shown.body);
    (secret, codes)
}

pub(crate) async fn sign_out(b: &mut Browser) {
    let page = b.get("/admin/account").await;
    let csrf = page.csrf();
    let p = b.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}

/// The password step: ends at the code page.
pub(crate) async fn password_step(b: &mut Browser) -> String {
    let p = b.sign_in("admin", PASSWORD).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some(CODE));
    let form = b.get(CODE).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    form.csrf()
}

pub(crate) async fn give_code(b: &mut Browser, csrf: &str, code: &str) -> Page {
    b.post(CODE, &[("csrf", csrf), ("code", code)]).await
}

#[actix_web::test]
async fn a_new_admin_registers_first_then_signs_in_with_password_and_code() {
    let app = app(true).await;
    let mut b = Browser::new(&app);
    let p = b
        .setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    // Setup leads into registration, and every other page sends there.
    assert_eq!(p.location.as_deref(), Some(REGISTER));
    for page in PAGES {
        let p = b.get(page).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(p.location.as_deref(), Some(REGISTER), "{page}");
    }
    // The account page, sign-out's form and the static files stay reachable.
    let account = b.get("/admin/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("Not registered"));
    assert_eq!(b.get("/static/style.css").await.status, StatusCode::OK);

    // A wrong code is refused next to the field; the same QR code stays on the page.
    let page = b.get(REGISTER).await;
    let secret = key_in(&page);
    let p = b
        .post(
            REGISTER,
            &[("csrf", &page.csrf()), ("code", &wrong_code(&secret))],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"code-error\""), "{}", p.body);
    assert_eq!(key_in(&p).expose(), secret.expose());

    let (secret, recovery) = register(&mut b).await;
    for c in &recovery {
        assert_eq!(c.len(), 14, "{c}");
    }
    // The recovery codes are shown once: a reload does not show them again.
    let again = b.get("/admin/account/recovery-codes").await;
    assert!(recovery_codes_in(&again).is_empty());
    assert!(again.body.contains("already shown"));
    assert!(!again.body.contains(&recovery[0]));
    assert_eq!(b.get("/admin/provisioning").await.status, StatusCode::OK);
    let settings = b.get("/admin/settings").await;
    assert!(
        settings
            .body
            .contains("<td data-label=\"Second factor\">authenticator</td>"),
        "{}",
        settings.body
    );
    let account = b.get("/admin/account").await;
    assert!(account.body.contains("10 of 10"), "{}", account.body);
    // Removing is not offered while a second factor is required.
    assert!(!account.body.contains("id=\"remove\""));
    let p = b
        .post(
            "/admin/account/remove",
            &[("csrf", &account.csrf()), ("code", &next_code(&secret))],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("cannot be removed") || p.body.contains("replace the authenticator"));
    sign_out(&mut b).await;

    // Password first: a pending session that opens no admin page.
    let csrf = password_step(&mut b).await;
    let pending = session_cookie(&b);
    for page in PAGES.iter().chain(&["/admin/account", REGISTER]) {
        let p = b.get(page).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{page}");
        assert_eq!(p.location.as_deref(), Some(CODE), "{page}");
    }
    // A wrong code is refused.
    let p = give_code(&mut b, &csrf, &wrong_code(&secret)).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("not right"), "{}", p.body);
    // The right code signs in under a new session id; the pending one is gone.
    let code = next_code(&secret);
    let p = give_code(&mut b, &csrf, &code).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/admin/provisioning"));
    let full = session_cookie(&b);
    assert!(
        !full.is_empty() && full != pending,
        "the session id rotates"
    );
    assert_eq!(b.get("/admin/provisioning").await.status, StatusCode::OK);
    let mut stale = Browser::new(&app);
    stale
        .cookies
        .insert("scimgate_session".into(), pending.clone());
    let p = stale.get("/admin/provisioning").await;
    assert_eq!(p.location.as_deref(), Some("/admin/login?ended=1"));
    sign_out(&mut b).await;

    // The same code (same time step) is not accepted twice.
    let csrf = password_step(&mut b).await;
    let p = give_code(&mut b, &csrf, &code).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("already used"), "{}", p.body);

    // A recovery code works (typed in capitals, without dashes), once.
    let typed = recovery[3].to_uppercase().replace('-', "");
    let p = give_code(&mut b, &csrf, &typed).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/account?recovery_used=1")
    );
    let account = b.get("/admin/account").await;
    assert!(account.body.contains("9 of 10"), "{}", account.body);
    assert!(account.body.contains("recovery code"));
    sign_out(&mut b).await;
    let csrf = password_step(&mut b).await;
    let p = give_code(&mut b, &csrf, &recovery[3]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    let p = give_code(&mut b, &csrf, &recovery[4]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
}

#[actix_web::test]
async fn wrong_codes_count_in_the_sign_in_throttle() {
    let app = app(true).await;
    let mut b = Browser::new(&app);
    b.setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    let (secret, _) = register(&mut b).await;
    sign_out(&mut b).await;
    let csrf = password_step(&mut b).await;
    let wrong = wrong_code(&secret);
    for _ in 0..scimgate::directory::admins::FREE_FAILURES {
        let p = give_code(&mut b, &csrf, &wrong).await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED, "{}", p.body);
    }
    // Further attempts wait, even the right code, and the password step too.
    let p = give_code(&mut b, &csrf, &next_code(&secret)).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    assert!(p.body.contains("Too many failed sign-ins"), "{}", p.body);
    let mut other = Browser::new(&app);
    let p = other.sign_in("admin", PASSWORD).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn without_the_requirement_registration_is_voluntary_but_then_asked() {
    let app = app(false).await;
    let mut b = Browser::new(&app);
    let p = b
        .setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    assert_eq!(p.location.as_deref(), Some("/admin/provisioning"));
    assert_eq!(b.get("/admin/users").await.status, StatusCode::OK);
    let (secret, old) = register(&mut b).await;

    // New recovery codes need a right code; the old ones stop working.
    let account = b.get("/admin/account").await;
    let p = b
        .post(
            "/admin/account/recovery-codes",
            &[("csrf", &account.csrf()), ("code", &wrong_code(&secret))],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"regenerate-error\""), "{}", p.body);
    let p = b
        .post(
            "/admin/account/recovery-codes",
            &[("csrf", &account.csrf()), ("code", &next_code(&secret))],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let fresh = recovery_codes_in(&b.get("/admin/account/recovery-codes").await);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !old.contains(c)));
    sign_out(&mut b).await;

    // Registered voluntarily, the code is still asked for.
    let csrf = password_step(&mut b).await;
    let p = give_code(&mut b, &csrf, &old[0]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    let p = give_code(&mut b, &csrf, &fresh[0]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    // Removing takes a right code; then the password alone signs in again.
    let account = b.get("/admin/account").await;
    assert!(account.body.contains("id=\"remove\""));
    let p = b
        .post(
            "/admin/account/remove",
            &[("csrf", &account.csrf()), ("code", &wrong_code(&secret))],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"remove-error\""), "{}", p.body);
    // The step after the one used to regenerate: wait for it to be in the window.
    let used = unix_now() / 30 + 1;
    while unix_now() / 30 < used {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let p = b
        .post(
            "/admin/account/remove",
            &[("csrf", &account.csrf()), ("code", &next_code(&secret))],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    sign_out(&mut b).await;
    let p = b.sign_in("admin", PASSWORD).await;
    assert_eq!(p.location.as_deref(), Some("/admin/provisioning"));
}

#[actix_web::test]
async fn replacing_the_authenticator_needs_a_code_of_the_old_one() {
    let app = app(true).await;
    let mut b = Browser::new(&app);
    b.setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    let (old, old_recovery) = register(&mut b).await;
    let page = b.get(REGISTER).await;
    assert!(page.body.contains("Replace your authenticator"));
    let new = key_in(&page);
    assert_ne!(new.expose(), old.expose());
    let new_code = new.code_at(unix_now()).unwrap();
    // A wrong code of the old authenticator is refused next to its field.
    let p = b
        .post(
            REGISTER,
            &[
                ("csrf", &page.csrf()),
                ("current", &wrong_code(&old)),
                ("code", &new_code),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"current-error\""), "{}", p.body);
    let p = b
        .post(
            REGISTER,
            &[
                ("csrf", &page.csrf()),
                ("current", &next_code(&old)),
                ("code", &new_code),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let fresh = recovery_codes_in(&b.get("/admin/account/recovery-codes").await);
    assert_eq!(fresh.len(), 10);
    sign_out(&mut b).await;
    // The old authenticator and its recovery codes no longer sign in; the new one does.
    let csrf = password_step(&mut b).await;
    let p = give_code(&mut b, &csrf, &old_recovery[0]).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    let p = give_code(&mut b, &csrf, &next_code(&new)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
}

#[actix_web::test]
async fn reset_second_factor_with_the_binary() {
    let app = app(true).await;
    let mut b = Browser::new(&app);
    b.setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    register(&mut b).await;
    assert_eq!(b.get("/admin/provisioning").await.status, StatusCode::OK);

    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        scimgate(dir.path())
            .env("SCIMGATE_DATABASE", app.db_path())
            .args(["admin", "reset-second-factor", "--username", name])
            .output()
            .unwrap()
    };
    let unknown = run("nobody");
    assert!(!unknown.status.success());
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.contains("no administrator is named 'nobody'"), "{err}");

    let out = run("ADMIN");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Removed the authenticator of administrator \"admin\"")
            && said.contains("10 unused recovery code(s)")
            && said.contains("ended 1 session(s)"),
        "{said}"
    );
    // Signed out (the reset ended the session); the password alone now signs in, straight
    // into registration.
    let p = b.get("/admin/provisioning").await;
    assert_eq!(p.location.as_deref(), Some("/admin/login?ended=1"));
    let p = b.sign_in("admin", PASSWORD).await;
    assert_eq!(p.location.as_deref(), Some("/admin/provisioning"));
    let p = b.get("/admin/provisioning").await;
    assert_eq!(p.location.as_deref(), Some(REGISTER));
}
