//! What the log may say (issue 13 item 4): the real binary, logging at `debug`, runs the setup
//! flow with the administrator's second factor (registration, recovery codes, a sign-in with a
//! recovery code), a verifier key made on the Settings page, a whole enrollment (SCIM create →
//! email → link → QR page → code) and code verifications with verifier keys, and its captured
//! log is searched for every token, link, key, password, code, cookie and secret issued along
//! the way. The one-time setup link printed at start is the only one allowed, and only in that
//! start-up line. And what it may not say: a client's malformed request (over HTTP and HTTPS)
//! writes no ERROR line (issue 14 item 4).

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

/// What a client sends over raw TCP to make actix-http or a handler refuse the request (all but
/// the 100 KiB head, which is within actix-http's limit), and why. `users` is an integration's
/// Users endpoint with its token, so that body errors reach a handler that reads the body.
fn hostile_inputs(users: &str, token: &str) -> Vec<(&'static str, Vec<u8>)> {
    let post = |headers: &str, body: &[u8]| {
        let mut req = format!(
            "POST {users} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n{headers}\r\n"
        )
        .into_bytes();
        req.extend(body);
        req
    };
    let head_of = |kib: usize| {
        let mut head = b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
        head.extend(std::iter::repeat_n(b'a', kib * 1024));
        head.extend(b"\r\n\r\n");
        head
    };
    // The first bytes of a TLS 1.2/1.3 ClientHello, as a browser sends to an https:// URL.
    let tls_hello = [
        0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x5b, 0x1e, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ]
    .to_vec();
    vec![
        ("a malformed request line", b"GARBAGE\r\n\r\n".to_vec()),
        ("a request line without a path", b"GET\r\n\r\n".to_vec()),
        // actix-http reads heads up to 128 KiB; a larger one is answered 431.
        ("a 100 KiB request head", head_of(100)),
        ("a 200 KiB request head", head_of(200)),
        (
            "a header name with a control byte",
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nBad\x01Name: v\r\n\r\n".to_vec(),
        ),
        (
            "a header value with a NUL byte",
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: v\x00w\r\n\r\n".to_vec(),
        ),
        (
            "a header line without a colon",
            b"GET /healthz HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n".to_vec(),
        ),
        (
            "an unknown HTTP version",
            b"GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n".to_vec(),
        ),
        (
            "two Content-Length headers",
            b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
                .to_vec(),
        ),
        (
            "Content-Length with Transfer-Encoding",
            b"POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
        ),
        (
            "a truncated body",
            post("Content-Length: 1000\r\n", b"{\"userName\":"),
        ),
        ("a body that is not JSON", post("Content-Length: 3\r\n", b"\xff\xfe{")),
        (
            "a body over the limit",
            post("Content-Length: 5000000\r\n", &[b'a'; 100_000]),
        ),
        (
            "an invalid chunk size",
            post(
                "Transfer-Encoding: chunked\r\n",
                b"ZZZ\r\nabc\r\n0\r\n\r\n",
            ),
        ),
        (
            "a chunk size that overflows",
            post(
                "Transfer-Encoding: chunked\r\n",
                b"FFFFFFFFFFFFFFFFFF\r\nabc\r\n",
            ),
        ),
        (
            "a truncated chunked body",
            post("Transfer-Encoding: chunked\r\n", b"5\r\nabc"),
        ),
        (
            "a body on an unauthenticated request",
            b"POST /scim/v2/nobody/Users HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc"
                .to_vec(),
        ),
        ("a TLS ClientHello on the plain port", tls_hello),
        ("bytes that are not HTTP", vec![0xff; 64]),
    ]
}

/// Sends `bytes` on `stream`, closes its write half, and returns the first line of whatever
/// comes back within two seconds.
async fn exchange<S>(mut stream: S, bytes: &[u8]) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // The server may answer and close before it has read everything (a 431 for a huge head).
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

