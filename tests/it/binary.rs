//! The real binary, as an operator runs it: `integration create --json`, then `serve` on port 0
//! (reading the address from the log), SIGTERM, and a second start on the same file.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

pub(crate) fn scimgate(dir: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    c.current_dir(dir)
        .env("SCIMGATE_DATABASE", dir.join("appliance.db"))
        .env("SCIMGATE_LISTEN", "127.0.0.1:0")
        .env("SCIMGATE_PUBLIC_URL", "http://127.0.0.1:1");
    c
}

/// Starts `serve`, returns the child and the address from its "listening on" line.
fn serve(dir: &std::path::Path) -> (Child, String) {
    let (child, addr, _) = serve_logged(scimgate(dir));
    (child, addr)
}

/// The log lines a running `serve` has written to standard error so far.
pub(crate) type Log = Arc<Mutex<Vec<String>>>;

/// Starts `cmd serve`: the child, the address from its "listening on" line (`http` or
/// `https`), and every line it writes to standard error (its whole log) as it comes.
pub(crate) fn serve_logged(mut cmd: Command) -> (Child, String, Log) {
    let mut child = cmd
        .arg("serve")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Log::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = ["listening on http://", "listening on https://"]
                .iter()
                .find_map(|l| line.split(l).nth(1))
            {
                // In a JSON log the address is followed by the closing quote of the message.
                let addr = rest
                    .split(|c: char| c.is_whitespace() || c == '"')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = tx.send(addr);
            }
            lines.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no 'listening on' line");
    (child, addr, log)
}

