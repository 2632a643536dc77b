//! API tokens: the header forms accepted, isolation between integrations, rotation with an
//! overlap and expiry (issue 13 item 6).

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::support::admin::Browser;
use crate::support::*;

#[actix_web::test]
async fn token_forms_and_isolation() {
    let app = TestApp::spawn().await;
    let (other_base, other_token) = app.second_integration("sailpoint").await;

    // Bearer and the bare token both work (Okta's Header Auth sends what was pasted).
    for value in [
        format!("Bearer {}", app.token),
        app.token.clone(),
        format!("bearer {}", app.token),
    ] {
        let r = send(
            app.client
                .get(app.url("/Users"))
                .insert_header(("Authorization", value.clone())),
            None,
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{value}");
    }
    // Missing, wrong, Basic, and the other integration's token: 401 with a SCIM body.
    send(app.client.get(app.url("/Users")), None)
        .await
        .assert_error(401, None);
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", "Bearer scg_AAAA")),
        None,
    )
    .await
    .assert_error(401, None);
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", "Basic dXNlcjpwYXNz")),
        None,
    )
    .await
    .assert_error(401, None);
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", format!("Bearer {other_token}"))),
        None,
    )
    .await
    .assert_error(401, None);
    // A Base URL with an id that is not an integration.
    let bogus = app
        .base_url
        .replace(&app.integration_id, "0123456789abcdef0123456789abcdef");
    send(
        app.client
            .get(format!("{bogus}/Users"))
            .insert_header(("Authorization", format!("Bearer {}", app.token))),
        None,
    )
    .await
    .assert_error(401, None);

    // Each integration sees only its own users.
    let mine = app.create_user("mine@example.com").await;
    let other_get = |path: String| {
        let req = app
            .client
            .get(format!("{other_base}{path}"))
            .insert_header(("Authorization", format!("Bearer {other_token}")));
        send(req, None)
    };
    let r = other_get("/Users".into()).await;
    assert_eq!(r.body["totalResults"], 0);
    other_get(format!("/Users/{}", mine["id"].as_str().unwrap()))
        .await
        .assert_error(404, None);
    let r = other_get(format!(
        "/Users?filter={}",
        enc("userName eq \"mine@example.com\"")
    ))
    .await;
    assert_eq!(r.body["totalResults"], 0);
    // The other integration cannot change or delete it either.
    let put = app
        .client
        .put(format!(
            "{other_base}/Users/{}",
            mine["id"].as_str().unwrap()
        ))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(put, Some(&okta_user("mine@example.com")))
        .await
        .assert_error(404, None);
    let del = app
        .client
        .delete(format!(
            "{other_base}/Users/{}",
            mine["id"].as_str().unwrap()
        ))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(del, None).await.assert_error(404, None);
    // userName is unique across the appliance: the other integration gets a 409 that
    // reveals nothing else.
    let post = app
        .client
        .post(format!("{other_base}/Users"))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    let r = send(post, Some(&okta_user("MINE@example.com"))).await;
    r.assert_error(409, Some("uniqueness"));
    assert!(!r.body.to_string().contains(mine["id"].as_str().unwrap()));
    assert_eq!(
        app.get(&format!("/Users/{}", mine["id"].as_str().unwrap()))
            .await
            .body["userName"],
        json!("mine@example.com")
    );
}

