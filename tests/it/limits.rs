//! Rate limits and refused requests (issue 14 items 1 and 2): 429 with `Retry-After` and the
//! surface's own error shape; a flood of bad tokens never refuses the right token; limits per
//! integration, verifier key and user; the client address behind trusted proxies only; and
//! refused requests counted per minute in a handful of Activity rows. Limits are set small in
//! each test's config, and the tests count 429s against 200s rather than time anything.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use scimgate::config::{Config, IpNet};
use scimgate::store::activity::{ActivityFilter, ActivityRow};
use serde_json::{Value, json};

use crate::support::admin::Browser;
use crate::support::*;

/// A fresh appliance whose config `tune` adjusts.
async fn spawn(tune: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    tune(&mut config);
    config.validate().unwrap();
    TestApp::spawn_with(dir, config).await
}

/// A Base URL no integration has.
fn unknown_base(app: &TestApp) -> String {
    let origin = &app.base_url[..app.base_url.find("/scim").unwrap()];
    format!("{origin}/scim/v2/{}", "0".repeat(32))
}

/// GET `{base}/Users` (over 127.0.0.1, so the client address is known) with `token` (none: no Authorization header) and extra headers.
async fn get_users(
    app: &TestApp,
    base: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let base = base.replace("//localhost:", "//127.0.0.1:");
    let mut req = app.client.get(format!("{base}/Users?count=1"));
    if let Some(t) = token {
        req = req.insert_header(("Authorization", format!("Bearer {t}")));
    }
    for (k, v) in headers {
        req = req.insert_header((*k, *v));
    }
    send(req, None).await
}

/// A 429 with a whole-second `Retry-After` of at least 1.
fn retry_after(r: &Resp) -> u64 {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let secs: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!(secs >= 1, "{secs}");
    secs
}

/// A SCIM 429: `Retry-After` and an error body with status "429" saying which limit.
fn assert_scim_429(r: &Resp, limit: &str) {
    retry_after(r);
    assert_eq!(r.body["schemas"][0], ERROR_URN, "{}", r.body);
    assert_eq!(r.body["status"], "429", "{}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(limit), "{detail}");
}

#[actix_web::test]
async fn a_flood_of_wrong_tokens_is_refused_while_the_right_token_keeps_working() {
    let app = spawn(|c| {
        c.limits.auth_failures_per_minute = 1;
        c.limits.auth_failures_burst = 5;
    })
    .await;
    let (mut unauthorized, mut too_many, mut ok) = (0, 0, 0);
    for i in 0..40 {
        let wrong = if i % 2 == 0 {
            get_users(&app, &app.base_url, Some("scg_wrong"), &[]).await
        } else {
            get_users(&app, &app.base_url, None, &[]).await
        };
        match wrong.status {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_scim_429(&wrong, "limits.auth_failures_per_minute");
                too_many += 1;
            }
            s => panic!("{s}: {}", wrong.body),
        }
        let right = get_users(&app, &app.base_url, Some(&app.token), &[]).await;
        assert_eq!(right.status, StatusCode::OK, "{}", right.body);
        ok += 1;
    }
    // The burst of 5, plus at most one refill during the test.
    assert!((5..=6).contains(&unauthorized), "{unauthorized}");
    assert_eq!(unauthorized + too_many, 40);
    assert_eq!(ok, 40);
    // An unknown Base URL is a failed authentication of the same address.
    let r = get_users(&app, &unknown_base(&app), Some(&app.token), &[]).await;
    assert_scim_429(&r, "failed authentications");
}

