//! `log.format = "json"` (issue 16 item 5): the real binary writes one JSON object a line,
//! each response carries an `X-Request-Id`, the request's access line (found by that id) says
//! its masked path and status, and the admin error page shows the same id.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::binary::{scimgate, serve_logged, sigterm};

/// Waits until a log line contains `needle`; returns that line.
async fn line_with(log: &crate::binary::Log, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(l) = log.lock().unwrap().iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        assert!(Instant::now() < deadline, "no log line with {needle:?}");
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

#[actix_web::test]
async fn json_lines_carry_the_request_id_and_keep_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = scimgate(dir.path());
    cmd.env("SCIMGATE_LOG_FORMAT", "json")
        .env("SCIMGATE_LOG", "debug");
    let (mut child, addr, log) = serve_logged(cmd);
    let base = format!("http://{addr}");
    let client = awc::Client::default();

    let res = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert!(res.status().is_success());
    let health_id = request_id(&res);

    // A one-time link token in the path: the log keeps four characters of it.
    let token = "Zq7XbU1mXk3q9Zr7Yw2PZ0aLq8cVn4TgHs6eKj5dRf1";
    let res = client
        .get(format!("{base}/enroll/{token}"))
        .send()
        .await
        .unwrap();
    let enroll_id = request_id(&res);

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
    assert_ne!(health_id, page_id);

    let health = line_with(&log, &format!("id={health_id}")).await;
    let enroll = line_with(&log, &format!("id={enroll_id}")).await;
    let page = line_with(&log, &format!("id={page_id}")).await;
    sigterm(&mut child);

    for (line, path, status) in [
        (&health, "GET /healthz ", " 200 "),
        (&enroll, "GET /enroll/Zq7X… ", ""),
        (&page, "GET /admin/no-such-page ", " 404 "),
    ] {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["level"], "INFO", "{line}");
        assert_eq!(v["target"], "scimgate::http", "{line}");
        let message = v["fields"]["message"].as_str().unwrap();
        assert!(message.contains(path), "{message}");
        assert!(message.contains(status), "{message}");
        assert!(message.contains("ms id="), "{message}");
    }

    let lines = log.lock().unwrap().clone();
    assert!(lines.len() > 3, "{lines:#?}");
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
        assert!(v["fields"]["message"].is_string(), "{line}");
        assert!(
            !line.contains(token),
            "the link token reached the log: {line}"
        );
        assert!(
            !line.contains(&token[..8]),
            "the link token reached the log: {line}"
        );
    }
}
