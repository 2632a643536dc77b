//! `log.format = "json"` (issue 16 item 5): the real binary writes one JSON object a line; each
//! request's access line carries its facts as separate members (`request_id` equal to the
//! response's `X-Request-Id`, `integration`, `surface`, `method`, `route` template, `status`,
//! `latency_ms`), secrets in paths stay masked, other lines written during a request carry
//! `span.request_id`, and the admin and enrollment error pages show the same id.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::{scimgate, serve_logged, sigterm};

/// Waits for the access line (target `scimgate::http`) of the request `id`; returns it parsed.
async fn access_line(log: &crate::binary::Log, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = log.lock().unwrap().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["target"] == "scimgate::http" && v["request_id"] == id).then_some(v)
        });
        if let Some(v) = found {
            return v;
        }
        assert!(Instant::now() < deadline, "no access line for request {id}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn request_id(res: &awc::ClientResponse<impl futures_util::Stream>) -> String {
    let id = res
        .headers()
        .get("x-request-id")
        .expect("X-Request-Id on every response")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 12, "{id}");
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    id
}

/// The members every access line has, checked against what the request was.
fn assert_access(v: &Value, surface: &str, method: &str, route: &str, status: u16) {
    assert_eq!(v["level"], "INFO", "{v}");
    assert_eq!(v["surface"], surface, "{v}");
    assert_eq!(v["method"], method, "{v}");
    assert_eq!(v["route"], route, "{v}");
    assert_eq!(v["status"], status, "{v}");
    let latency = v["latency_ms"].as_f64().unwrap_or_else(|| panic!("{v}"));
    assert!((0.0..60_000.0).contains(&latency), "{v}");
    assert_eq!(v["client"], "127.0.0.1", "{v}");
    let message = v["message"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(message.starts_with(&format!("{method} /")), "{v}");
    assert!(message.contains(&format!(" {status} ")), "{v}");
}

#[actix_web::test]
async fn json_access_lines_carry_the_request_facts_and_keep_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let out = scimgate(dir.path())
        .args(["integration", "create", "--name", "okta-prod", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let iid = created["id"].as_str().unwrap().to_owned();
    let api_token = created["token"].as_str().unwrap().to_owned();

    let mut cmd = scimgate(dir.path());
    cmd.env("SCIMGATE_LOG_FORMAT", "json")
        .env("SCIMGATE_LOG", "debug");
    let (mut child, addr, log) = serve_logged(cmd);
    let base = format!("http://{addr}");
    let client = awc::Client::default();

    // A SCIM request: the integration's name, the route template, never the token.
    let mut res = client
        .get(format!("{base}/scim/v2/{iid}/Users?count=1"))
        .insert_header(("Authorization", format!("Bearer {api_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let _ = res.body().await;
    let scim_id = request_id(&res);

    // A SCIM request whose token is refused: no integration.
    let res = client
        .get(format!("{base}/scim/v2/{iid}/Groups"))
        .insert_header(("Authorization", "Bearer scg_not-the-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 401);
    let refused_id = request_id(&res);

    // An admin page.
    let res = client
        .get(format!("{base}/admin/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let admin_id = request_id(&res);

    // A refused admin form: its "refused" line is written during the request, in its span.
    let mut res = client
        .post(format!("{base}/admin/login"))
        .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
        .send_body("csrf=forged&username=a&password=b")
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let forbidden_id = request_id(&res);
    let body = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        body.contains(&format!("<code id=\"request-id\">{forbidden_id}</code>")),
        "{body}"
    );

    // A one-time link token in the path: the log keeps four characters of it, and the
    // enrollment page for an unusable link shows the request id.
    let link = "Zq7XbU1mXk3q9Zr7Yw2PZ0aLq8cVn4TgHs6eKj5dRf1";
    let mut res = client
        .get(format!("{base}/enroll/{link}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let enroll_id = request_id(&res);
    let body = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        body.contains(&format!("<code id=\"request-id\">{enroll_id}</code>")),
        "{body}"
    );

    // An admin error page shows the id its header carries.
    let mut res = client
        .get(format!("{base}/admin/no-such-page"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
    let page_id = request_id(&res);
    let body = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(
        body.contains(&format!("<code id=\"request-id\">{page_id}</code>")),
        "{body}"
    );

    let scim = access_line(&log, &scim_id).await;
    let refused = access_line(&log, &refused_id).await;
    let admin = access_line(&log, &admin_id).await;
    let forbidden = access_line(&log, &forbidden_id).await;
    let enroll = access_line(&log, &enroll_id).await;
    let page = access_line(&log, &page_id).await;
    sigterm(&mut child);

    assert_access(&scim, "scim", "GET", "/scim/v2/{iid}/Users", 200);
    assert_eq!(scim["integration"], "okta-prod", "{scim}");
    assert!(
        scim["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("GET /scim/v2/{iid}/Users?count=1 200 ")),
        "{scim}"
    );
    assert_access(&refused, "scim", "GET", "/scim/v2/{iid}/Groups", 401);
    assert!(refused.get("integration").is_none(), "{refused}");
    assert_access(&admin, "admin", "GET", "/admin/login", 200);
    assert!(admin.get("integration").is_none(), "{admin}");
    assert_access(&forbidden, "admin", "POST", "/admin/login", 403);
    assert_access(&enroll, "enroll", "GET", "/enroll/{token}", 404);
    assert!(
        enroll["message"]
            .as_str()
            .unwrap()
            .starts_with("GET /enroll/Zq7X… 404 "),
        "{enroll}"
    );
    assert_access(&page, "other", "GET", "unmatched", 404);

    let lines = log.lock().unwrap().clone();
    // The line the refused form wrote during its request names the request in its span.
    let refusal = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "admin request refused")
        .unwrap_or_else(|| panic!("no 'admin request refused' line: {lines:#?}"));
    assert_eq!(
        refusal["span"]["request_id"],
        forbidden_id.as_str(),
        "{refusal}"
    );
    assert_eq!(refusal["level"], "WARN", "{refusal}");

    assert!(lines.len() > 6, "{lines:#?}");
    for line in &lines {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let time = v["timestamp"].as_str().unwrap_or_else(|| panic!("{line}"));
        assert!(time.len() >= 20 && time.contains('T'), "{line}");
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&v["level"].as_str().unwrap()),
            "{line}"
        );
        assert!(
            v["target"].as_str().is_some_and(|t| !t.is_empty()),
            "{line}"
        );
        assert!(v["message"].is_string(), "{line}");
        assert!(
            !line.contains(link),
            "the link token reached the log: {line}"
        );
        assert!(
            !line.contains(&link[..8]),
            "the link token reached the log: {line}"
        );
        assert!(
            !line.contains(&api_token),
            "the API token reached the log: {line}"
        );
        // A line written during a request names it, and only one that was made.
        if let Some(id) = v["span"]["request_id"].as_str() {
            assert!(
                [
                    &scim_id,
                    &refused_id,
                    &admin_id,
                    &forbidden_id,
                    &enroll_id,
                    &page_id
                ]
                .iter()
                .any(|r| r.as_str() == id),
                "{line}"
            );
        }
    }
}

/// The text format keeps one readable line per request with the same facts.
#[actix_web::test]
async fn text_access_lines_say_the_same_facts() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr, log) = serve_logged(scimgate(dir.path()));
    let res = awc::Client::default()
        .get(format!("http://{addr}/admin/login"))
        .send()
        .await
        .unwrap();
    let id = request_id(&res);
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        if let Some(l) = log
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(&format!("request_id={id}")))
        {
            break l.clone();
        }
        assert!(Instant::now() < deadline, "no access line for {id}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    sigterm(&mut child);
    assert!(
        line.contains(" INFO scimgate::http: GET /admin/login 200 "),
        "{line}"
    );
    for fact in [
        "surface=admin ",
        "method=GET ",
        "route=/admin/login ",
        "status=200 ",
        "latency_ms=",
        "client=127.0.0.1",
    ] {
        assert!(line.contains(fact), "{fact} in {line}");
    }
}
