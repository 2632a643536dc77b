//! Secrets at rest and private files (issue 13 items 2 and 3): no TOTP secret in the database
//! files, a missing or wrong key refuses to start and changes nothing, `secrets rotate-key`,
//! the sealing of an older version's plaintext secrets, and files created `0600` whatever the
//! umask.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use scimgate::auth::totp::TotpSecret;
use scimgate::directory::verify::Verdict;
use serde_json::Value;

use crate::binary::{scimgate, serve_logged, sigterm};
use crate::enroll::{app_with_mail, enroll_by_email, post_user, unix_now};
use crate::mail::{close, user};
use crate::support::smtp::SmtpSink;

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The bytes of the database, its `-wal` and its `-shm`, those that exist.
fn db_files(db: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| with_suffix(db, s))
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// Neither the base32 secret nor its raw bytes are in any of the database's files.
fn assert_not_in_files(db: &Path, secret: &TotpSecret, when: &str) {
    let raw = totp_rs::Secret::try_from_base32(secret.expose())
        .unwrap()
        .as_bytes()
        .to_vec();
    assert_eq!(raw.len(), 20);
    let files = db_files(db);
    assert!(!files.is_empty());
    for (path, bytes) in files {
        assert!(
            !contains(&bytes, secret.expose().as_bytes()),
            "{when}: the base32 secret is in {}",
            path.display()
        );
        assert!(
            !contains(&bytes, &raw),
            "{when}: the raw secret is in {}",
            path.display()
        );
    }
}

fn stored_secret(db: &Path) -> String {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT secret FROM authenticators", [], |r| r.get(0))
        .unwrap()
}

/// Waits until the server at `addr` answers `/healthz` (and so has been running a moment: a
/// SIGTERM right after the "listening" line can come before its handler is in place).
fn answered(addr: &str) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[actix_web::test]
async fn no_totp_secret_in_the_database_files() {
    let sink = SmtpSink::start().await;
    let mut app = app_with_mail(&sink).await;
    post_user(&app, &user("sam@example.test", Some("sam@mail.test"))).await;
    let (secret, _) = enroll_by_email(&app, &sink, "sam@mail.test").await;
    let db = app.config.database.path.clone();
    // While the appliance runs, before any checkpoint: the writes are in the WAL.
    let wal = std::fs::metadata(with_suffix(&db, "-wal")).unwrap();
    assert!(wal.len() > 0, "the enrollment's writes are in the WAL");
    assert_not_in_files(&db, &secret, "live");
    assert!(stored_secret(&db).starts_with("v1:"));
    // The sealed secret still works.
    let code = secret.code_at(unix_now() + 30).unwrap();
    let v = app.directory.verify_code("sam@example.test", &code).await;
    assert_eq!(v.unwrap(), Verdict::Allow);
    app.stop().await;
    assert_not_in_files(&db, &secret, "stopped");
}

/// An administrator's own TOTP secret is sealed too (purpose "admin-totp"), and a secrets key
/// rotation re-seals it: the administrator signs in with a code afterwards.
#[actix_web::test]
async fn no_admin_totp_secret_in_the_database_files() {
    use crate::admin_mfa::{PASSWORD, app, give_code, next_code, password_step, register};
    let mut app = app(true).await;
    let mut b = crate::support::admin::Browser::new(&app);
    b.setup(app.setup_link.as_deref().unwrap(), "admin", PASSWORD)
        .await;
    let (secret, _) = register(&mut b).await;
    let db = app.config.database.path.clone();
    assert_not_in_files(&db, &secret, "live");
    let stored: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT totp_secret FROM admins", [], |r| r.get(0))
        .unwrap();
    assert!(stored.starts_with("v1:"), "{stored}");
    app.stop().await;
    assert_not_in_files(&db, &secret, "stopped");

    let out = run(&mut rotate(&db));
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["resealed"].as_u64().unwrap() >= 1, "{report}");
    let resealed: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT totp_secret FROM admins", [], |r| r.get(0))
        .unwrap();
    assert_ne!(resealed, stored);
    app.restart().await;
    let mut b = crate::support::admin::Browser::new(&app);
    let csrf = password_step(&mut b).await;
    let p = give_code(&mut b, &csrf, &next_code(&secret)).await;
    assert_eq!(p.status.as_u16(), 303, "{}", p.body);
    assert_eq!(b.get("/admin/users").await.status.as_u16(), 200);
    app.stop().await;
}

/// Runs `cmd`, which must end by itself within 30 seconds.
fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("scimgate did not stop by itself (it should have refused to start)");
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_or_wrong_key_refuses_to_start_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(scimgate(dir.path()).args(["integration", "create", "--name", "okta"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let db = dir.path().join("appliance.db");
    let key = dir.path().join("scimgate.key");
    assert_eq!(mode(&key), 0o600);
    let snapshot = |db: &Path| -> (Vec<u8>, SystemTime) {
        (
            std::fs::read(db).unwrap(),
            std::fs::metadata(db).unwrap().modified().unwrap(),
        )
    };
    let before = snapshot(&db);
    let saved = dir.path().join("saved.key");
    std::fs::rename(&key, &saved).unwrap();

    let out = run(scimgate(dir.path()).arg("serve"));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&key.display().to_string()), "{err}");
    assert!(
        err.contains("does not exist") && err.contains("secrets.key_file"),
        "{err}"
    );
    assert!(!key.exists(), "no new key for a database that has one");
    assert!(snapshot(&db) == before, "the database changed");

    scimgate::auth::keyfile::generate(&key).unwrap();
    let other = std::fs::read(&key).unwrap();
    let out = run(scimgate(dir.path()).arg("serve"));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&key.display().to_string()) && err.contains("holds key"),
        "{err}"
    );
    assert!(snapshot(&db) == before, "the database changed");
    assert_eq!(std::fs::read(&key).unwrap(), other);

    // The right key back: it starts again.
    std::fs::rename(&saved, &key).unwrap();
    let out = run(scimgate(dir.path()).args(["integration", "list"]));
    assert!(out.status.success(), "{}", stderr(&out));
}