#[actix_web::test]
async fn the_per_integration_limit_refuses_one_integration_only() {
    let app = spawn(|c| {
        c.limits.scim_per_second = 1;
        c.limits.scim_burst = 5;
    })
    .await;
    let (other_base, other_token) = app.second_integration("entra").await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let r = get_users(&app, &app.base_url, Some(&app.token), &[]).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_scim_429(&r, "limits.scim_per_second");
        }
        statuses.push(r.status);
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    // The burst of 5, plus one a second while the test runs (a slow machine gets a few).
    assert!(ok >= 5 && refused >= 10, "{statuses:?}");
    assert_eq!(ok + refused, 20, "{statuses:?}");
    // The other integration has its own bucket.
    for _ in 0..5 {
        let r = get_users(&app, &other_base, Some(&other_token), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
}

/// `POST /api/v1/verify`: status, `Retry-After`, JSON body.
async fn verify(app: &TestApp, key: &str, user: &str) -> (u16, Option<String>, Value) {
    let mut r = awc::Client::default()
        .post(format!("http://{}/api/v1/verify", app.addr))
        .bearer_auth(key)
        .send_json(&json!({"user": user, "code": "123456"}))
        .await
        .unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (r.status().as_u16(), retry, r.json().await.unwrap())
}

/// A verify 429: `Retry-After` and `{"error": "…"}` naming the limit.
fn assert_verify_429(r: &(u16, Option<String>, Value), limit: &str) {
    assert_eq!(r.0, 429, "{}", r.2);
    let secs: u64 = r.1.as_deref().expect("Retry-After").parse().unwrap();
    assert!(secs >= 1);
    assert_eq!(r.2.as_object().unwrap().len(), 1, "{}", r.2);
    let msg = r.2["error"].as_str().unwrap();
    assert!(msg.contains(limit), "{msg}");
}

#[actix_web::test]
async fn verify_limits_bad_keys_per_address_and_requests_per_key_and_user() {
    let app = spawn(|c| {
        c.limits.auth_failures_per_minute = 1;
        c.limits.auth_failures_burst = 3;
        c.limits.verify_per_key_per_second = 1;
        c.limits.verify_per_key_burst = 8;
        c.limits.verify_per_user_per_second = 1;
        c.limits.verify_per_user_burst = 3;
    })
    .await;
    let key = app.directory.create_verifier_key("mfa").await.unwrap();
    let key = key.secret.expose().to_owned();
    // Bad keys from one address: 401 for the burst, then 429; the right key still works.
    let mut codes = Vec::new();
    for _ in 0..10 {
        let r = verify(&app, "scv_wrong", "alice").await;
        if r.0 == 429 {
            assert_verify_429(&r, "limits.auth_failures_per_minute");
        }
        codes.push(r.0);
    }
    assert!(
        codes.iter().filter(|c| **c == 401).count() <= 4,
        "{codes:?}"
    );
    assert!(
        codes.iter().filter(|c| **c == 429).count() >= 6,
        "{codes:?}"
    );
    // Per user: 3 at once, then 429 naming the user's limit.
    let mut codes = Vec::new();
    for _ in 0..6 {
        let r = verify(&app, &key, "alice").await;
        if r.0 == 429 {
            assert_verify_429(&r, "limits.verify_per_user_per_second");
        }
        codes.push(r.0);
    }
    let ok = codes.iter().filter(|c| **c == 200).count();
    assert!((3..=5).contains(&ok), "{codes:?}");
    // Per key: 8 at once (6 used above), then 429 whatever the user.
    let mut codes = Vec::new();
    for i in 0..10 {
        let r = verify(&app, &key, &format!("user{i}")).await;
        if r.0 == 429 {
            assert_verify_429(&r, "limits.verify_per_key_per_second");
        }
        codes.push(r.0);
    }
    let ok = codes.iter().filter(|c| **c == 200).count();
    assert!((2..=5).contains(&ok), "{codes:?}");
    assert_eq!(ok + codes.iter().filter(|c| **c == 429).count(), 10);
}

#[actix_web::test]
async fn failed_sign_ins_across_usernames_and_wrong_setup_links_get_429() {
    let app = spawn(|c| {
        c.limits.auth_failures_per_minute = 1;
        c.limits.auth_failures_burst = 5;
    })
    .await;
    // Wrong setup links: 404 for the burst, then 429 with Retry-After; the real link still
    // opens (it is checked before the limit).
    let real = app.setup_link.clone().unwrap();
    let base = &real[..real.rfind('/').unwrap()];
    let raw = awc::Client::builder().disable_redirects().finish();
    let mut codes = Vec::new();
    for i in 0..10 {
        let mut r = raw
            .get(format!("{base}/wrong{i}").replace("localhost", "127.0.0.1"))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let secs: u64 = r
                .headers()
                .get("retry-after")
                .unwrap()
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(secs >= 1);
            let body = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
            assert!(body.contains("Too many failed attempts"), "{body}");
        }
        codes.push(r.status().as_u16());
    }
    assert!(
        codes.iter().filter(|c| **c == 404).count() <= 6,
        "{codes:?}"
    );
    assert!(
        codes.iter().filter(|c| **c == 429).count() >= 4,
        "{codes:?}"
    );
    let mut b = Browser::admin(&app).await;
    // Wrong passwords across many usernames from one address.
    b.cookies.clear();
    let mut codes = Vec::new();
    for i in 0..10 {
        let p = b.sign_in(&format!("user{i}"), "wrong password!").await;
        if p.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(p.body.contains("Too many failed attempts"), "{}", p.body);
        }
        codes.push(p.status.as_u16());
    }
    assert!(
        codes.iter().filter(|c| **c == 401).count() <= 6,
        "{codes:?}"
    );
    assert!(
        codes.iter().filter(|c| **c == 429).count() >= 4,
        "{codes:?}"
    );
    // While over the limit, the address is refused before any password is checked.
    let p = b.sign_in("admin", "correct horse battery").await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS, "{}", p.body);
}

