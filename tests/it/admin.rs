//! The admin pages over HTTP (no browser): first admin, sign-in, sessions, CSRF on every form,
//! integrations, users and activity.

use std::time::{Duration, Instant};

use awc::http::StatusCode;

use crate::support::admin::{Browser, Page};
use crate::support::*;

const PASSWORD: &str = "correct horse battery";

#[actix_web::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = TestApp::spawn().await;
    let link = app.setup_link.clone().expect("a setup link on first start");
    let mut b = Browser::new(&app);
    // Pages need a session.
    let p = b.get("/admin/provisioning").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/admin/login"));
    // Field errors are shown next to the fields.
    let form = b.get(&link).await;
    let csrf = form.csrf();
    let p = b
        .post(
            &link,
            &[
                ("csrf", &csrf),
                ("username", "admin"),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("at least 10 characters"), "{}", p.body);
    b.setup(&link, "admin", PASSWORD).await;
    let p = b.get("/admin/provisioning").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Add Provisioning (+)"));
    // The link is one-time.
    let mut other = Browser::new(&app);
    let p = other.get(&link).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("does not work"));
}

#[actix_web::test]
async fn session_cookie_flags_and_sign_out() {
    let app = TestApp::spawn().await;
    let mut b = Browser::new(&app);
    let p = b
        .setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    let cookie = p
        .set_cookies
        .iter()
        .find(|c| c.starts_with("scimgate_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http must not set Secure: {cookie}"
    );
    let stolen = b.cookies.clone();
    let page = b.get("/admin/settings").await;
    let csrf = page.csrf();
    let p = b.post("/admin/logout", &[("csrf", &csrf)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(b.get("/admin/settings").await.status == StatusCode::SEE_OTHER);
    // The old cookie is dead on the server, not just removed from the browser.
    b.cookies = stolen;
    assert_eq!(b.get("/admin/settings").await.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn cookies_are_secure_behind_https() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.server.public_url = "https://mfa.example.com".into();
    let app = TestApp::spawn_with(dir, config).await;
    let mut b = Browser::new(&app);
    let p = b
        .setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    let cookie = p
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-scimgate_session="))
        .expect("a __Host- session cookie");
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("Path=/"));
}

#[actix_web::test]
async fn repeated_failed_sign_ins_are_slowed_down() {
    let app = TestApp::spawn().await;
    let mut b = Browser::admin(&app).await;
    b.cookies.clear();
    for _ in 0..5 {
        let p = b.sign_in("admin", "wrong password!").await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
        assert!(p.body.contains("username or password is wrong"));
    }
    // Now even the right password waits.
    let p = b.sign_in("admin", PASSWORD).await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
    assert!(p.body.contains("try again in"), "{}", p.body);
    // Other usernames are not affected; unknown ones cost a verification and fail the same way.
    let p = b.sign_in("nobody", PASSWORD).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
}

/// Every state-changing form: (path, extra fields).
fn forms(iid: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    vec![
        ("/admin/logout".into(), vec![]),
        (
            "/admin/provisioning/new".into(),
            vec![("kind", "scim2"), ("name", "x")],
        ),
        (
            format!("/admin/provisioning/{iid}/settings"),
            vec![("read_all_users", "on")],
        ),
        (
            format!("/admin/provisioning/{iid}/regenerate"),
            vec![("keep_old_for", "0")],
        ),
        (
            format!("/admin/provisioning/{iid}/lifetime"),
            vec![("token_lifetime", "90d")],
        ),
        (format!("/admin/provisioning/{iid}/delete"), vec![]),
        (
            "/admin/users/new".into(),
            vec![("user_name", "csrf@example.com")],
        ),
        ("/admin/users/nope/edit".into(), vec![("given_name", "x")]),
        ("/admin/groups/new".into(), vec![("display_name", "csrf")]),
        (
            "/admin/groups/nope/members".into(),
            vec![("login", "x@example.com")],
        ),
        (
            "/admin/groups/nope/members/remove".into(),
            vec![("user", "x")],
        ),
        (
            "/admin/settings/verifier-keys".into(),
            vec![("name", "csrf")],
        ),
        (
            "/admin/settings/verifier-keys/0123456789abcdef0123456789abcdef/revoke".into(),
            vec![],
        ),
        (
            "/admin/login".into(),
            vec![("username", "admin"), ("password", PASSWORD)],
        ),
        (
            "/admin/setup/anything".into(),
            vec![
                ("username", "x"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ],
        ),
    ]
}

#[actix_web::test]
async fn every_form_without_its_token_or_from_another_site_is_refused() {
    let app = TestApp::spawn().await;
    let mut b = Browser::admin(&app).await;
    let csrf = b.get("/admin/settings").await.csrf();
    for (path, fields) in forms(&app.integration_id) {
        // No token.
        let p = b.post(&path, &fields).await;
        assert_eq!(
            p.status,
            StatusCode::FORBIDDEN,
            "{path} without a token: {}",
            p.body
        );
        // A wrong token.
        let mut f = fields.clone();
        f.push(("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        let p = b.post(&path, &f).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path} with a wrong token");
        // The right token, but sent from another site.
        let mut f = fields.clone();
        f.push(("csrf", &csrf));
        let p = b
            .post_with(&path, &f, &[("Origin", "https://evil.example")])
            .await;
        assert_eq!(
            p.status,
            StatusCode::FORBIDDEN,
            "{path} with a foreign Origin"
        );
        let p = b
            .post_with(&path, &f, &[("Sec-Fetch-Site", "cross-site")])
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path} cross-site");
        assert!(p.body.contains("Request id"), "a friendly error page");
    }
    // Nothing happened: still signed in, the integration and its settings untouched.
    let page = b
        .get(&format!("/admin/provisioning/{}", app.integration_id))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        !page
            .body
            .contains("id=\"read_all_users\" name=\"read_all_users\" value=\"on\" checked")
    );
    assert_eq!(
        app.get("/Users").await.status,
        StatusCode::OK,
        "the token still works"
    );
    let users = b.get("/admin/users?q=csrf").await;
    assert!(users.body.contains("No users found"));
    let groups = b.get("/admin/groups?q=csrf").await;
    assert!(groups.body.contains("No groups found"));
    assert!(app.directory.list_verifier_keys().await.unwrap().is_empty());
}

#[actix_web::test]
async fn save_and_deploy_regenerate_and_delete() {
    let app = TestApp::spawn().await;
    let mut b = Browser::admin(&app).await;
    // Add Provisioning: a field error for a taken name, then Save and Deploy.
    let csrf = b.get("/admin/provisioning/new").await.csrf();
    let p = b
        .post(
            "/admin/provisioning/new",
            &[("csrf", &csrf), ("kind", "scim2"), ("name", "OKTA")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"name-error\""), "{}", p.body);
    assert!(p.body.contains("already taken by another provisioning"));
    let p = b
        .post(
            "/admin/provisioning/new",
            &[("csrf", &csrf), ("kind", "scim2"), ("name", "Entra ID")],
        )
        .await;
    // POST → redirect → GET: the token is on the page the redirect leads to, once.
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let shown_at = p.location.clone().unwrap();
    assert!(shown_at.ends_with("?created=1"), "{shown_at}");
    assert!(!p.body.contains("scg_"));
    let p = b.get(&shown_at).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("you will not see it again"));
    assert!(p.body.contains("Saved and deployed"));
    let token = p.input("api-token").expect("the token is shown");
    let base = p.input("base-url").expect("the Base URL is shown");
    let iid = base.rsplit('/').next().unwrap().to_owned();
    // The token and Base URL work for SCIM.
    let scim = |t: &str| (t.to_owned(), base.replace("localhost", "127.0.0.1"));
    let (t, url) = scim(&token);
    let r = send(
        app.client
            .post(format!("{url}/Users"))
            .insert_header(("Authorization", format!("Bearer {t}"))),
        Some(&okta_user("entra.user@example.com")),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The page no longer shows the token; a reload of the page that showed it says so and
    // makes nothing new.
    let page = b.get(&format!("/admin/provisioning/{iid}")).await;
    assert!(page.input("api-token").is_none());
    assert!(!page.body.contains(&token));
    let again = b.get(&shown_at).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.input("api-token").is_none());
    assert!(
        again.body.contains("shown once and is not shown again"),
        "{}",
        again.body
    );
    assert_eq!(app.directory.list_integrations().await.unwrap().len(), 2);
    // Save and Deploy the settings; a reload shows them.
    let csrf = page.csrf();
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/settings"),
            &[
                ("csrf", &csrf),
                ("include_manual", "on"),
                ("read_all_users", "on"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = b.get(p.location.as_deref().unwrap()).await;
    assert!(page.body.contains("Saved and deployed"));
    assert!(
        page.body
            .contains("name=\"include_manual\" value=\"on\" checked")
    );
    assert!(
        page.body
            .contains("name=\"read_all_users\" value=\"on\" checked")
    );
    assert!(
        !page
            .body
            .contains("name=\"send_enrollment_emails\" value=\"on\" checked")
    );
    // Regenerate with no overlap: the old token gets 401 at once, the new one works.
    let p = b
        .get(&format!("/admin/provisioning/{iid}/regenerate"))
        .await;
    assert!(p.body.contains("stops working at once"));
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/regenerate"),
            &[("csrf", &csrf), ("keep_old_for", "0")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let p = b.get(p.location.as_deref().unwrap()).await;
    assert!(p.body.contains("the previous one no longer works"));
    let new_token = p.input("api-token").unwrap();
    assert_ne!(new_token, token);
    let get = |t: String| {
        app.client
            .get(format!("{url}/Users"))
            .insert_header(("Authorization", format!("Bearer {t}")))
    };
    assert_eq!(
        send(get(token.clone()), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(get(new_token.clone()), None).await.status,
        StatusCode::OK
    );
    // Delete: its user stays, as a manual user.
    let p = b.get(&format!("/admin/provisioning/{iid}/delete")).await;
    assert!(p.body.contains("Nothing is deleted"));
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let list = b.get(p.location.as_deref().unwrap()).await;
    assert!(
        list.body
            .contains("Its one user is now manually provisioned"),
        "{}",
        list.body
    );
    assert_eq!(
        send(get(new_token), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let users = b.get("/admin/users?q=entra.user&source=manual").await;
    assert!(
        users.body.contains("entra.user@example.com"),
        "{}",
        users.body
    );
}

#[actix_web::test]
async fn add_a_manual_user_and_find_it() {
    let app = TestApp::spawn().await;
    let okta = app.create_user("okta.user@example.com").await;
    let mut b = Browser::admin(&app).await;
    let csrf = b.get("/admin/users/new").await.csrf();
    // Field errors next to the fields.
    let p = b
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("user_name", ""),
                ("email", "not-an-email"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"user_name-error\""));
    assert!(p.body.contains("id=\"email-error\""));
    // A taken name (any case, as an alias too) is a field error.
    let p = b
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("user_name", "carol@example.com"),
                ("aliases", "OKTA.USER@example.com"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"aliases-error\""), "{}", p.body);
    let p = b
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("user_name", "carol@example.com"),
                ("given_name", "Carol"),
                ("family_name", "Jones"),
                ("email", "carol.jones@mail.example"),
                ("aliases", "cj@example.com\ncarol.j@example.com"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // Add user lands on the new user's page.
    let to = p.location.clone().unwrap();
    assert!(
        to.starts_with("/admin/users/") && to.ends_with("?changed=created"),
        "{to}"
    );
    let page = b.get(&to).await;
    assert!(page.body.contains("was added"));
    assert!(page.body.contains("<h1>carol@example.com"), "{}", page.body);
    // Found by alias, email and name, case-insensitively; filtered by source and status.
    for q in ["CJ@EXAMPLE", "carol.jones@mail", "jones", "carol"] {
        let p = b.get(&format!("/admin/users?q={}", enc(q))).await;
        assert!(p.body.contains("carol@example.com"), "search {q}");
        assert!(!p.body.contains("okta.user@example.com"), "search {q}");
    }
    let p = b.get("/admin/users?source=manual").await;
    assert!(p.body.contains("carol@example.com") && !p.body.contains("okta.user@example.com"));
    let p = b
        .get(&format!("/admin/users?source={}", app.integration_id))
        .await;
    assert!(!p.body.contains("carol@example.com") && p.body.contains("okta.user@example.com"));
    let p = b.get("/admin/users?status=inactive").await;
    assert!(p.body.contains("No users found"));
    // The search follows SCIM changes.
    let mut body = okta_user("okta.user@example.com");
    body["displayName"] = "Zoë Quux".into();
    let r = app
        .put(&format!("/Users/{}", okta["id"].as_str().unwrap()), &body)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let p = b.get(&format!("/admin/users?q={}", enc("ZOË QU"))).await;
    assert!(p.body.contains("okta.user@example.com"), "{}", p.body);
    // `%` and `_` are literal in a search.
    let p = b.get("/admin/users?q=%25").await;
    assert!(p.body.contains("No users found"));
    // The manual user is invisible to Okta until Include Manually Provisioned Users is on.
    let r = app
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"carol@example.com\"")
        ))
        .await;
    assert_eq!(r.body["totalResults"], 0);
}

#[actix_web::test]
async fn edit_a_manual_user_but_not_an_integrations() {
    let app = TestApp::spawn().await;
    let okta = app.create_user("okta.user@example.com").await;
    let okta_id = okta["id"].as_str().unwrap().to_owned();
    let mut b = Browser::admin(&app).await;
    let csrf = b.get("/admin/users/new").await.csrf();
    let p = b
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("user_name", "erin@example.com"),
                ("given_name", "Erin"),
                ("aliases", "e@example.com"),
            ],
        )
        .await;
    assert!(p.status.is_redirection(), "{}", p.body);
    let list = b.get("/admin/users?q=erin").await;
    let id = list
        .body
        .split("href=\"/admin/users/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|id| id.len() == 36)
        .unwrap()
        .to_owned();
    let path = format!("/admin/users/{id}/edit");
    let form = b.get(&path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body
            .contains("id=\"given_name\" name=\"given_name\" value=\"Erin\"")
    );
    assert!(
        form.body.contains(">e@example.com</textarea>"),
        "{}",
        form.body
    );
    let csrf = form.csrf();
    // Field errors next to the fields; a taken alias is named.
    let p = b
        .post(
            &path,
            &[("csrf", &csrf), ("email", "nope"), ("aliases", "")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"email-error\""), "{}", p.body);
    let p = b
        .post(
            &path,
            &[("csrf", &csrf), ("aliases", "OKTA.USER@example.com")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"aliases-error\""), "{}", p.body);
    assert!(p.body.contains("is already the username or an alias"));
    // Saved.
    let p = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("given_name", "Erin"),
                ("family_name", "Stone"),
                ("email", "erin.stone@mail.example"),
                ("aliases", "erin.s@example.com"),
            ],
        )
        .await;
    assert!(p.status.is_redirection(), "{}", p.body);
    let p = b.get(&format!("/admin/users/{id}?changed=edited")).await;
    assert!(p.body.contains("Erin Stone"), "{}", p.body);
    assert!(p.body.contains("erin.stone@mail.example"));
    assert!(p.body.contains("erin.s@example.com") && !p.body.contains(">e@example.com<"));
    assert!(p.body.contains("Active"), "status kept");
    // An integration's user stays read-only, even on a direct POST.
    assert_eq!(
        b.get(&format!("/admin/users/{okta_id}/edit")).await.status,
        StatusCode::FORBIDDEN
    );
    let p = b
        .post(
            &format!("/admin/users/{okta_id}/edit"),
            &[("csrf", &csrf), ("given_name", "Mallory")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = b.get(&format!("/admin/users/{okta_id}")).await;
    assert!(!p.body.contains("Mallory") && !p.body.contains("id=\"edit-user\""));
}

#[actix_web::test]
async fn users_page_pages_through_many_users() {
    let app = TestApp::spawn().await;
    for i in 0..120 {
        app.create_user(&format!("user{i:03}@example.com")).await;
    }
    let mut b = Browser::admin(&app).await;
    let p = b.get("/admin/users").await;
    assert!(p.body.contains("1–50 of 120"), "{}", p.body);
    assert!(p.body.contains("user119@example.com"), "newest first");
    let p = b.get("/admin/users?q=&source=&status=&page=3").await;
    assert!(p.body.contains("101–120 of 120"));
    assert!(p.body.contains("user000@example.com"));
}

/// The Activity page once `ready` holds for it (entries are written in batches, at most a
/// second after the request); fails after 20 s.
async fn activity_when(b: &mut Browser, ready: impl Fn(&str) -> bool) -> Page {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = b.get("/admin/activity").await;
        if ready(&p.body) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "activity not recorded: {}",
            p.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn activity_records_scim_requests() {
    let app = TestApp::spawn().await;
    let user = app.create_user("dave@example.com").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let r = app.post("/Users", &okta_user("dave@example.com")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &serde_json::json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mut b = Browser::admin(&app).await;
    // Entries are written in batches, at most a second later.
    let page = activity_when(&mut b, |body| {
        body.contains("deactivated user dave@example.com")
    })
    .await;
    assert!(page.body.contains("created user dave@example.com"));
    assert!(
        page.body
            .contains("409 userName &#39;dave@example.com&#39; is already taken"),
        "{}",
        page.body
    );
    assert!(page.body.contains("POST /Users"));
    // Filter: errors only.
    let p = b.get("/admin/activity?errors=1").await;
    assert!(p.body.contains("already taken") && !p.body.contains("created user"));
    // The user's page lists what touched it.
    let p = b.get(&format!("/admin/users/{id}")).await;
    assert!(p.body.contains("deactivated user dave@example.com"));
    assert!(p.body.contains("Deactivated"));
    // The integrations list shows the last request.
    let p = b.get("/admin/provisioning").await;
    assert!(p.body.contains("badge ok\">200</span>"), "{}", p.body);
}

/// The `href="/admin/activity/N"` links of a page, in page order (newest first).
fn activity_links(body: &str) -> Vec<String> {
    body.split("href=\"/admin/activity/")
        .skip(1)
        .filter_map(|rest| {
            let seq: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!seq.is_empty()).then(|| format!("/admin/activity/{seq}"))
        })
        .collect()
}

#[actix_web::test]
async fn activity_shows_request_bodies_with_secrets_redacted_and_never_stores_them() {
    let app = TestApp::spawn().await;
    const PW1: &str = "Sup3r-Secret-Pw1";
    const PW2: &str = "An0ther-Secret-Pw2";
    const PW3: &str = "Bad-Json-Secret-Pw3";
    let mut body = okta_user("erin@example.com");
    body["password"] = serde_json::json!(PW1);
    body["urn:example:ext"] = serde_json::json!({"apiToken": "tok-XYZZY-1"});
    let r = app.post("/Users", &body).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &serde_json::json!({"schemas": [PATCH_URN], "Operations": [
                {"op": "replace", "path": "password", "value": PW2},
                {"op": "replace", "path": "title", "value": "Engineer"}
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Not JSON: nothing of it can be redacted reliably, so nothing of it is kept.
    let mut res = app
        .client
        .post(app.url("/Users"))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Content-Type", "application/scim+json"))
        .send_body(format!("{{\"userName\": \"x\", \"password\": \"{PW3}\""))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let _ = res.body().await;

    let mut b = Browser::admin(&app).await;
    let list = activity_when(&mut b, |body| activity_links(body).len() >= 3).await;
    let links = activity_links(&list.body);
    assert_eq!(links.len(), 3, "{}", list.body);
    // Newest first: the bad body, the PATCH, the POST.
    let bad = b.get(&links[0]).await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(
        bad.body
            .contains("not valid JSON, so secrets in it could not be redacted"),
        "{}",
        bad.body
    );
    assert!(!bad.body.contains(PW3));
    assert!(!bad.body.contains("id=\"body\""));
    let patch = b.get(&links[1]).await;
    assert!(patch.body.contains("[redacted]"), "{}", patch.body);
    assert!(patch.body.contains("Engineer"), "{}", patch.body);
    assert!(!patch.body.contains(PW2));
    let post = b.get(&links[2]).await;
    assert!(post.body.contains("erin@example.com"), "{}", post.body);
    assert!(post.body.contains("[redacted]"));
    assert!(!post.body.contains(PW1) && !post.body.contains("tok-XYZZY-1"));
    assert!(
        post.body.contains(&format!("/admin/users/{id}")),
        "links the user"
    );
    // The user's page links to the same entries.
    let u = b.get(&format!("/admin/users/{id}")).await;
    assert!(activity_links(&u.body).contains(&links[1]));
    // A GET has no body; an unknown entry is a 404 page.
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        b.get("/admin/activity/999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/admin/activity/x").await.status,
        StatusCode::NOT_FOUND
    );

    // No secret reached the disk: not in the database file, not in its write-ahead log.
    let db = app.db_path();
    for path in [db.clone(), db.with_extension("db-wal")] {
        let bytes = std::fs::read(&path).unwrap_or_default();
        for secret in [PW1, PW2, PW3, "tok-XYZZY-1"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} found in {}",
                path.display()
            );
        }
    }
}

#[actix_web::test]
async fn activity_notes_group_changes_and_filters_by_status_and_resource() {
    let app = TestApp::spawn().await;
    let a = app.create_user("a@example.com").await;
    let b_ = app.create_user("b@example.com").await;
    let c = app.create_user("c@example.com").await;
    let g = app
        .post("/Groups", &serde_json::json!({"displayName": "Eng"}))
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let members: Vec<_> = [&a, &b_, &c]
        .iter()
        .map(|u| serde_json::json!({"value": u["id"]}))
        .collect();
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &serde_json::json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": members}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &serde_json::json!({"schemas": [PATCH_URN], "Operations": [
                {"op": "remove", "path": format!("members[value eq \"{}\"]", a["id"].as_str().unwrap())}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &serde_json::json!({"schemas": [PATCH_URN], "Operations": [
                {"op": "replace", "value": {"id": gid, "displayName": "Engineering"}}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = app
        .put(
            &format!("/Groups/{gid}"),
            &serde_json::json!({"displayName": "Engineering"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/Groups/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/ServiceProviderConfig").await.status,
        StatusCode::OK
    );
    let r = app.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let mut b = Browser::admin(&app).await;
    let page = activity_when(&mut b, |body| {
        body.contains(&format!("deleted group {gid}"))
    })
    .await;
    for s in [
        "created group Eng",
        "added 3 members to Eng",
        "removed 1 member from Eng",
        "renamed group to Engineering",
        "replaced group Engineering",
    ] {
        assert!(page.body.contains(s), "{s}: {}", page.body);
    }
    let p = b.get("/admin/activity?resource=groups").await;
    assert!(p.body.contains("created group Eng") && !p.body.contains("created user"));
    assert!(p.body.contains("<option value=\"groups\" selected>"));
    let p = b.get("/admin/activity?resource=users").await;
    assert!(p.body.contains("created user a@example.com") && !p.body.contains("created group"));
    let p = b.get("/admin/activity?resource=other").await;
    assert!(p.body.contains("GET /ServiceProviderConfig"));
    assert!(!p.body.contains("created user") && !p.body.contains("created group"));
    let p = b.get("/admin/activity?status=4xx").await;
    assert!(p.body.contains("GET /Groups/nope") && !p.body.contains("created group"));
    let p = b.get("/admin/activity?status=2xx&resource=groups").await;
    assert!(p.body.contains("created group Eng") && !p.body.contains("GET /Groups/nope"));
    let p = b.get("/admin/activity?status=5xx").await;
    assert!(p.body.contains("No SCIM requests match"));
}

#[actix_web::test]
async fn settings_page_error_pages_and_static_files() {
    let app = TestApp::spawn().await;
    let mut b = Browser::admin(&app).await;
    let p = b.get("/admin/settings").await;
    assert!(
        p.body.contains("server.public_url") && p.body.contains("SCIMGATE_ACTIVITY_RETENTION_DAYS")
    );
    assert!(p.body.contains("<td data-label=\"Username\">admin</td>"));
    let p = b.get("/admin/no-such-page").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("Page not found") && p.body.contains("request-id"));
    let p = b.get("/no/such/path").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("Page not found"));
    let p = b.get("/admin/users/does-not-exist").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    for f in ["/static/style.css", "/static/copy.js", "/static/logo.svg"] {
        assert_eq!(b.get(f).await.status, StatusCode::OK, "{f}");
    }
    assert_eq!(
        b.get("/").await.location.as_deref(),
        Some("/admin/provisioning")
    );
}

#[actix_web::test]
async fn admin_create_reads_the_password_from_stdin() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["admin", "create", "--username", "ops"])
        .env("SCIMGATE_DATABASE", app.db_path())
        .env("SCIMGATE_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ops password 123\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Created administrator \"ops\""));
    let mut b = Browser::new(&app);
    let p = b.sign_in("ops", "ops password 123").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    // An administrator exists now: the setup link is retired.
    assert_eq!(
        b.get(app.setup_link.as_deref().unwrap()).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn sessions_expire_when_idle_or_old() {
    use scimgate::directory::admins::SessionPolicy;
    let app = TestApp::spawn().await;
    Browser::admin(&app).await;
    // The directory's own code path on the same database file, as the pages use it.
    let (dir, writer) = scimgate::app::open_directory(&app.config).unwrap();
    let long = SessionPolicy {
        idle: Duration::from_secs(3600),
        absolute: Duration::from_secs(3600),
    };
    let s = dir.sign_in("admin", PASSWORD, long).await.unwrap();
    assert!(dir.session(&s.cookie, long).await.unwrap().is_some());
    // Idle: a policy under which any pause is too long ends it, and it stays ended.
    let no_idle = SessionPolicy {
        idle: Duration::ZERO,
        absolute: Duration::from_secs(3600),
    };
    assert!(dir.session(&s.cookie, no_idle).await.unwrap().is_none());
    assert!(
        dir.session(&s.cookie, long).await.unwrap().is_none(),
        "deleted"
    );
    // Absolute: a session created already past its lifetime is never valid.
    let expired = SessionPolicy {
        idle: Duration::from_secs(3600),
        absolute: Duration::ZERO,
    };
    let s = dir.sign_in("admin", PASSWORD, expired).await.unwrap();
    assert!(dir.session(&s.cookie, long).await.unwrap().is_none());
    assert!(dir.session("not a cookie", long).await.unwrap().is_none());
    drop(dir);
    tokio::task::spawn_blocking(move || writer.stop())
        .await
        .unwrap();
}

/// The README's first steps with the real binary: `serve` prints a setup link that works, and
/// prints none once an administrator exists.
#[actix_web::test]
async fn serve_prints_a_working_setup_link() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
            .arg("serve")
            .current_dir(dir.path())
            .env("SCIMGATE_DATABASE", dir.path().join("s.db"))
            .env("SCIMGATE_LISTEN", "127.0.0.1:0")
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        (child, rx)
    };
    let stop = |mut child: std::process::Child| {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        assert!(child.wait().unwrap().success());
    };
    // Reads log lines until "listening on", then any that follow within the start-up.
    let read = |rx: &std::sync::mpsc::Receiver<String>| -> (String, Option<String>) {
        let (mut addr, mut link) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) else {
                if addr.is_some() {
                    break;
                }
                continue;
            };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest.split_whitespace().next().map(str::to_owned);
            }
            if let Some(at) = line.find("http://localhost:")
                && line.contains("/admin/setup/")
            {
                link = Some(line[at..].trim().to_owned());
            }
        }
        (addr.expect("a listening line"), link)
    };
    let (child, rx) = start();
    let (addr, link) = read(&rx);
    let link = link.expect("a setup link in the log");
    let client = awc::Client::default();
    let local = link.replacen("localhost", "127.0.0.1", 1);
    let res = client.get(&local).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{local}");
    assert!(local.contains(&addr.split(':').nth(1).unwrap().to_string()));
    stop(child);
    // Create the administrator from a shell; the next start prints no link.
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .args(["admin", "create", "--username", "root"])
        .env("SCIMGATE_DATABASE", dir.path().join("s.db"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        c.stdin
            .take()
            .unwrap()
            .write_all(b"root password 99\n")
            .unwrap();
    }
    assert!(c.wait().unwrap().success());
    let (child, rx) = start();
    let (_, link) = read(&rx);
    assert_eq!(link, None);
    stop(child);
}

#[actix_web::test]
async fn manual_users_can_be_deactivated_and_deleted_owned_ones_cannot() {
    let app = TestApp::spawn().await;
    let owned = app.create_user("owned@example.com").await;
    let owned_id = owned["id"].as_str().unwrap().to_owned();
    let mut b = Browser::admin(&app).await;
    let csrf = b.get("/admin/users/new").await.csrf();
    let p = b
        .post(
            "/admin/users/new",
            &[("csrf", &csrf), ("user_name", "erin@example.com")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let list = b.get("/admin/users?q=erin").await;
    let at = list
        .body
        .find("<td data-label=\"Username\"><a href=\"/admin/users/")
        .unwrap()
        + 35;
    let id: String = list.body[at + 13..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    // Both forms refuse a missing token or another site.
    for path in [
        format!("/admin/users/{id}/status"),
        format!("/admin/users/{id}/delete"),
    ] {
        let p = b.post(&path, &[("active", "false")]).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        let p = b
            .post_with(
                &path,
                &[("csrf", &csrf), ("active", "false")],
                &[("Sec-Fetch-Site", "cross-site")],
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Deactivate, reactivate.
    let page = b.get(&format!("/admin/users/{id}")).await;
    assert!(
        page.body.contains("id=\"deactivate\""),
        "{id} {} {}",
        page.status,
        page.body
    );
    let p = b
        .post(
            &format!("/admin/users/{id}/status"),
            &[("csrf", &csrf), ("active", "false")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = b.get(p.location.as_deref().unwrap()).await;
    assert!(page.body.contains("was deactivated") && page.body.contains("id=\"reactivate\""));
    let p = b.get("/admin/users?status=inactive").await;
    assert!(p.body.contains("erin@example.com") && !p.body.contains("owned@example.com"));
    b.post(
        &format!("/admin/users/{id}/status"),
        &[("csrf", &csrf), ("active", "true")],
    )
    .await;
    assert!(
        b.get("/admin/users?status=inactive")
            .await
            .body
            .contains("No users found")
    );
    // Users an integration owns are read-only here.
    let page = b.get(&format!("/admin/users/{owned_id}")).await;
    assert!(!page.body.contains("id=\"deactivate\"") && page.body.contains("read-only here"));
    let p = b
        .post(
            &format!("/admin/users/{owned_id}/status"),
            &[("csrf", &csrf), ("active", "false")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("source of truth"));
    let p = b
        .post(
            &format!("/admin/users/{owned_id}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&format!("/Users/{owned_id}")).await.body["active"],
        true
    );
    // Delete the manual user (after a confirmation page).
    let p = b.get(&format!("/admin/users/{id}/delete")).await;
    assert!(p.body.contains("cannot be undone"));
    let p = b
        .post(&format!("/admin/users/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let list = b.get(p.location.as_deref().unwrap()).await;
    assert!(list.body.contains("was deleted"));
    assert_eq!(
        b.get(&format!("/admin/users/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn groups_pages_show_pushed_groups_and_members() {
    let app = TestApp::spawn().await;
    let u = app.create_user("member@example.com").await;
    let g = app
        .post(
            "/Groups",
            &serde_json::json!({"displayName": "Pushed <Group>", "members": [{"value": u["id"]}]}),
        )
        .await;
    assert_eq!(g.status.as_u16(), 201);
    let mut b = Browser::admin(&app).await;
    let p = b.get("/admin/groups").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body.contains("Pushed &#60;Group&#62;"),
        "escaped name: {}",
        p.body
    );
    assert!(p.body.contains("okta"));
    let p = b.get("/admin/groups?q=pushed").await;
    assert!(p.body.contains("id=\"groups\""));
    let p = b.get("/admin/groups?q=nothing-like-it").await;
    assert!(p.body.contains("No groups found"));
    let p = b
        .get(&format!("/admin/groups/{}", g.body["id"].as_str().unwrap()))
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body
            .contains(&format!("/admin/users/{}", u["id"].as_str().unwrap()))
    );
    assert!(p.body.contains("id=\"member-count\">1<"));
    // The member's page links to the group; the integrations list counts the groups owned.
    let p = b
        .get(&format!("/admin/users/{}", u["id"].as_str().unwrap()))
        .await;
    assert!(
        p.body.contains(&format!(
            "href=\"/admin/groups/{}\">Pushed &#60;Group&#62;</a>",
            g.body["id"].as_str().unwrap()
        )),
        "{}",
        p.body
    );
    let p = b.get("/admin/provisioning").await;
    assert!(p.body.contains("<th class=\"num\">Groups</th>"));
    assert!(
        p.body
            .contains("<td data-label=\"Users\" class=\"num\">1</td>\n        <td data-label=\"Groups\" class=\"num\">1</td>"),
        "{}",
        p.body
    );
    let p = b
        .get(&format!("/admin/provisioning/{}", app.integration_id))
        .await;
    assert!(p.body.contains("id=\"groups-owned\">1<"), "{}", p.body);
    assert_eq!(
        b.get("/admin/groups/nope").await.status,
        StatusCode::NOT_FOUND
    );
    // Signed out, the page is not shown.
    let mut anon = Browser::new(&app);
    assert_ne!(anon.get("/admin/groups").await.status, StatusCode::OK);
}

#[actix_web::test]
async fn outbox_page_user_enrollment_and_test_email() {
    use scimgate::directory::integration::SettingsChange;
    let dir = tempfile::tempdir().unwrap();
    let sink = crate::support::smtp::SmtpSink::start().await;
    let mut config = crate::support::config_in(dir.path());
    config.smtp = crate::mail::smtp_to(&sink);
    let app = TestApp::spawn_with(dir, config).await;
    app.directory
        .update_settings(
            &app.integration_id,
            SettingsChange {
                send_enrollment_emails: Some(true),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    let u = app.create_user("enrollee@example.com").await;
    let uid = u["id"].as_str().unwrap().to_owned();
    let no_mail = app
        .post("/Users", &serde_json::json!({"userName": "nomail"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sink.count_to("enrollee@example.com") == 0 {
        assert!(std::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mut b = Browser::admin(&app).await;
    let p = b.get("/admin/outbox").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body.contains("enrollee@example.com") && p.body.contains("Sent"),
        "{}",
        p.body
    );
    // The user page: enrollment state, the email, and a resend.
    let p = b.get(&format!("/admin/users/{uid}")).await;
    assert!(p.body.contains("id=\"enrollment\"") && p.body.contains("Not enrolled"));
    assert!(p.body.contains("id=\"user-emails\""));
    let csrf = p.csrf();
    let p = b
        .post(
            &format!("/admin/users/{uid}/resend-enrollment"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b.get(&format!("/admin/users/{uid}?resent=1")).await;
    assert!(p.body.contains("A new enrollment email is queued"));
    while sink.count_to("enrollee@example.com") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the resent email did not arrive"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Why no email: the user has no address.
    let p = b.get(&format!("/admin/users/{no_mail}")).await;
    assert!(p.body.contains("id=\"no-email\""), "{}", p.body);
    // Settings: Send test email reports the server's answer; a bad address is refused.
    let p = b.get("/admin/settings").await;
    assert!(p.body.contains("id=\"send-test-email\""));
    let csrf = p.csrf();
    let p = b
        .post(
            "/admin/settings/test-email",
            &[("csrf", &csrf), ("to", "ops@mail.test")],
        )
        .await;
    // POST → redirect → GET: the answer is shown once; a reload sends nothing again.
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b.get(p.location.as_deref().unwrap()).await;
    assert!(p.body.contains("The server answered: 250"), "{}", p.body);
    assert_eq!(sink.count_to("ops@mail.test"), 1);
    let again = b.get("/admin/settings").await;
    assert!(!again.body.contains("The server answered"));
    assert_eq!(sink.count_to("ops@mail.test"), 1);
    let p = b
        .post(
            "/admin/settings/test-email",
            &[("csrf", &csrf), ("to", "not an address")],
        )
        .await;
    assert!(p.body.contains("is not an email address"));
    // Without the CSRF token, nothing is sent or queued.
    let p = b
        .post("/admin/settings/test-email", &[("to", "ops@mail.test")])
        .await;
    assert!(p.status.is_client_error(), "{}", p.status);
    let p = b
        .post(&format!("/admin/users/{uid}/resend-enrollment"), &[])
        .await;
    assert!(p.status.is_client_error(), "{}", p.status);
    assert_eq!(sink.count_to("ops@mail.test"), 1);
}

/// The id in the first `href="/admin/{kind}/<uuid>"` of a page.
fn first_id(body: &str, kind: &str) -> String {
    body.split(&format!("href=\"/admin/{kind}/"))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|id| id.len() == 36)
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn manual_groups_add_and_remove_members() {
    let app = TestApp::spawn().await;
    let okta_user = app.create_user("okta.user@example.com").await;
    let pushed = app
        .post("/Groups", &serde_json::json!({"displayName": "Pushed"}))
        .await;
    let pushed_id = pushed.body["id"].as_str().unwrap().to_owned();
    let mut b = Browser::admin(&app).await;
    let csrf = b.get("/admin/groups/new").await.csrf();
    // Field errors: empty, and a name taken in any case.
    let p = b
        .post(
            "/admin/groups/new",
            &[("csrf", &csrf), ("display_name", " ")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"display_name-error\""));
    let p = b
        .post(
            "/admin/groups/new",
            &[("csrf", &csrf), ("display_name", "PUSHED")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("already exists"), "{}", p.body);
    let p = b
        .post(
            "/admin/groups/new",
            &[("csrf", &csrf), ("display_name", "Helpdesk")],
        )
        .await;
    assert!(p.status.is_redirection(), "{}", p.body);
    let gid = first_id(&b.get("/admin/groups?q=helpdesk").await.body, "groups");
    let path = format!("/admin/groups/{gid}");
    let page = b.get(&path).await;
    assert!(page.body.contains("Manually provisioned"));
    assert!(page.body.contains("id=\"add-member\""));
    // Add by alias; an unknown login is a field error.
    let p = b
        .post(
            &format!("{path}/members"),
            &[("csrf", &csrf), ("login", "nobody@example.com")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"login-error\""), "{}", p.body);
    let p = b
        .post(
            "/admin/users/new",
            &[
                ("csrf", &csrf),
                ("user_name", "fay@example.com"),
                ("aliases", "fay.alias@example.com"),
            ],
        )
        .await;
    assert!(p.status.is_redirection());
    let p = b
        .post(
            &format!("{path}/members"),
            &[("csrf", &csrf), ("login", "FAY.ALIAS@example.com")],
        )
        .await;
    assert!(p.status.is_redirection(), "{}", p.body);
    let p = b
        .post(
            &format!("{path}/members"),
            &[("csrf", &csrf), ("login", "okta.user@example.com")],
        )
        .await;
    assert!(p.status.is_redirection(), "{}", p.body);
    let page = b.get(&path).await;
    assert!(
        page.body.contains("id=\"member-count\">2<"),
        "{}",
        page.body
    );
    assert!(page.body.contains("fay@example.com"));
    // The member's page lists the group.
    let fay = first_id(&b.get("/admin/users?q=fay").await.body, "users");
    assert!(
        b.get(&format!("/admin/users/{fay}"))
            .await
            .body
            .contains("Helpdesk")
    );
    // Remove one.
    let okta_id = okta_user["id"].as_str().unwrap();
    let p = b
        .post(
            &format!("{path}/members/remove"),
            &[("csrf", &csrf), ("user", okta_id)],
        )
        .await;
    assert!(p.status.is_redirection());
    let page = b.get(&path).await;
    assert!(page.body.contains("id=\"member-count\">1<"));
    assert!(!page.body.contains(okta_id));
    // An integration's group stays read-only.
    let page = b.get(&format!("/admin/groups/{pushed_id}")).await;
    assert!(!page.body.contains("id=\"add-member\""));
    let p = b
        .post(
            &format!("/admin/groups/{pushed_id}/members"),
            &[("csrf", &csrf), ("login", "fay@example.com")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = b
        .post(
            &format!("/admin/groups/{pushed_id}/members/remove"),
            &[("csrf", &csrf), ("user", okta_id)],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}

/// Issue 15: with *Send enrollment emails* on and no SMTP server, the integration's page and
/// the user's page say that the email cannot leave; with one configured, neither does.
#[actix_web::test]
async fn pages_warn_when_no_smtp_server_is_configured() {
    use crate::enroll::{app_with_mail, post_user};
    use crate::mail::user;
    let app = TestApp::spawn().await;
    app.directory
        .update_settings(
            &app.integration_id,
            scimgate::directory::SettingsChange {
                send_enrollment_emails: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = post_user(&app, &user("ida@example.test", Some("ida@mail.test"))).await;
    let mut b = Browser::admin(&app).await;
    let page = b
        .get(&format!("/admin/provisioning/{}", app.integration_id))
        .await;
    assert!(page.body.contains("id=\"smtp-off\""), "{}", page.body);
    assert!(page.body.contains("No SMTP server is configured"));
    let page = b.get(&format!("/admin/users/{id}")).await;
    assert!(page.body.contains("id=\"smtp-off\""), "{}", page.body);

    let sink = crate::support::smtp::SmtpSink::start().await;
    let app = app_with_mail(&sink).await;
    let id = post_user(&app, &user("jo@example.test", Some("jo@mail.test"))).await;
    let mut b = Browser::admin(&app).await;
    let page = b
        .get(&format!("/admin/provisioning/{}", app.integration_id))
        .await;
    assert!(!page.body.contains("id=\"smtp-off\""));
    let page = b.get(&format!("/admin/users/{id}")).await;
    assert!(!page.body.contains("id=\"smtp-off\""));
}

/// Issue 15: the sign-in page says why you are there (a session that ended), takes you back to
/// the page you asked for (paths of these pages only, never another site), and after a wrong
/// password puts the cursor in the password field.
#[actix_web::test]
async fn sign_in_returns_to_the_page_asked_for() {
    let app = TestApp::spawn().await;
    let mut b = Browser::admin(&app).await;
    let cookie = b.cookies.get("scimgate_session").cloned().unwrap();
    // The session ends (here: signed out from elsewhere); the page asked for is kept.
    app.directory.sign_out(&cookie).await.unwrap();
    let p = b.get("/admin/users?q=ann&status=active").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let to = p.location.clone().unwrap();
    assert_eq!(
        to,
        "/admin/login?ended=1&next=%2Fadmin%2Fusers%3Fq%3Dann%26status%3Dactive"
    );
    let login = b.get(&to).await;
    assert!(login.body.contains("Your session ended"), "{}", login.body);
    assert!(
        login
            .body
            .contains("name=\"next\" value=\"/admin/users?q=ann&#38;status=active\""),
        "{}",
        login.body
    );
    // A wrong password: the username is kept, the cursor goes to the password.
    let csrf = login.csrf();
    let wrong = b
        .post(
            "/admin/login",
            &[
                ("csrf", &csrf),
                ("username", "admin"),
                ("password", "not the password"),
                ("next", "/admin/users?q=ann&status=active"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let password_tag = wrong.body.split("id=\"password\"").nth(1).unwrap();
    assert!(password_tag[..password_tag.find('>').unwrap()].contains("autofocus"));
    let username_tag = wrong.body.split("id=\"username\"").nth(1).unwrap();
    assert!(!username_tag[..username_tag.find('>').unwrap()].contains("autofocus"));
    // The right one: back to the page asked for.
    let ok = b
        .post(
            "/admin/login",
            &[
                ("csrf", &wrong.csrf()),
                ("username", "admin"),
                ("password", "correct horse battery"),
                ("next", "/admin/users?q=ann&status=active"),
            ],
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    assert_eq!(
        ok.location.as_deref(),
        Some("/admin/users?q=ann&status=active")
    );
    // Never to another site, nor back to the sign-in pages.
    for evil in [
        "//evil.example/admin/",
        "https://evil.example/",
        "/admin/login",
        "/\\evil.example",
    ] {
        let mut other = Browser::new(&app);
        let form = other.get("/admin/login").await;
        let p = other
            .post(
                "/admin/login",
                &[
                    ("csrf", &form.csrf()),
                    ("username", "admin"),
                    ("password", "correct horse battery"),
                    ("next", evil),
                ],
            )
            .await;
        assert_eq!(p.location.as_deref(), Some("/admin/provisioning"), "{evil}");
    }
    // Without a session at all: no "ended" notice, the page is still kept.
    let mut fresh = Browser::new(&app);
    let p = fresh.get("/admin/groups").await;
    assert_eq!(
        p.location.as_deref(),
        Some("/admin/login?next=%2Fadmin%2Fgroups")
    );
}