pub(crate) fn sigterm(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "scimgate exited with {s}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "scimgate did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[actix_web::test]
async fn operator_flow_with_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = scimgate(dir.path())
        .args(["integration", "create", "--name", "okta", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["id"].as_str().unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "okta");
    assert_eq!(
        created["base_url"],
        format!("http://127.0.0.1:1/scim/v2/{id}")
    );
    assert!(token.starts_with("scg_"));
    assert!(!created["base_url"].as_str().unwrap().contains('_'));

    // Names are unique; the error says so and nothing is printed on stdout.
    let dup = scimgate(dir.path())
        .args(["integration", "create", "--name", "OKTA"])
        .output()
        .unwrap();
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already taken"));

    // The list never shows the token.
    let list = scimgate(dir.path())
        .args(["integration", "list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("okta") && text.contains(id) && !text.contains(&token));

    let client = awc::Client::default();
    let (mut child, addr) = serve(dir.path());
    let base = format!("http://{addr}/scim/v2/{id}");
    let auth = ("Authorization", format!("Bearer {token}"));
    let r = send(
        client
            .post(format!("{base}/Users"))
            .insert_header(auth.clone()),
        Some(&okta_user("bin@example.com")),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let user_id = r.body["id"].as_str().unwrap().to_owned();
    sigterm(&mut child);

    // Started again on the same file: the user is there.
    let (mut child, addr) = serve(dir.path());
    let r = send(
        client
            .get(format!("http://{addr}/scim/v2/{id}/Users/{user_id}"))
            .insert_header(auth.clone()),
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 200);
    assert_eq!(r.body["userName"], "bin@example.com");
    let mut health = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(&health.body().await.unwrap()[..], b"ok\n");
    sigterm(&mut child);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .current_dir(dir.path())
        .args(["--config", "bad.toml", "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lisen") && err.contains("bad.toml"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .current_dir(dir.path())
        .env("SCIMGATE_LISTEN", "nowhere")
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCIMGATE_LISTEN"));

    // A database newer than this binary is refused.
    let db = dir.path().join("new.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let out = Command::new(env!("CARGO_BIN_EXE_scimgate"))
        .current_dir(dir.path())
        .env("SCIMGATE_DATABASE", &db)
        .args(["integration", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("newer than this binary"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn user_add_creates_a_manual_user() {
    let dir = tempfile::tempdir().unwrap();
    let out = scimgate(dir.path())
        .args([
            "user",
            "add",
            "--user-name",
            "Manual@example.com",
            "--email",
            "manual@example.com",
            "--alias",
            "man",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(user["userName"], "Manual@example.com");
    assert_eq!(user["aliases"][0]["value"], "man");
    // Taken (as an alias, any case) and invalid input are refused with a clear message.
    for args in [["--user-name", "MAN"], ["--email", "not-an-email"]] {
        let mut cmd = scimgate(dir.path());
        cmd.args(["user", "add"]);
        if args[0] == "--email" {
            cmd.args(["--user-name", "other@example.com"]);
        }
        let out = cmd.args(args).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("already") || err.contains("--email"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[actix_web::test]
async fn integration_set_and_mail_test_with_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = scimgate(dir.path())
        .args(["integration", "create", "--name", "okta"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = scimgate(dir.path())
        .args([
            "integration",
            "set",
            "OKTA",
            "--send-enrollment-emails",
            "on",
            "--read-all-users",
            "on",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["send_enrollment_emails"], true);
    assert_eq!(v["include_manual_users"], false);
    assert_eq!(v["read_all_users"], true);
    let out = scimgate(dir.path())
        .args(["integration", "set", "nope", "--read-all-users", "off"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no integration named 'nope'"));

    // `mail test` reports the server's answer, or its refusal.
    let mut sink = crate::support::smtp::SmtpSink::start().await;
    let port = sink.addr.port().to_string();
    let mail_test = move |dir: std::path::PathBuf, port: String| {
        scimgate(&dir)
            .args(["mail", "test", "--to", "ops@mail.test"])
            .env("SCIMGATE_SMTP_HOST", "127.0.0.1")
            .env("SCIMGATE_SMTP_PORT", port)
            .env("SCIMGATE_SMTP_TLS", "none")
            .env("SCIMGATE_SMTP_FROM", "MFA <mfa@example.test>")
            .output()
            .unwrap()
    };
    let d = dir.path().to_owned();
    let (d2, p2) = (d.clone(), port.clone());
    let out = tokio::task::spawn_blocking(move || mail_test(d2, p2))
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("250 2.0.0 Ok: queued as 1"));
    assert_eq!(sink.count_to("ops@mail.test"), 1);
    sink.shut_down().await;
    let out = tokio::task::spawn_blocking(move || mail_test(d, port))
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 15 item 3: a setting changed with `scimgate integration set` from another process
/// while `serve` runs applies to the very next SCIM request (no waiting).
#[actix_web::test]
async fn cli_settings_apply_to_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let create = |name: &str| -> (String, String) {
        let out = scimgate(dir.path())
            .args(["integration", "create", "--name", name, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    };
    let (id, token) = create("okta");
    let (other_id, other_token) = create("entra");
    let out = scimgate(dir.path())
        .args(["user", "add", "--user-name", "manual@example.com", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let manual: Value = serde_json::from_slice(&out.stdout).unwrap();
    let manual_id = manual["id"].as_str().unwrap().to_owned();
    let set = |flag: &str, value: &str| {
        let out = scimgate(dir.path())
            .args(["integration", "set", "okta", flag, value])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };

    let client = awc::Client::default();
    let (mut child, addr) = serve(dir.path());
    let base = format!("http://{addr}/scim/v2/{id}");
    let auth = ("Authorization", format!("Bearer {token}"));
    let r = send(
        client
            .post(format!("http://{addr}/scim/v2/{other_id}/Users"))
            .insert_header(("Authorization", format!("Bearer {other_token}"))),
        Some(&okta_user("theirs@example.com")),
    )
    .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let theirs = r.body["id"].as_str().unwrap().to_owned();
    let status_of = |user: String| {
        let req = client
            .get(format!("{base}/Users/{user}"))
            .insert_header(auth.clone());
        async move { send(req, None).await.status.as_u16() }
    };

    // Each check runs twice before the change, so the authentication is cached when the
    // setting changes.
    for (flag, user) in [
        ("--include-manual-users", &manual_id),
        ("--read-all-users", &theirs),
    ] {
        assert_eq!(status_of(user.clone()).await, 404, "{flag} off");
        assert_eq!(status_of(user.clone()).await, 404, "{flag} off");
        set(flag, "on");
        assert_eq!(status_of(user.clone()).await, 200, "{flag} on");
        assert_eq!(status_of(user.clone()).await, 200, "{flag} on");
        set(flag, "off");
        assert_eq!(status_of(user.clone()).await, 404, "{flag} off again");
    }

    // Send enrollment emails: the user created by the next request has an email queued with
    // it (in the same commit), or not.
    let queued_to = |email: &str| -> i64 {
        let conn = rusqlite::Connection::open(dir.path().join("appliance.db")).unwrap();
        conn.query_row(
            "SELECT count(*) FROM outbox WHERE recipient = ?1",
            [email],
            |r| r.get(0),
        )
        .unwrap()
    };
    let create_user = |email: &'static str| {
        let req = client
            .post(format!("{base}/Users"))
            .insert_header(auth.clone());
        async move {
            let r = send(req, Some(&okta_user(email))).await;
            assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        }
    };
    create_user("first@example.com").await;
    assert_eq!(queued_to("first@example.com"), 0);
    set("--send-enrollment-emails", "on");
    create_user("second@example.com").await;
    assert_eq!(queued_to("second@example.com"), 1);
    set("--send-enrollment-emails", "off");
    create_user("third@example.com").await;
    assert_eq!(queued_to("third@example.com"), 0);
    sigterm(&mut child);
}
