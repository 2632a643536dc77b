//! `store::pg::copy` (issue 18 item 6): a SQLite directory populated through the appliance's
//! own paths (SCIM requests, enrollment by email, the admin pages, the directory's operator
//! functions) is copied into a fresh PostgreSQL database, and every table's rows are compared
//! value by value; the folded columns are what `pg::users::insert` writes; a second copy into
//! the now populated database, and a copy into a database of something else, are refused; and
//! the PostgreSQL repositories write next to the copied rows without id collisions.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use scimgate::directory::SettingsChange;
use scimgate::directory::manage::ManualUser;
use scimgate::directory::rotation::Target;
use scimgate::store::users::{NewUser, UserRow};
use scimgate::store::{StoreError, pg};
use serde_json::{Value, json};

use crate::enroll::{app_with_mail, enroll_by_email, post_user};
use crate::mail::user;
use crate::support::admin::Browser;
use crate::support::postgres;
use crate::support::smtp::SmtpSink;
use crate::support::*;

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn connect(db: &postgres::TestDb) -> ::postgres::Client {
    ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap()
}

/// A stopped appliance whose SQLite file holds a row in (nearly) every table, made the way
/// the appliance makes them. Returns the app (it owns the temporary directory).
async fn populated() -> TestApp {
    let sink = SmtpSink::start().await;
    let mut app = app_with_mail(&sink).await;

    // Users over SCIM: aliases, emails, a name that folds beyond ASCII; Alice enrolls by the
    // emailed link (outbox, enrollment link, authenticator); Bob's link stays unused.
    let mut alice = user("Alice.Smith@Example.test", Some("Alice@Mail.test"));
    alice["aliases"] = json!([{"value": "Ally"}, {"value": "ÅSA"}]);
    alice["displayName"] = json!("Alice Straße");
    let alice = post_user(&app, &alice).await;
    enroll_by_email(&app, &sink, "Alice@Mail.test").await;
    let bob = post_user(&app, &user("bob@example.test", Some("bob@mail.test"))).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sink.count_to("bob@mail.test") == 0 {
        assert!(std::time::Instant::now() < deadline, "no email to bob");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    post_user(&app, &user("carol@example.test", None)).await;

    // Groups with members, and one without.
    for (name, members) in [
        ("Engineering", json!([{"value": alice}, {"value": bob}])),
        ("Empty", json!([])),
    ] {
        let r = app
            .post(
                "/Groups",
                &json!({"schemas": [GROUP_URN], "displayName": name, "members": members}),
            )
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }

    // A manual user, then claimed by the integration (Include Manually Provisioned Users).
    let manual = app
        .directory
        .create_manual_user(&ManualUser {
            user_name: "manual@example.test".into(),
            given_name: "Man".into(),
            family_name: "Ual".into(),
            email: "manual@mail.test".into(),
            aliases: vec!["mally".into()],
        })
        .await
        .unwrap()
        .meta
        .id;
    app.directory
        .update_settings(
            &app.integration_id,
            SettingsChange {
                include_manual: Some(true),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    let read = app.get(&format!("/Users/{manual}")).await;
    let mut changed = read.body.clone();
    changed["title"] = json!("Claimed");
    let r = app.put(&format!("/Users/{manual}"), &changed).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    // A manual group with the manual user, claimed by a membership change over SCIM.
    let ops = app
        .directory
        .create_manual_group("Operations")
        .await
        .unwrap();
    app.directory
        .add_manual_group_member(&ops, "mally")
        .await
        .unwrap();
    let r = app
        .patch(
            &format!("/Groups/{ops}"),
            &json!({"schemas": [PATCH_URN],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": alice}]}]}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);

    // A request refused before authentication: an activity row counting refusals.
    let refused = app
        .client
        .get(format!("{}/Users", app.base_url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    // An administrator with a session and a second factor (recovery codes), a verifier key, a regenerated token (the previous one
    // kept for an hour).
    let mut admin = Browser::admin(&app).await;
    crate::admin_mfa::register(&mut admin).await;
    app.directory.create_verifier_key("mfa").await.unwrap();
    app.directory
        .regenerate_token(Target::Id(&app.integration_id), Duration::from_secs(3600))
        .await
        .unwrap();

    // Stopping flushes the activity log and ends the writer: the file is complete.
    app.stop().await;
    app
}

/// The columns of a PostgreSQL table with their types, in order, without those only
/// PostgreSQL has (`pg::copy::PG_ONLY_COLUMNS`, which a copy leaves at their default).
fn pg_columns(c: &mut ::postgres::Client, table: &str) -> Vec<(String, String)> {
    c.query(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        &[&table],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .filter(|(column, _): &(String, String)| {
        !pg::copy::PG_ONLY_COLUMNS
            .iter()
            .any(|(t, c, _)| *t == table && c == column)
    })
    .collect()
}

fn hex(b: &[u8]) -> Value {
    Value::String(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Every row of a SQLite table as JSON values, read as the PostgreSQL column types mean them
/// (0/1 as booleans, JSON text as documents, blobs as hex), sorted.
fn sqlite_rows(s: &rusqlite::Connection, table: &str, cols: &[(String, String)]) -> Vec<Value> {
    let list: Vec<&str> = cols.iter().map(|(c, _)| c.as_str()).collect();
    let mut stmt = s
        .prepare(&format!("SELECT {} FROM {table}", list.join(", ")))
        .unwrap();
    let mut out: Vec<Value> = stmt
        .query_map([], |r| {
            let mut row = Vec::new();
            for (i, (_, ty)) in cols.iter().enumerate() {
                use rusqlite::types::ValueRef as V;
                row.push(match (r.get_ref(i)?, ty.as_str()) {
                    (V::Null, _) => Value::Null,
                    (V::Integer(n), "boolean") => Value::Bool(n != 0),
                    (V::Integer(n), _) => json!(n),
                    (V::Text(t), "jsonb") => serde_json::from_slice(t).unwrap(),
                    (V::Text(t), _) => json!(std::str::from_utf8(t).unwrap()),
                    (V::Blob(b), _) => hex(b),
                    (V::Real(x), _) => json!(x),
                });
            }
            Ok(Value::Array(row))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    out.sort_by_key(Value::to_string);
    out
}

fn pg_rows(c: &mut ::postgres::Client, table: &str, cols: &[(String, String)]) -> Vec<Value> {
    let list: Vec<&str> = cols.iter().map(|(c, _)| c.as_str()).collect();
    let mut out: Vec<Value> = c
        .query(&format!("SELECT {} FROM {table}", list.join(", ")), &[])
        .unwrap()
        .iter()
        .map(|r| {
            let row = cols
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| match ty.as_str() {
                    "text" => json!(r.get::<_, Option<String>>(i)),
                    "bigint" => json!(r.get::<_, Option<i64>>(i)),
                    "boolean" => json!(r.get::<_, Option<bool>>(i)),
                    "bytea" => r
                        .get::<_, Option<Vec<u8>>>(i)
                        .map_or(Value::Null, |b| hex(&b)),
                    "jsonb" => r.get::<_, Option<Value>>(i).unwrap_or(Value::Null),
                    other => panic!("{table}: a column of type {other}"),
                })
                .collect();
            Value::Array(row)
        })
        .collect();
    out.sort_by_key(Value::to_string);
    out
}

fn sqlite(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// (userName folded, displayName folded, search text, emails, login names) of a user.
type Derived = (
    String,
    Option<String>,
    String,
    BTreeSet<(String, Option<String>)>,
    BTreeSet<String>,
);

fn derived(c: &mut ::postgres::Client, id: &str) -> Derived {
    let r = c
        .query_one(
            "SELECT seq, user_name_folded, display_name_folded, search_text FROM users WHERE id = $1",
            &[&id],
        )
        .unwrap();
    let seq: i64 = r.get(0);
    let emails = c
        .query(
            "SELECT value_folded, type_folded FROM user_emails WHERE user_seq = $1",
            &[&seq],
        )
        .unwrap()
        .iter()
        .map(|e| (e.get(0), e.get(1)))
        .collect();
    let names = c
        .query(
            "SELECT name_folded FROM login_names WHERE user_seq = $1",
            &[&seq],
        )
        .unwrap()
        .iter()
        .map(|e| e.get(0))
        .collect();
    (r.get(1), r.get(2), r.get(3), emails, names)
}

#[actix_web::test]
async fn copies_a_populated_directory_and_refuses_a_second_copy() {
    let Some(db) = postgres::database("copy") else {
        return;
    };
    let app = populated().await;
    let path = app.db_path();
    // The sync PostgreSQL client runs its own runtime: off the test's.
    tokio::task::spawn_blocking(move || check_copy(&db, &path))
        .await
        .unwrap();
    drop(app);
}

fn check_copy(db: &postgres::TestDb, path: &Path) {
    let s = sqlite(path);
    let mut c = connect(db);
    let report = pg::copy::copy(path, &mut c).unwrap();

    // Every table: the reported count is SQLite's, and every row is equal, value by value.
    let mut counts = BTreeMap::new();
    for table in pg::copy::copied_tables() {
        let n: i64 = s
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(report.rows(table), Some(n as u64), "{table}");
        let cols = pg_columns(&mut c, table);
        assert!(!cols.is_empty(), "{table}");
        assert_eq!(
            sqlite_rows(&s, table, &cols),
            pg_rows(&mut c, table, &cols),
            "{table}"
        );
        counts.insert(table, n);
    }
    assert_eq!(report.tables.len(), counts.len());
    // What only PostgreSQL has is left at its default: no copied message is claimed.
    for (table, column, _) in pg::copy::PG_ONLY_COLUMNS {
        let set: i64 = c
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE {column} IS NOT NULL"),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(set, 0, "{table}.{column}");
    }
    // The population reached the tables this test is about.
    for table in [
        "integrations",
        "users",
        "user_emails",
        "login_names",
        "groups",
        "group_members",
        "user_claims",
        "group_claims",
        "admins",
        "admin_recovery_codes",
        "sessions",
        "activity",
        "outbox",
        "enrollment_links",
        "authenticators",
        "verifier_keys",
        "secrets_meta",
    ] {
        assert!(counts[table] > 0, "{table} is empty: {counts:?}");
    }
    let refused: i64 = c
        .query_one(
            "SELECT count(*) FROM activity WHERE refused IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(refused > 0);
    let rotated: bool = c
        .query_one(
            "SELECT previous_token_digest IS NOT NULL FROM integrations",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(rotated);

    // Memberships by ids, as the SCIM API shows them.
    let by_ids = "SELECT g.id, u.id FROM group_members m JOIN groups g ON g.seq = m.group_seq
                  JOIN users u ON u.seq = m.user_seq";
    let mut sqlite_members: Vec<(String, String)> = s
        .prepare(by_ids)
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut pg_members: Vec<(String, String)> = c
        .query(by_ids, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    sqlite_members.sort();
    pg_members.sort();
    assert_eq!(sqlite_members.len(), 4);
    assert_eq!(sqlite_members, pg_members);

    // The derived rows of every copied user are what `pg::users::insert` writes for its
    // document (into a database of its own: the names are taken here).
    let other = postgres::database("copy_derive").unwrap();
    let mut fresh = connect(&other);
    pg::migrate(&mut fresh).unwrap();
    let users: Vec<(String, Value)> = c
        .query("SELECT id, doc FROM users ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(users.len(), 4);
    for (id, doc) in &users {
        let doc = doc.as_object().unwrap().clone();
        let mut tx = fresh.transaction().unwrap();
        pg::users::insert(
            &mut tx,
            NewUser {
                id,
                source: None,
                now: "2026-01-01T00:00:00.000Z",
                doc: &doc,
            },
        )
        .unwrap();
        tx.commit().unwrap();
        assert_eq!(derived(&mut c, id), derived(&mut fresh, id), "{id}");
    }

    // A second copy into the populated database is refused, naming what it holds, and
    // changes nothing.
    let err = pg::copy::copy(path, &mut c).unwrap_err();
    match &err {
        StoreError::Copy(m) => {
            assert!(m.contains("not empty"), "{m}");
            assert!(
                m.contains(&format!("users ({} rows)", counts["users"])),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
    let n: i64 = c
        .query_one("SELECT count(*) FROM users", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, counts["users"]);

    // The repositories work next to the copied rows: the identities continue past the copied
    // ids (setval), the copied login names are taken, a copied user updates.
    let max_seq: i64 = c
        .query_one("SELECT max(seq) FROM users", &[])
        .unwrap()
        .get(0);
    let d = resource_doc(json!({"userName": "dave@example.test"}));
    let mut tx = c.transaction().unwrap();
    let dave = pg::users::insert(
        &mut tx,
        NewUser {
            id: "0000000000000000000000000000d0d0",
            source: None,
            now: "2026-01-01T00:00:00.000Z",
            doc: &d,
        },
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(dave.seq, max_seq + 1);
    let taken = resource_doc(json!({"userName": "ALLY"}));
    let mut tx = c.transaction().unwrap();
    let got = pg::users::insert(
        &mut tx,
        NewUser {
            id: "0000000000000000000000000000d0d1",
            source: None,
            now: "2026-01-01T00:00:00.000Z",
            doc: &taken,
        },
    );
    assert!(matches!(got, Err(StoreError::Conflict { .. })), "{got:?}");
    drop(tx);
    let r = c
        .query_one(
            "SELECT seq, id, source, version, created, last_modified, doc FROM users
             WHERE user_name_folded = 'alice.smith@example.test'",
            &[],
        )
        .unwrap();
    let alice = UserRow {
        seq: r.get(0),
        id: r.get(1),
        source: r.get(2),
        version: r.get(3),
        created: r.get(4),
        last_modified: r.get(5),
        doc: r.get::<_, Value>(6).as_object().unwrap().clone(),
    };
    let mut doc = alice.doc.clone();
    doc.insert("aliases".into(), json!([{"value": "Alicia"}]));
    let mut tx = c.transaction().unwrap();
    let updated = pg::users::update(
        &mut tx,
        &alice,
        alice.source.as_deref(),
        doc,
        "2026-01-02T00:00:00.000Z",
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(updated.version, alice.version + 1);
    for (table, column, insert) in [
        (
            "activity",
            "seq",
            "INSERT INTO activity (at, method, path, status, latency_ms, summary)
             VALUES ('2026-01-01T00:00:00.000Z', 'GET', '/', 200, 1, 'x') RETURNING seq",
        ),
        (
            "outbox",
            "id",
            "INSERT INTO outbox (kind, recipient, next_attempt, created)
             VALUES ('enrollment', 'x@example.test', '2026-01-01T00:00:00.000Z',
                     '2026-01-01T00:00:00.000Z') RETURNING id",
        ),
        (
            "groups",
            "seq",
            "INSERT INTO groups (id, display_name, display_name_folded, version, created,
                                 last_modified, doc)
             VALUES ('g-new', 'New', 'new', 1, 'x', 'x', '{}') RETURNING seq",
        ),
        (
            "admins",
            "id",
            "INSERT INTO admins (username, username_folded, password_hash, created)
             VALUES ('second', 'second', 'x', 'x') RETURNING id",
        ),
    ] {
        let copied_max: i64 = s
            .query_row(&format!("SELECT max({column}) FROM {table}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        let new: i64 = c.query_one(insert, &[]).unwrap().get(0);
        assert_eq!(new, copied_max + 1, "{table}");
    }
}

fn resource_doc(body: Value) -> scimgate::scim::resource::Document {
    scimgate::scim::resource::normalize(scimgate::scim::schema::user(), &body).unwrap()
}

/// A database that holds tables of something else is refused before anything is written; so
/// is a SQLite file that does not exist.
#[test]
fn refuses_a_database_of_something_else() {
    let Some(db) = postgres::database("copy_foreign") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimgate.db");
    let mut c = connect(&db);
    match pg::copy::copy(&path, &mut c) {
        Err(StoreError::Copy(m)) => assert!(m.contains("no SQLite database"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A fresh, migrated SQLite file (as `scimgate` creates it).
    {
        let mut s = rusqlite::Connection::open(&path).unwrap();
        scimgate::store::migrations::migrate(&mut s).unwrap();
    }
    c.batch_execute("CREATE TABLE invoices (k INT)").unwrap();
    match pg::copy::copy(&path, &mut c) {
        Err(StoreError::Copy(m)) => {
            assert!(m.contains("not empty") && m.contains("invoices"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let migrated: bool = c
        .query_one("SELECT to_regclass('scimgate_schema') IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert!(!migrated, "the refused copy left a schema behind");

    // A SQLite file at another schema version than this binary's.
    let s = rusqlite::Connection::open(&path).unwrap();
    s.pragma_update(None, "user_version", 1).unwrap();
    match pg::copy::copy(&path, &mut c) {
        Err(StoreError::Copy(m)) => assert!(m.contains("schema version 1"), "{m}"),
        other => panic!("{other:?}"),
    }
    let newer = scimgate::store::migrations::LATEST + 1;
    s.pragma_update(None, "user_version", newer).unwrap();
    assert!(matches!(
        pg::copy::copy(&path, &mut c),
        Err(StoreError::TooNew { .. })
    ));
    s.pragma_update(None, "user_version", scimgate::store::migrations::LATEST)
        .unwrap();
    drop(s);

    // An empty directory copies into an empty database: every count zero.
    let empty = postgres::database("copy_empty").unwrap();
    let mut e = connect(&empty);
    let report = pg::copy::copy(&path, &mut e).unwrap();
    assert!(report.tables.iter().all(|(_, n)| *n == 0), "{report:?}");
    assert_eq!(
        report.tables.len(),
        pg::copy::copied_tables().count(),
        "{report:?}"
    );
}

/// A copy while the appliance serves reads one snapshot of the live file (WAL mode): what was
/// acknowledged before it is there, and the appliance goes on working. (Writes after the
/// snapshot are not copied: the operator stops the appliance before moving it.)
#[actix_web::test]
async fn copies_while_the_appliance_serves() {
    let Some(db) = postgres::database("copy_live") else {
        return;
    };
    let app = TestApp::spawn().await;
    app.create_user("live@example.test").await;
    let path = app.db_path();
    let report = tokio::task::spawn_blocking(move || {
        let mut c = connect(&db);
        pg::copy::copy(&path, &mut c).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(report.rows("users"), Some(1));
    assert_eq!(report.rows("integrations"), Some(1));
    // No administrator yet: the first-admin setup link's digest is there.
    assert_eq!(report.rows("setup_links"), Some(1));
    app.create_user("after@example.test").await;
}
