//! Upgrades (issue 16 item 6): `tests/fixtures/v1.db` is a database as the first released
//! schema left it (version 7: migrations 0001 … 0008, before `0009_verifier_keys`), with an
//! integration, users with emails and aliases, a manual user, a group with members, a
//! registered authenticator whose TOTP secret is still plaintext base32 (sealing came with
//! `0010_sealed_secrets`), activity rows and an outbox message. The current binary serves a
//! copy of it, and every record is still there: over SCIM with the integration's token, in the
//! tables, and the TOTP secret is sealed and still verifies a code.
//!
//! The fixture is made by `make_v1_fixture` below, from the migration files themselves:
//! `cargo test --test it upgrade::make_v1_fixture -- --ignored` rewrites it. A database newer
//! than the binary (a downgrade) is refused: `binary::bad_configuration_is_a_clear_error`
//! (`user_version` 999) and `store::migrations::tests::applies_and_refuses_newer`.

use std::path::{Path, PathBuf};

use scimgate::auth::token::TokenDigest;
use scimgate::auth::totp::TotpSecret;
use scimgate::directory::verify::Verdict;
use serde_json::Value;

use crate::binary::{scimgate, serve_logged, sigterm};
use crate::enroll::unix_now;
use crate::mail::close;

/// The schema version of the first release.
const FIRST_RELEASE: i64 = 7;
/// Migrations 0001 … 0008 as they are in the MIGRATIONS array (there is no 0004).
const FIRST_MIGRATIONS: [&str; FIRST_RELEASE as usize] = [
    include_str!("../../src/store/migrations/0001_init.sql"),
    include_str!("../../src/store/migrations/0002_query.sql"),
    include_str!("../../src/store/migrations/0003_admin.sql"),
    include_str!("../../src/store/migrations/0005_groups.sql"),
    include_str!("../../src/store/migrations/0006_outbox.sql"),
    include_str!("../../src/store/migrations/0007_claims.sql"),
    include_str!("../../src/store/migrations/0008_activity_body.sql"),
];

const INTEGRATION: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
/// The integration's API token; the fixture holds only its SHA-256 digest.
const TOKEN: &str = "scg_v1FixtureTokenNotASecretAnywhere00000000000";
/// Alice's TOTP secret, stored in plaintext as the first release did.
const ALICE_TOTP: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// seq, id, source integration (None: manual), userName, externalId, document.
type FixtureUser = (
    i64,
    &'static str,
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    Value,
);

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1.db")
}