fn rotate(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    c.current_dir(db.parent().unwrap())
        .env("SCIMGATE_DATABASE", db)
        .args(["secrets", "rotate-key", "--json"]);
    c
}

#[actix_web::test]
async fn rotate_key_with_the_binary() {
    let sink = SmtpSink::start().await;
    let mut app = app_with_mail(&sink).await;
    post_user(&app, &user("rob@example.test", Some("rob@mail.test"))).await;
    let (secret, _) = enroll_by_email(&app, &sink, "rob@mail.test").await;
    let db = app.config.database.path.clone();
    let key_file = app.config.secrets_key_file();

    // Not while the appliance runs on the database.
    let out = run(&mut rotate(&db));
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("in use") && err.contains("stop it first"),
        "{err}"
    );

    app.stop().await;
    let old_key = std::fs::read(&key_file).unwrap();
    let sealed_before = stored_secret(&db);
    let out = run(&mut rotate(&db));
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resealed"], 1, "{v}");
    assert_ne!(v["old_key_id"], v["new_key_id"]);
    let old_path = with_suffix(&key_file, ".old");
    assert_eq!(v["old_key_file"], old_path.display().to_string());
    assert_eq!(
        std::fs::read(&old_path).unwrap(),
        old_key,
        "the old key is kept"
    );
    assert_ne!(std::fs::read(&key_file).unwrap(), old_key, "a new key");
    assert_eq!(mode(&key_file), 0o600);
    assert!(!with_suffix(&key_file, ".new").exists());
    let sealed_after = stored_secret(&db);
    assert!(sealed_after.starts_with("v1:") && sealed_after != sealed_before);
    assert_not_in_files(&db, &secret, "rotated");

    // The user's authenticator still works, under the new key.
    let (d, w) = scimgate::app::open_directory(&app.config).unwrap();
    let code = secret.code_at(unix_now() + 30).unwrap();
    assert_eq!(
        d.verify_code("rob@example.test", &code).await.unwrap(),
        Verdict::Allow
    );
    close(d, w).await;

    // Another rotation asks for the .old to be moved away first, and changes nothing.
    let out = run(&mut rotate(&db));
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains(&old_path.display().to_string()), "{err}");
    assert_eq!(stored_secret(&db), sealed_after);
}

#[actix_web::test]
async fn plaintext_secrets_of_an_older_version_are_sealed_at_start() {
    let sink = SmtpSink::start().await;
    let mut app = app_with_mail(&sink).await;
    post_user(&app, &user("old@example.test", Some("old@mail.test"))).await;
    let (secret, _) = enroll_by_email(&app, &sink, "old@mail.test").await;
    app.stop().await;
    let db = app.config.database.path.clone();
    let key_file = app.config.secrets_key_file();
    // As a version before sealing left it: the secret in base32, no key recorded, no key file.
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute("UPDATE authenticators SET secret = ?1", [secret.expose()])
            .unwrap();
        c.execute("DELETE FROM secrets_meta", []).unwrap();
    }
    std::fs::remove_file(&key_file).unwrap();
    assert_eq!(stored_secret(&db), secret.expose());

    let (d, w) = scimgate::app::open_directory(&app.config).unwrap();
    assert!(stored_secret(&db).starts_with("v1:"));
    assert_eq!(mode(&key_file), 0o600);
    assert_not_in_files(&db, &secret, "sealed at start");
    let code = secret.code_at(unix_now() + 30).unwrap();
    assert_eq!(
        d.verify_code("old@example.test", &code).await.unwrap(),
        Verdict::Allow
    );
    close(d, w).await;
    assert_not_in_files(&db, &secret, "stopped");
}

#[test]
fn files_are_private_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/sub");
    let db = data.join("scimgate.db");
    let under_umask_022 = || {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            "umask 022; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_scimgate"),
        ])
        .current_dir(dir.path())
        .env("SCIMGATE_DATABASE", &db)
        .env("SCIMGATE_LISTEN", "127.0.0.1:0")
        .env("SCIMGATE_PUBLIC_URL", "http://127.0.0.1:1");
        c
    };
    let (mut child, addr, _) = serve_logged(under_umask_022());
    answered(&addr);
    for f in [
        db.clone(),
        with_suffix(&db, "-wal"),
        with_suffix(&db, "-shm"),
        with_suffix(&db, ".lock"),
        data.join("scimgate.key"),
    ] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    for d in [dir.path().join("data"), data.clone()] {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
    }
    sigterm(&mut child);

    // A database left readable by others (an older version, a copy) gets a warning that says
    // what to run.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (mut child, addr, log) = serve_logged(under_umask_022());
    answered(&addr);
    let deadline = Instant::now() + Duration::from_secs(10);
    let expected = format!("chmod 600 {}", db.display());
    while !log.lock().unwrap().iter().any(|l| l.contains(&expected)) {
        assert!(
            Instant::now() < deadline,
            "no warning with `{expected}`: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(log.lock().unwrap().iter().any(|l| l.contains("WARN")));
    sigterm(&mut child);
}