async fn tcp(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

/// Asserts that actix-http refused `what` (or, for the 100 KiB head, answered it).
fn assert_refused(what: &str, status: &str) {
    let within_limits = what.contains("100 KiB");
    assert!(
        status.is_empty() || status.starts_with("HTTP/1.1 4") || within_limits,
        "{what}: answered {status:?}"
    );
}

/// Creates an integration with the CLI: its Users endpoint path and its token.
fn integration(dir: &std::path::Path) -> (String, String) {
    let out = scimgate(dir)
        .args(["integration", "create", "--name", "okta", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let users = format!("/scim/v2/{}/Users", created["id"].as_str().unwrap());
    (users, token)
}

/// The log lines at ERROR.
fn error_lines(log: &crate::binary::Log) -> Vec<String> {
    let lines = log.lock().unwrap().clone();
    lines
        .into_iter()
        .filter(|l| l.contains(" ERROR "))
        .collect()
}

/// Issue 14 item 4: a malformed request is the client's fault, and ERROR in the log means the
/// server's. Every malformed input actix-http refuses still leaves a DEBUG line (re-levelled
/// from actix-http's ERROR "stream error" line), and the server keeps answering.
#[actix_web::test]
async fn malformed_requests_write_no_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let (users, token) = integration(dir.path());
    let mut cmd = scimgate(dir.path());
    cmd.env("SCIMGATE_LOG", "debug");
    let (mut child, addr, log) = serve_logged(cmd);
    let addr: std::net::SocketAddr = addr.parse().unwrap();

    for (what, bytes) in hostile_inputs(&users, &token) {
        let status = exchange(tcp(addr).await, &bytes).await;
        assert_refused(what, &status);
    }

    let r = awc::Client::default()
        .get(format!("http://{addr}/healthz?after=malformed"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "the server still answers");
    log_line(&log, "GET /healthz?after=malformed").await;
    // The client errors were logged, below ERROR.
    log_line(
        &log,
        "DEBUG actix_http::h1::dispatcher: stream error: request parse error",
    )
    .await;
    sigterm(&mut child);
    let errors = error_lines(&log);
    assert!(
        errors.is_empty(),
        "ERROR lines for client errors: {errors:#?}"
    );
}

/// The same over HTTPS: each input in plain text to the TLS listener (rustls refuses the
/// handshake), and inside a TLS session (actix-http refuses the request).
#[actix_web::test]
async fn malformed_requests_over_https_write_no_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let (users, token) = integration(dir.path());
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = scimgate(dir.path())
        .args(["tls", "self-signed", "--host", "localhost", "--cert"])
        .arg(&cert)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = scimgate(dir.path());
    cmd.env("SCIMGATE_LOG", "debug")
        .env("SCIMGATE_PUBLIC_URL", "https://localhost:1")
        .env("SCIMGATE_TLS_CERTIFICATE", &cert)
        .env("SCIMGATE_TLS_PRIVATE_KEY", &key);
    let (mut child, addr, log) = serve_logged(cmd);
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let client = crate::tls::Client::trusting(&[&cert]);

    for (what, bytes) in hostile_inputs(&users, &token) {
        let plain = exchange(tcp(addr).await, &bytes).await;
        assert!(
            !plain.starts_with("HTTP/"),
            "{what} in plain text: {plain:?}"
        );
        let status = exchange(client.connect(addr).await, &bytes).await;
        assert_refused(what, &status);
    }

    let mut s = client.connect(addr).await;
    let r = crate::tls::request(&mut s, "GET", "/healthz?after=malformed", &[], None).await;
    assert_eq!(r.status, 200, "the server still answers");
    log_line(&log, "GET /healthz?after=malformed").await;
    log_line(
        &log,
        "DEBUG actix_http::h1::dispatcher: stream error: request parse error",
    )
    .await;
    sigterm(&mut child);
    let errors = error_lines(&log);
    assert!(
        errors.is_empty(),
        "ERROR lines for client errors: {errors:#?}"
    );
}