/// Writes `tests/fixtures/v1.db`: the first seven migrations, then the rows the first release
/// wrote for a provisioned directory (folded columns computed by the same `scim_fold` the
/// migrations use).
#[test]
#[ignore = "rewrites the committed fixture; run by hand"]
fn make_v1_fixture() {
    let path = fixture();
    let _ = std::fs::remove_file(&path);
    let mut c = rusqlite::Connection::open(&path).unwrap();
    scimgate::store::fold::register(&c).unwrap();
    // Small pages keep the file small: one page per table and index.
    c.pragma_update(None, "page_size", 1024).unwrap();
    for (i, sql) in FIRST_MIGRATIONS.iter().enumerate() {
        let tx = c.transaction().unwrap();
        tx.execute_batch(sql).unwrap();
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .unwrap();
        tx.commit().unwrap();
    }
    let t = "2026-01-15T09:30:00.000Z";
    c.execute(
        "INSERT INTO integrations (id, name, name_folded, kind, token_digest, send_enrollment_emails,
             include_manual, read_all_users, created, token_created, token_last_used)
         VALUES (?1, 'Okta', 'okta', 'scim2', ?2, 1, 1, 0, ?3, ?3, ?3)",
        rusqlite::params![INTEGRATION, TokenDigest::of(TOKEN).as_bytes(), t],
    )
    .unwrap();
    let users: [FixtureUser; 3] = [
        (
            1,
            "2819c223-7f76-453a-919d-413861904646",
            Some(INTEGRATION),
            "alice@corp.example",
            Some("00u1alice"),
            serde_json::json!({
                "userName": "alice@corp.example", "externalId": "00u1alice", "active": true,
                "displayName": "Alice Ångström",
                "name": {"givenName": "Alice", "familyName": "Ångström"},
                "emails": [{"value": "alice@corp.example", "type": "work", "primary": true},
                           {"value": "alice@home.example", "type": "home"}],
                "aliases": [{"value": "aa@corp.example"}, {"value": "alice.old@corp.example"}]
            }),
        ),
        (
            2,
            "6f0b9b43-2e4d-4f3a-9b8c-1d2e3f4a5b6c",
            Some(INTEGRATION),
            "bob@corp.example",
            Some("00u2bob"),
            serde_json::json!({
                "userName": "bob@corp.example", "externalId": "00u2bob", "active": false,
                "name": {"givenName": "Bob", "familyName": "Stone"},
                "emails": [{"value": "bob@corp.example", "type": "work", "primary": true}]
            }),
        ),
        (
            3,
            "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            None,
            "carol@corp.example",
            None,
            serde_json::json!({"userName": "carol@corp.example", "displayName": "Carol (manual)"}),
        ),
    ];
    for (seq, id, source, name, ext, doc) in &users {
        c.execute(
            "INSERT INTO users (seq, id, source, user_name, user_name_folded, external_id, active,
                 version, created, last_modified, doc)
             VALUES (?1, ?2, ?3, ?4, scim_fold(?4), ?5, ?6, 3, ?7, ?7, ?8)",
            rusqlite::params![
                seq,
                id,
                source,
                name,
                ext,
                doc["active"].as_bool().unwrap_or(true),
                t,
                doc.to_string()
            ],
        )
        .unwrap();
        c.execute(
            "INSERT INTO login_names (name_folded, user_seq, is_alias) VALUES (scim_fold(?1), ?2, 0)",
            rusqlite::params![name, seq],
        )
        .unwrap();
        for a in doc["aliases"].as_array().into_iter().flatten() {
            c.execute(
                "INSERT INTO login_names (name_folded, user_seq, is_alias) VALUES (scim_fold(?1), ?2, 1)",
                rusqlite::params![a["value"].as_str().unwrap(), seq],
            )
            .unwrap();
        }
        for e in doc["emails"].as_array().into_iter().flatten() {
            c.execute(
                "INSERT INTO user_emails (user_seq, value_folded, type_folded) VALUES (?1, scim_fold(?2), scim_fold(?3))",
                rusqlite::params![seq, e["value"].as_str().unwrap(), e["type"].as_str()],
            )
            .unwrap();
        }
    }
    // The derived columns (display name, search text), as the migrations compute them.
    for sql in FIRST_MIGRATIONS {
        for stmt in sql.split(';').filter(|s| s.contains("UPDATE users")) {
            let stmt = &stmt[stmt.find("UPDATE users").unwrap()..];
            c.execute_batch(stmt).unwrap();
        }
    }
    c.execute(
        "INSERT INTO groups (seq, id, source, display_name, display_name_folded, external_id,
             version, created, last_modified, doc)
         VALUES (1, 'e9e30dba-f08f-4109-8486-d5c6a331660a', ?1, 'Engineering', scim_fold('Engineering'),
             '00g1eng', 2, ?2, ?2, '{\"displayName\":\"Engineering\",\"externalId\":\"00g1eng\"}')",
        rusqlite::params![INTEGRATION, t],
    )
    .unwrap();
    c.execute_batch("INSERT INTO group_members (group_seq, user_seq) VALUES (1, 1), (1, 2);")
        .unwrap();
    c.execute(
        "INSERT INTO authenticators (user_seq, secret, created, last_step, failures) VALUES (1, ?1, ?2, 0, 0)",
        rusqlite::params![ALICE_TOTP, t],
    )
    .unwrap();
    c.execute(
        "INSERT INTO outbox (kind, user_seq, recipient, status, attempts, next_attempt, last_error, created)
         VALUES ('enrollment', 2, 'bob@corp.example', 'pending', 2, ?1, '451 try later', ?1)",
        [t],
    )
    .unwrap();
    for (method, path, status, summary, user) in [
        (
            "POST",
            "/Users",
            201,
            "created alice@corp.example",
            Some(users[0].1),
        ),
        (
            "PATCH",
            "/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a",
            204,
            "added 2 members to Engineering",
            None,
        ),
    ] {
        c.execute(
            "INSERT INTO activity (at, integration_id, integration_name, method, path, status, latency_ms,
                 summary, user_id, body, body_bytes, body_note)
             VALUES (?1, ?2, 'Okta', ?3, ?4, ?5, 3, ?6, ?7, '{}', 2, NULL)",
            rusqlite::params![t, INTEGRATION, method, path, status, summary, user],
        )
        .unwrap();
    }
    c.execute_batch("VACUUM").unwrap();
    drop(c);
    assert!(std::fs::metadata(&path).unwrap().len() < 100 * 1024);
}