#[actix_web::test]
async fn x_forwarded_for_counts_only_from_a_trusted_proxy() {
    let tune = |trusted: bool| {
        move |c: &mut Config| {
            c.limits.auth_failures_per_minute = 1;
            c.limits.auth_failures_burst = 3;
            if trusted {
                c.server.trusted_proxies = vec![IpNet::parse("127.0.0.1").unwrap()];
            }
        }
    };
    let fwd = |a: &'static str| [("X-Forwarded-For", a)];
    // Trusted: each forwarded address has its own bucket.
    let app = spawn(tune(true)).await;
    for _ in 0..3 {
        let r = get_users(&app, &app.base_url, Some("scg_x"), &fwd("203.0.113.1")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = get_users(&app, &app.base_url, Some("scg_x"), &fwd("203.0.113.1")).await;
    assert_scim_429(&r, "failed authentications");
    let r = get_users(
        &app,
        &app.base_url,
        Some("scg_x"),
        &fwd("198.51.100.1, 203.0.113.2"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The Activity page counts them under the forwarded addresses too.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = activity(&app, ActivityFilter::default()).await;
        let mut clients: Vec<String> = rows.iter().filter_map(|r| r.client.clone()).collect();
        clients.sort();
        clients.dedup();
        if clients == ["203.0.113.1", "203.0.113.2"] {
            break;
        }
        assert!(Instant::now() < deadline, "{clients:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Not trusted: the header is ignored and every request is the peer's.
    let app = spawn(tune(false)).await;
    for a in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        let r = get_users(&app, &app.base_url, Some("scg_x"), &fwd(a)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = get_users(&app, &app.base_url, Some("scg_x"), &fwd("203.0.113.4")).await;
    assert_scim_429(&r, "failed authentications");
}

/// All Activity rows, newest first.
async fn activity(app: &TestApp, filter: ActivityFilter) -> Vec<ActivityRow> {
    app.directory.activity(filter, 0, 1000).await.unwrap().rows
}

/// The total count of the refused rows of `reason`.
fn refused(rows: &[ActivityRow], reason: &str) -> i64 {
    rows.iter()
        .filter(|r| r.summary.contains(&format!(": {reason}, from ")))
        .map(|r| r.refused.unwrap_or(0))
        .sum()
}

#[actix_web::test]
async fn refused_requests_are_counted_in_a_handful_of_activity_rows() {
    let app = spawn(|c| {
        // Every failure answered 401, so the counts are exact.
        c.limits.auth_failures_per_minute = 1_000_000;
        c.limits.auth_failures_burst = 1_000_000;
        c.activity.max_entries = 1000;
    })
    .await;
    let created = app.create_user("kept@example.com").await;
    assert!(created["id"].is_string());
    let unknown = unknown_base(&app);
    let mut sent = 0;
    for chunk in 0..40 {
        let reqs = (0..50).map(|i| {
            let app = &app;
            let unknown = unknown.clone();
            async move {
                match (chunk * 50 + i) % 10 {
                    0 => get_users(app, &app.base_url, None, &[]).await,
                    1 => get_users(app, &unknown, Some("scg_wrong"), &[]).await,
                    _ => get_users(app, &app.base_url, Some("scg_wrong"), &[]).await,
                }
            }
        });
        for r in futures_util::future::join_all(reqs).await {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
            sent += 1;
        }
    }
    assert_eq!(sent, 2000);
    // Flushed within a second or two; the counts are updated in place.
    let deadline = Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let rows = activity(&app, ActivityFilter::default()).await;
        let counted: i64 = rows.iter().map(|r| r.refused.unwrap_or(0)).sum();
        // The real request's row and the counts arrive in batches of their own.
        let kept = rows
            .iter()
            .any(|r| r.summary.contains("created user kept@example.com"));
        if counted == 2000 && kept {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "counted {counted} of 2000; the real request's row {}",
            if kept { "is there" } else { "is missing" }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Three (path, reason, address) keys, each split at most once by a minute boundary, and
    // the one real request.
    assert!(rows.len() <= 7, "{} rows: {rows:#?}", rows.len());
    assert_eq!(refused(&rows, "bad token"), 1600);
    assert_eq!(refused(&rows, "no token"), 200);
    assert_eq!(refused(&rows, "unknown Base URL"), 200);
    for r in rows.iter().filter(|r| r.refused.is_some()) {
        assert_eq!(r.status, 401);
        assert_eq!(r.client.as_deref(), Some("127.0.0.1"));
        assert!(r.path.starts_with("/scim/v2/"), "{}", r.path);
    }
    // activity.max_entries (1000) was not washed out: the real request is still there.
    assert!(
        rows.iter()
            .any(|r| r.summary.contains("created user kept@example.com")),
        "{rows:#?}"
    );
    // The page shows each as one line; the 4xx filter keeps them, the 2xx one does not.
    let mut b = Browser::admin(&app).await;
    let p = b.get("/admin/activity?status=4xx").await;
    let line = rows
        .iter()
        .find(|r| r.summary.contains("bad token"))
        .unwrap();
    assert!(
        line.summary
            .ends_with("refused requests: bad token, from 127.0.0.1"),
        "{}",
        line.summary
    );
    assert!(p.body.contains(&line.summary), "{}", p.body);
    let p = b.get("/admin/activity?status=2xx").await;
    assert!(!p.body.contains("refused requests"), "{}", p.body);
    assert!(p.body.contains("created user kept@example.com"));
    // Its own page says how many it counts and from where.
    let p = b.get(&format!("/admin/activity/{}", line.seq)).await;
    assert!(
        p.body.contains("<dd id=\"client\">127.0.0.1</dd>"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains(&format!(
            "<dd id=\"refused\">{} refused",
            line.refused.unwrap()
        )),
        "{}",
        p.body
    );
    // The limits are on the Settings page.
    let p = b.get("/admin/settings").await;
    for key in [
        "limits.scim_per_second",
        "limits.auth_failures_per_minute",
        "server.trusted_proxies",
    ] {
        assert!(p.body.contains(key), "{key}: {}", p.body);
    }
    assert!(
        p.body.contains("1000000 per client address and surface"),
        "{}",
        p.body
    );
}