/// GET /Users with `token` at the app's Base URL: the status and the body.
async fn with_token(app: &TestApp, token: &str) -> Resp {
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", format!("Bearer {token}"))),
        None,
    )
    .await
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Regenerate with the default overlap (24 h) through the pages: confirm step, POST -> redirect
/// -> GET showing the token once; both tokens work until the stated time, then only the new one.
#[actix_web::test]
async fn regenerate_keeps_the_old_token_for_the_overlap() {
    let app = TestApp::spawn().await;
    let iid = app.integration_id.clone();
    let mut b = Browser::admin(&app).await;
    let old = app.token.clone();
    assert_eq!(with_token(&app, &old).await.status.as_u16(), 200);

    // The confirm step offers none, 1 h, 24 h and 72 h, 24 h chosen.
    let confirm = b
        .get(&format!("/admin/provisioning/{iid}/regenerate"))
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    for v in ["\"0\"", "\"1h\"", "\"72h\""] {
        assert!(confirm.body.contains(&format!("value={v}>")), "{v}");
    }
    assert!(confirm.body.contains("value=\"24h\" selected"));
    let csrf = confirm.csrf();
    // Nonsense is refused next to the field, and nothing changes.
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/regenerate"),
            &[("csrf", &csrf), ("keep_old_for", "forever")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"keep-error\""), "{}", p.body);
    assert_eq!(with_token(&app, &old).await.status.as_u16(), 200);

    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/regenerate"),
            &[("csrf", &csrf), ("keep_old_for", "24h")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(!p.body.contains("scg_"));
    let at = p.location.unwrap();
    let page = b.get(&at).await;
    let new = page.input("api-token").expect("the new token is shown");
    assert_ne!(new, old);
    assert!(
        page.body.contains("The previous token keeps working until"),
        "{}",
        page.body
    );
    let until = app.directory.integration(&iid).await.unwrap();
    let until = until.previous_token_until.unwrap();
    assert!(
        page.body
            .contains(&format!("{} {} UTC", &until[..10], &until[11..19]))
    );
    // A reload shows no token and makes no other: the new token is still the one that works.
    let again = b.get(&at).await;
    assert!(again.input("api-token").is_none());
    assert!(!again.body.contains(&new));
    assert!(again.body.contains("shown once and is not shown again"));

    assert_eq!(with_token(&app, &old).await.status.as_u16(), 200);
    assert_eq!(with_token(&app, &new).await.status.as_u16(), 200);
    // Just before the end both still work; just after, the old one is refused at once (the
    // authentication cache is warm from the requests above).
    app.directory.clock().advance(DAY - Duration::from_secs(60));
    assert_eq!(with_token(&app, &old).await.status.as_u16(), 200);
    app.directory.clock().advance(Duration::from_secs(120));
    with_token(&app, &old).await.assert_error(401, None);
    assert_eq!(with_token(&app, &new).await.status.as_u16(), 200);
    // The page no longer announces the previous token.
    let page = b.get(&format!("/admin/provisioning/{iid}")).await;
    assert!(!page.body.contains("id=\"previous-token\""));
}

#[actix_web::test]
async fn regenerate_without_overlap_stops_the_old_token_at_once() {
    let app = TestApp::spawn().await;
    let iid = app.integration_id.clone();
    let old = app.token.clone();
    // Warm the authentication cache.
    assert_eq!(with_token(&app, &old).await.status.as_u16(), 200);
    let r = app
        .directory
        .regenerate_token(
            scimgate::directory::rotation::Target::Id(&iid),
            Duration::ZERO,
        )
        .await
        .unwrap();
    assert_eq!(r.previous_valid_until, None);
    with_token(&app, &old).await.assert_error(401, None);
    assert_eq!(
        with_token(&app, r.token.expose()).await.status.as_u16(),
        200
    );
    // A second regeneration with an overlap keeps only the token it replaces: the first
    // one stays refused, the second works for an hour.
    let second = r.token.expose().to_owned();
    let r = app
        .directory
        .regenerate_token(scimgate::directory::rotation::Target::Id(&iid), HOUR)
        .await
        .unwrap();
    assert!(r.previous_valid_until.is_some());
    with_token(&app, &old).await.assert_error(401, None);
    assert_eq!(with_token(&app, &second).await.status.as_u16(), 200);
    app.directory.clock().advance(HOUR);
    with_token(&app, &second).await.assert_error(401, None);
    assert_eq!(
        with_token(&app, r.token.expose()).await.status.as_u16(),
        200
    );
}