fn count(c: &rusqlite::Connection, table: &str) -> i64 {
    c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

#[actix_web::test]
async fn a_first_release_database_is_upgraded_with_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("appliance.db");
    std::fs::copy(fixture(), &db).unwrap();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, FIRST_RELEASE, "the fixture is the first released schema");
        let secret: String = c
            .query_row("SELECT secret FROM authenticators", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            secret, ALICE_TOTP,
            "the fixture holds the old plaintext format"
        );
    }

    // The fixture's activity dates from January 2026: keep it past the default 30 days'
    // retention, which would otherwise prune it at start.
    let mut cmd = scimgate(dir.path());
    cmd.env("SCIMGATE_ACTIVITY_RETENTION_DAYS", "3650");
    let (mut child, addr, _log) = serve_logged(cmd);
    let base = format!("http://{addr}/scim/v2/{INTEGRATION}");
    let client = awc::Client::default();
    let get = |path: String| {
        let req = client
            .get(format!("{base}{path}"))
            .insert_header(("Authorization", format!("Bearer {TOKEN}")));
        async move {
            let mut res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{path}");
            serde_json::from_slice::<Value>(&res.body().await.unwrap()).unwrap()
        }
    };
    // The integration sees its two users and, with include_manual, the manual one.
    let all = get("/Users".into()).await;
    assert_eq!(all["totalResults"], 3, "{all}");
    let alice = get("/Users?filter=userName%20eq%20%22ALICE@corp.example%22".into()).await;
    assert_eq!(alice["totalResults"], 1, "{alice}");
    let alice = &alice["Resources"][0];
    assert_eq!(alice["id"], "2819c223-7f76-453a-919d-413861904646");
    assert_eq!(alice["externalId"], "00u1alice");
    assert_eq!(alice["displayName"], "Alice Ångström");
    assert_eq!(alice["emails"][1]["value"], "alice@home.example");
    assert_eq!(alice["aliases"][0]["value"], "aa@corp.example");
    assert_eq!(alice["groups"][0]["display"], "Engineering", "{alice}");
    // Indexed filters work on the migrated derived rows.
    for filter in [
        "emails.value%20eq%20%22Alice@Home.example%22",
        "displayName%20eq%20%22alice%20%C3%A5ngstr%C3%B6m%22",
    ] {
        let found = get(format!("/Users?filter={filter}")).await;
        assert_eq!(found["totalResults"], 1, "{filter}: {found}");
    }
    let bob = get("/Users/6f0b9b43-2e4d-4f3a-9b8c-1d2e3f4a5b6c".into()).await;
    assert_eq!(bob["active"], false);
    assert_eq!(bob["name"]["familyName"], "Stone");
    let group = get("/Groups/e9e30dba-f08f-4109-8486-d5c6a331660a".into()).await;
    assert_eq!(group["displayName"], "Engineering");
    assert_eq!(group["members"].as_array().unwrap().len(), 2, "{group}");
    sigterm(&mut child);

    let c = rusqlite::Connection::open(&db).unwrap();
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, scimgate::store::migrations::LATEST);
    for (table, n) in [
        ("integrations", 1),
        ("users", 3),
        ("user_emails", 3),
        // Aliases only: migration 0014 leaves each userName to `users.user_name_folded`.
        ("login_names", 2),
        ("groups", 1),
        ("group_members", 2),
        ("authenticators", 1),
        ("outbox", 1),
        // The fixture's two; the GETs above add their own.
        ("activity WHERE at < '2026-02'", 2),
    ] {
        assert_eq!(count(&c, table), n, "{table}");
    }
    let (recipient, status, attempts): (String, String, i64) = c
        .query_row("SELECT recipient, status, attempts FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (recipient.as_str(), status.as_str(), attempts),
        ("bob@corp.example", "pending", 2)
    );
    let summary: String = c
        .query_row(
            "SELECT summary FROM activity ORDER BY seq LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(summary, "created alice@corp.example");
    let secret: String = c
        .query_row("SELECT secret FROM authenticators", [], |r| r.get(0))
        .unwrap();
    assert!(secret.starts_with("v1:"), "sealed at start: {secret}");
    drop(c);

    // The sealed secret verifies a code, by userName and by alias.
    let mut config = scimgate::config::Config::default();
    config.database.path = db.clone();
    let (d, w) = scimgate::app::open_directory(&config).unwrap();
    let totp = TotpSecret::from_base32(ALICE_TOTP).unwrap();
    let code = totp.code_at(unix_now()).unwrap();
    assert_eq!(
        d.verify_code("alice@corp.example", &code).await.unwrap(),
        Verdict::Allow
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_ne!(
        d.verify_code("aa@corp.example", wrong).await.unwrap(),
        Verdict::Allow
    );
    close(d, w).await;
}
