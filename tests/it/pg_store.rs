//! The PostgreSQL dialect of the store (issue 18, not selectable yet) against a real server:
//! the schema migrates once and again (a second run is a no-op), users are written with the
//! same folded columns as SQLite writes, and login names stay unique across userNames and
//! aliases.
#![allow(clippy::unwrap_used)]

use scimgate::scim::{resource, schema};
use scimgate::store::users::NewUser;
use scimgate::store::{StoreError, pg};
use serde_json::json;

use crate::support::postgres;

fn client(label: &str) -> Option<(postgres::TestDb, ::postgres::Client)> {
    let db = postgres::database(label)?;
    let client = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    Some((db, client))
}

fn doc(body: serde_json::Value) -> scimgate::scim::resource::Document {
    resource::normalize(schema::user(), &body).unwrap()
}

#[test]
fn schema_migrates_once_and_is_current_after() {
    let Some((_db, mut c)) = client("migrates") else {
        return;
    };
    pg::migrate(&mut c).unwrap();
    pg::migrate(&mut c).unwrap();
    let v: i64 = c
        .query_one("SELECT version FROM scimgate_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(v, pg::LATEST);
    // A schema newer than the binary is refused, not guessed at.
    c.execute("UPDATE scimgate_schema SET version = version + 1", &[])
        .unwrap();
    assert!(matches!(
        pg::migrate(&mut c),
        Err(StoreError::TooNew { .. })
    ));
}

#[test]
fn users_are_written_with_folded_columns_and_unique_login_names() {
    let Some((_db, mut c)) = client("users") else {
        return;
    };
    pg::migrate(&mut c).unwrap();
    let d = doc(json!({
        "userName": "STRASSE@Example.com",
        "displayName": "École",
        "emails": [{"value": "B@X.io", "type": "Work"}],
        "aliases": [{"value": "Babs"}],
    }));
    let mut tx = c.transaction().unwrap();
    let row = pg::users::insert(
        &mut tx,
        NewUser {
            id: "u1",
            source: None,
            now: "2026-01-01T00:00:00.000Z",
            doc: &d,
        },
    )
    .unwrap();
    tx.commit().unwrap();
    let r = c
        .query_one(
            "SELECT user_name_folded, display_name_folded, doc->>'userName', active FROM users WHERE seq = $1",
            &[&row.seq],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "strasse@example.com");
    assert_eq!(r.get::<_, String>(1), scimgate::store::fold::fold("École"));
    assert_eq!(r.get::<_, String>(2), "STRASSE@Example.com");
    assert!(r.get::<_, bool>(3));
    let e = c
        .query_one("SELECT value_folded, type_folded FROM user_emails", &[])
        .unwrap();
    assert_eq!(e.get::<_, String>(0), "b@x.io");
    assert_eq!(e.get::<_, Option<String>>(1).as_deref(), Some("work"));

    // Another user may not take the userName (folded: straße folds to strasse) nor the alias,
    // in either role.
    for (body, attribute) in [
        (json!({"userName": "straße@example.COM"}), "userName"),
        (json!({"userName": "BABS"}), "userName"),
        (
            json!({"userName": "other", "aliases": [{"value": "strasse@example.com"}]}),
            "aliases",
        ),
    ] {
        let d2 = doc(body.clone());
        let mut tx = c.transaction().unwrap();
        let got = pg::users::insert(
            &mut tx,
            NewUser {
                id: "u2",
                source: None,
                now: "2026-01-01T00:00:00.000Z",
                doc: &d2,
            },
        );
        match got {
            Err(StoreError::Conflict { attribute: a, .. }) => assert_eq!(a, attribute, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
    // An update that changes the aliases rewrites the derived rows.
    let mut d3 = d.clone();
    d3.insert("aliases".into(), json!([{"value": "Barbara"}]));
    let mut tx = c.transaction().unwrap();
    let row2 = pg::users::update(&mut tx, &row, None, d3, "2026-01-02T00:00:00.000Z").unwrap();
    tx.commit().unwrap();
    assert_eq!(row2.version, 2);
    let names: Vec<String> = c
        .query("SELECT name_folded FROM login_names", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["barbara".to_owned()]);
}

/// PostgreSQL's `scim_fold` (for comparisons on attributes without a folded column) folds as
/// `store::fold` does: every code point whose fold differs, one by one and all together, and
/// the hard cases (ß, final sigma, ligatures, title case, Kelvin sign, astral characters).
#[test]
fn sql_fold_is_the_rust_fold() {
    let Some((_db, mut c)) = client("fold") else {
        return;
    };
    pg::migrate(&mut c).unwrap();
    let mut samples: Vec<String> = [
        "",
        " ",
        "Test.User@Okta.Local",
        "STRASSE",
        "Straße",
        "ΣΊΣΥΦΟΣ ς σ",
        "ﬁne FINE",
        "İstanbul",
        "ǅemo Ǆ ǆ",
        "\u{212A}ELVIN",
        "日本語 😀 smile",
        "x\"q back\\slash o'malley",
        "𐐀𐐨 \u{1E921}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let changing: String = (0..=0x10_FFFF)
        .filter_map(char::from_u32)
        .filter(|ch| scimgate::store::fold::fold(&ch.to_string()) != ch.to_string())
        .collect();
    assert!(changing.chars().count() > 1000);
    samples.push(changing.clone());
    samples.extend(changing.chars().map(|ch| format!("a{ch}Z")));
    let got: Vec<String> = c
        .query_one(
            "SELECT array_agg(scim_fold(s) ORDER BY i) FROM unnest($1::text[]) WITH ORDINALITY AS t(s, i)",
            &[&samples],
        )
        .unwrap()
        .get(0);
    for (s, g) in samples.iter().zip(&got) {
        assert_eq!(*g, scimgate::store::fold::fold(s), "{s:?}");
    }
    let null: Option<String> = c.query_one("SELECT scim_fold(NULL)", &[]).unwrap().get(0);
    assert_eq!(null, None);
}