/// A lifetime of 90 days: the list and page show the expiry, a banner from 14 days before, and
/// after it the token gets 401 saying it expired, recorded on the Activity page.
#[actix_web::test]
async fn token_lifetime_expiry_banner_and_refusal() {
    let app = TestApp::spawn().await;
    let iid = app.integration_id.clone();
    let mut b = Browser::admin(&app).await;
    let page = b.get(&format!("/admin/provisioning/{iid}")).await;
    assert!(page.body.contains("Expires: never."));
    let csrf = page.csrf();
    // A lifetime not offered is refused next to the field.
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/lifetime"),
            &[("csrf", &csrf), ("token_lifetime", "30d")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"lifetime-error\""), "{}", p.body);
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/lifetime"),
            &[("csrf", &csrf), ("token_lifetime", "90d")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = b.get(p.location.as_deref().unwrap()).await;
    assert!(
        page.body
            .contains("counted from when the current token was issued"),
        "{}",
        page.body
    );
    let i = app.directory.integration(&iid).await.unwrap();
    let expires = i.token_expires.clone().unwrap();
    let shown = format!("{} {} UTC", &expires[..10], &expires[11..19]);
    assert!(page.body.contains(&format!("Expires: {shown}.")));
    assert!(page.body.contains("value=\"90d\" selected"));
    assert!(!page.body.contains("token-expiry-warning"));
    let list = b.get("/admin/provisioning").await;
    assert!(list.body.contains(&shown), "{}", list.body);
    assert!(!list.body.contains("token-expiry-warning"));
    assert_eq!(with_token(&app, &app.token).await.status.as_u16(), 200);

    // 77 days later: within 14 days of the expiry, both pages warn; the token still works.
    app.directory.clock().advance(77 * DAY);
    let list = b.get("/admin/provisioning").await;
    assert!(list.body.contains("token-expiry-warning"), "{}", list.body);
    assert!(
        list.body
            .contains("The API token of &#34;okta&#34; expires on")
    );
    let page = b.get(&format!("/admin/provisioning/{iid}")).await;
    assert!(page.body.contains("id=\"token-expiry-warning\""));
    assert!(page.body.contains("(in 12 days)") || page.body.contains("(in 13 days)"));
    assert_eq!(with_token(&app, &app.token).await.status.as_u16(), 200);

    // Day 91: 401 with a detail saying it expired, and when.
    app.directory.clock().advance(14 * DAY);
    let r = with_token(&app, &app.token).await;
    r.assert_error(401, None);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("expired at {expires}")),
        "{detail}"
    );
    let page = b.get(&format!("/admin/provisioning/{iid}")).await;
    assert!(page.body.contains("expired on"), "{}", page.body);
    // The Activity page records the refusal (entries are written within a second).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let p = b.get("/admin/activity?errors=1").await;
        if p.body.contains("401 the API token expired at") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", p.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Regenerating an expired token gives no overlap to the old one; the new token works
    // for another 90 days.
    let r = app
        .directory
        .regenerate_token(scimgate::directory::rotation::Target::Id(&iid), DAY)
        .await
        .unwrap();
    assert_eq!(r.previous_valid_until, None);
    assert!(r.integration.token_expires.is_some());
    assert_eq!(
        with_token(&app, r.token.expose()).await.status.as_u16(),
        200
    );
    with_token(&app, &app.token).await.assert_error(401, None);
}

