//! Backups, `check` and restore (issue 16 item 1): a backup taken while writes run holds every
//! write acknowledged before it began and passes `check`; `check` fails on a damaged file and
//! on a wrong secrets key; restore is refused while serving and keeps the replaced database.

use std::cell::RefCell;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::rc::Rc;

use serde_json::Value;

use crate::support::*;

/// The binary on the database (and, by default, the secrets key file beside it) of `db`.
fn scimgate_on(db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    c.current_dir(db.parent().unwrap())
        .env("SCIMGATE_DATABASE", db)
        .env("SCIMGATE_LISTEN", "127.0.0.1:0")
        .env("SCIMGATE_LOG", "warn");
    c
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn user_names(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut s = c.prepare("SELECT user_name FROM users").unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[actix_web::test]
async fn backup_during_writes_restores_every_acknowledged_write() {
    let mut app = TestApp::spawn().await;
    let db = app.db_path();
    let dir = db.parent().unwrap().to_owned();
    let acked: Rc<RefCell<Vec<String>>> = Rc::default();
    let stop = Rc::new(std::cell::Cell::new(false));
    // Four writers creating users as fast as they are answered.
    let mut load = Vec::new();
    for w in 0..4 {
        let (acked, stop) = (acked.clone(), stop.clone());
        let (client, url, token) = (app.client.clone(), app.url("/Users"), app.token.clone());
        load.push(tokio::task::spawn_local(async move {
            let mut n = 0;
            while !stop.get() {
                let name = format!("load-{w}-{n}@example.com");
                let r = send(
                    client
                        .post(&url)
                        .insert_header(("Authorization", format!("Bearer {token}"))),
                    Some(&okta_user(&name)),
                )
                .await;
                assert_eq!(r.status.as_u16(), 201, "{}", r.body);
                acked.borrow_mut().push(name);
                n += 1;
            }
        }));
    }
    while acked.borrow().len() < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acked.borrow().clone();
    let backup = dir.join("backup.db");
    let out = {
        let mut cmd = scimgate_on(&db);
        cmd.args(["backup", "--to"]).arg(&backup).arg("--json");
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    };
    let during = acked.borrow().len();
    stop.set(true);
    for t in load {
        t.await.unwrap();
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        during > before.len(),
        "the writes went on while the backup ran"
    );
    let report = json_of(&out);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["integrations"], 1);
    assert!(report["users"].as_i64().unwrap() >= before.len() as i64);
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let in_backup = user_names(&backup);
    for name in &before {
        assert!(
            in_backup.contains(name),
            "{name} acknowledged before the backup began is missing"
        );
    }

    // A second backup to the same file is refused and leaves it as it was.
    let again = scimgate_on(&db)
        .args(["backup", "--to"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    assert_eq!(user_names(&backup).len(), in_backup.len());

    // Restore is refused while the server holds the database.
    let refused = scimgate_on(&db)
        .args(["restore", "--from"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("in use") && err.contains("stop it first"),
        "{err}"
    );
    assert!(!dir.join("scimgate.db.before-restore").exists());

    app.stop().await;
    let all_before_restore = user_names(&db).len();
    assert!(all_before_restore >= during);
    let restored = scimgate_on(&db)
        .args(["restore", "--json", "--from"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    let kept = dir.join("scimgate.db.before-restore");
    assert_eq!(json_of(&restored)["previous"], kept.display().to_string());
    // The kept database is whole (its WAL folded in); the live one is the backup's.
    assert_eq!(user_names(&kept).len(), all_before_restore);
    assert!(!dir.join("scimgate.db-wal").exists());
    assert_eq!(user_names(&db).len(), in_backup.len());
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let check = scimgate_on(&db).args(["check", "--json"]).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_eq!(json_of(&check)["users"], in_backup.len());

    // The restored database serves, with the same integration token.
    app.restart().await;
    let r = app
        .get(&format!(
            "/Users?filter=userName%20eq%20%22{}%22",
            enc(&before[0])
        ))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["totalResults"], 1);
    app.stop().await;

    // A second restore does not replace the kept database.
    let twice = scimgate_on(&db)
        .args(["restore", "--from"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("before-restore"));
}

#[actix_web::test]
async fn check_fails_on_damage_and_on_a_wrong_key() {
    let mut app = TestApp::spawn().await;
    app.create_user("kim@example.com").await;
    let db = app.db_path();
    let dir = db.parent().unwrap().to_owned();
    let backup = dir.join("b.db");
    let out = scimgate_on(&db)
        .args(["backup", "--to"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 users") && text.contains("secrets key file"),
        "{text}"
    );
    app.stop().await;

    let ok = scimgate_on(&db)
        .args(["check", "--file"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    // A file with pages overwritten in the middle.
    let damaged = dir.join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let page = 4096;
    for b in &mut bytes[page * 3..page * 6] {
        *b = 0x5a;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    let out = scimgate_on(&db)
        .args(["check", "--json", "--file"])
        .arg(&damaged)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report = json_of(&out);
    assert_eq!(report["ok"], false);
    assert!(
        !report["problems"].as_array().unwrap().is_empty(),
        "{report}"
    );

    // Not a database at all.
    std::fs::write(dir.join("junk.db"), b"not a database, just text").unwrap();
    let out = scimgate_on(&db)
        .args(["check", "--file", "junk.db"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("not a readable database"));

    // Another secrets key: the file is sound, but its secrets would not open.
    let other_key = dir.join("other.key");
    std::fs::write(&other_key, format!("{}\n", "A".repeat(43))).unwrap();
    std::fs::set_permissions(&other_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = scimgate_on(&db)
        .env("SCIMGATE_SECRETS_KEY_FILE", &other_key)
        .args(["check", "--json", "--file"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let report = json_of(&out);
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("secrets") && problems.contains("holds key"),
        "{report}"
    );
    // …and restore refuses it, changing nothing.
    let out = scimgate_on(&db)
        .env("SCIMGATE_SECRETS_KEY_FILE", &other_key)
        .args(["restore", "--from"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!dir.join("scimgate.db.before-restore").exists());

    // No key file at all.
    let out = scimgate_on(&db)
        .env("SCIMGATE_SECRETS_KEY_FILE", dir.join("missing.key"))
        .args(["check", "--file"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("does not exist"));

    // A database newer than this binary.
    let newer = dir.join("newer.db");
    std::fs::copy(&backup, &newer).unwrap();
    rusqlite::Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let out = scimgate_on(&db)
        .args(["check", "--file"])
        .arg(&newer)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("newer than this binary"));
}

async fn readyz(app: &TestApp, json: bool) -> (u16, String) {
    let mut req = app.client.get(format!("http://{}/readyz", app.addr));
    if json {
        req = req.insert_header(("Accept", "application/json"));
    }
    let mut resp = req.send().await.unwrap();
    let body = resp.body().await.unwrap();
    (
        resp.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// `/readyz` is 200 while the writer commits and 503, saying why, while it cannot (another
/// connection holds the write lock: the writer is stuck behind it), in text and in JSON.
#[actix_web::test]
async fn readyz_fails_while_the_writer_cannot_commit() {
    let mut app = TestApp::spawn().await;
    assert_eq!(readyz(&app, false).await, (200, "ok\n".to_owned()));
    let (status, body) = readyz(&app, true).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    for check in ["database", "writer", "schema", "outbox"] {
        assert_eq!(v["checks"][check], "ok", "{v}");
    }

    let blocker = rusqlite::Connection::open(app.db_path()).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let (status, body) = readyz(&app, false).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.starts_with("writer: the writer did not commit"),
        "{body}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let (status, body) = readyz(&app, true).await;
    assert_eq!(status, 503);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unavailable");
    assert_eq!(v["checks"]["database"], "ok", "reads go on: {v}");
    assert!(
        v["checks"]["writer"]
            .as_str()
            .unwrap()
            .contains("did not commit")
    );
    // Liveness is not readiness: the process still answers.
    let health = app
        .client
        .get(format!("http://{}/healthz", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);

    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);
    // The writer's stuck batch gives up after SQLite's busy timeout (10 s) at the latest.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = readyz(&app, false).await;
        if status == 200 {
            assert_eq!(body, "ok\n");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still not ready: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// `[backup] dir`: the server backs up at start (0600, checked), and the Settings page says
/// when and how it went.
#[actix_web::test]
async fn scheduled_backup_at_start_shown_on_settings() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    let backups = dir.path().join("backups");
    config.backup.dir = backups.clone();
    config.backup.keep = 2;
    let mut app = TestApp::spawn_with(dir, config).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let file = loop {
        let found: Vec<_> = std::fs::read_dir(&backups)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        // Not `…db-journal`, which exists a moment while the copy is made.
        if let Some(f) = found.into_iter().find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("scimgate-") && n.ends_with(".db")
        }) {
            break f;
        }
        assert!(std::time::Instant::now() < deadline, "no scheduled backup");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(
        std::fs::metadata(&backups).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let mut b = crate::support::admin::Browser::admin(&app).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let page = b.get("/admin/settings").await;
        if page.body.contains("id=\"last-backup\" class=\"ok\"") {
            assert!(
                page.body.contains(&file.display().to_string()),
                "{}",
                page.body
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let check = scimgate_on(&app.db_path())
        .args(["check", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    app.stop().await;
}