/// Save and Deploy with a lifetime: the page shows the expiry.
#[actix_web::test]
async fn save_and_deploy_with_a_lifetime() {
    let app = TestApp::spawn().await;
    let mut b = Browser::admin(&app).await;
    let csrf = b.get("/admin/provisioning/new").await.csrf();
    let p = b
        .post(
            "/admin/provisioning/new",
            &[
                ("csrf", &csrf),
                ("kind", "scim2"),
                ("name", "Entra"),
                ("token_lifetime", "1y"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"lifetime-error\""));
    let p = b
        .post(
            "/admin/provisioning/new",
            &[
                ("csrf", &csrf),
                ("kind", "scim2"),
                ("name", "Entra"),
                ("token_lifetime", "180d"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b.get(p.location.as_deref().unwrap()).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.input("api-token").is_some());
    let entra = app
        .directory
        .list_integrations()
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.name == "Entra")
        .unwrap();
    assert_eq!(entra.token_lifetime.days(), Some(180));
    let expires = entra.token_expires.unwrap();
    assert!(
        p.body.contains(&format!("Expires: {} ", &expires[..10])),
        "{}",
        p.body
    );
}

/// The binary: `integration regenerate --keep-old-for 1h --json` prints the new token and
/// when the old one stops; against a running server both work.
#[actix_web::test]
async fn regenerate_with_the_binary() {
    use crate::binary::{scimgate, serve_logged, sigterm};
    let dir = tempfile::tempdir().unwrap();
    let out = scimgate(dir.path())
        .args(["integration", "create", "--name", "okta", "--json"])
        .args(["--token-lifetime", "365d"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created["token_expires"].is_string());
    let old = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();

    // Nonsense durations are a clear error, and change nothing.
    for bad in ["2w", "1.5h", "-1h", "8d"] {
        let r = scimgate(dir.path())
            .args(["integration", "regenerate", "okta"])
            .arg(format!("--keep-old-for={bad}"))
            .output()
            .unwrap();
        assert!(!r.status.success(), "{bad}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(err.contains("overlap"), "{bad}: {err}");
        assert!(r.stdout.is_empty());
    }
    let out = scimgate(dir.path())
        .args([
            "integration",
            "regenerate",
            "okta",
            "--keep-old-for",
            "1h",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["name"], "okta");
    assert_eq!(r["id"], id.as_str());
    let new = r["token"].as_str().unwrap().to_owned();
    assert!(new.starts_with("scg_") && new != old);
    let until = r["previous_token_valid_until"].as_str().unwrap();
    let until =
        time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).unwrap();
    let left = until - time::OffsetDateTime::now_utc();
    assert!(
        left > time::Duration::minutes(55) && left <= time::Duration::hours(1),
        "{left}"
    );

    let (mut child, addr, _log) = serve_logged(scimgate(dir.path()));
    let client = awc::Client::default();
    for t in [&old, &new] {
        let r = send(
            client
                .get(format!("http://{addr}/scim/v2/{id}/Users"))
                .insert_header(("Authorization", format!("Bearer {t}"))),
            None,
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    }
    sigterm(&mut child);

    // Regenerated again with no overlap: the token printed before stops.
    let out = scimgate(dir.path())
        .args([
            "integration",
            "regenerate",
            "okta",
            "--keep-old-for",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r["previous_token_valid_until"].is_null());
    let list = scimgate(dir.path())
        .args(["integration", "list", "--json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["token_lifetime"], "365d");
    assert!(list[0]["previous_token_valid_until"].is_null());
}

/// A token about to expire keeps working after a regeneration until its own expiry, not for
/// the whole overlap.
#[actix_web::test]
async fn the_overlap_never_outlives_the_old_tokens_expiry() {
    use scimgate::directory::rotation::{Target, TokenLifetime};
    let app = TestApp::spawn().await;
    let iid = app.integration_id.clone();
    let i = app
        .directory
        .set_token_lifetime(Target::Id(&iid), TokenLifetime::parse("90d").unwrap())
        .await
        .unwrap();
    let expires = i.token_expires.unwrap();
    app.directory.clock().advance(90 * DAY - HOUR);
    let r = app
        .directory
        .regenerate_token(Target::Id(&iid), 72 * HOUR)
        .await
        .unwrap();
    assert_eq!(r.previous_valid_until.as_deref(), Some(expires.as_str()));
    assert_eq!(with_token(&app, &app.token).await.status.as_u16(), 200);
    app.directory.clock().advance(HOUR);
    with_token(&app, &app.token).await.assert_error(401, None);
    assert_eq!(
        with_token(&app, r.token.expose()).await.status.as_u16(),
        200
    );
}

/// Issue 17 item 3: the authentication cache no longer asks the database on every request,
/// yet a token replaced from another process (`scimgate integration regenerate` while `serve`
/// runs) is refused by the next request once that process has settled (as the command does
/// before it returns), and the new token works.
#[actix_web::test]
async fn a_token_replaced_by_another_process_is_refused_after_it_settles() {
    let app = TestApp::spawn().await;
    // Cached by the first request.
    assert_eq!(app.get("/Users").await.status, StatusCode::OK);
    assert_eq!(app.get("/Users").await.status, StatusCode::OK);
    let (other, writer) = scimgate::app::open_directory(&app.config).unwrap();
    let regenerated = other
        .regenerate_token(
            scimgate::directory::rotation::Target::Id(&app.integration_id),
            Duration::ZERO,
        )
        .await
        .unwrap();
    other.settle().await;
    drop(other);
    tokio::task::spawn_blocking(move || writer.stop())
        .await
        .unwrap();
    app.get("/Users").await.assert_error(401, None);
    let r = send(
        app.client.get(app.url("/Users")).insert_header((
            "Authorization",
            format!("Bearer {}", regenerated.token.expose()),
        )),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
