//! Table tests of the compiler, the query plans of the identity providers' filters, and the
//! differential test: random filters over random users must select the same users through
//! SQL as through the reference evaluator (`scim::filter::matches`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use rusqlite::Connection;
use serde_json::{Value, json};

use super::*;
use crate::scim::filter::{matches, parse_filter};
use crate::scim::resource::{self, Meta, to_resource};
use crate::store::users::{self, NewUser, UserRow};
use crate::store::{Tx, fold, migrations};

const BASE: &str = "https://h/scim/v2/x";
const LOCATION: &str = "https://h/scim/v2/x/Users/";

fn c(f: &str) -> Condition {
    compile_filter(users_map(), LOCATION, &parse_filter(f).unwrap()).unwrap()
}

fn db() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    fold::register(&conn).unwrap();
    register(&conn).unwrap();
    migrations::migrate(&mut conn).unwrap();
    conn
}

/// The ids of the users `cond` selects.
fn select(conn: &Connection, cond: &Condition) -> BTreeSet<String> {
    let sql = format!("SELECT u.id FROM users u WHERE {}", cond.sql);
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    for i in 1..=stmt.parameter_count() {
        stmt.raw_bind_parameter(i, &cond.params[i - 1]).unwrap();
    }
    let mut rows = stmt.raw_query();
    let mut out = BTreeSet::new();
    while let Some(r) = rows.next().unwrap_or_else(|e| panic!("{e}\n{sql}")) {
        out.insert(r.get::<_, String>(0).unwrap());
    }
    out
}

fn resource_of(row: &UserRow) -> Value {
    let meta = Meta {
        id: row.id.clone(),
        created: row.created.clone(),
        last_modified: row.last_modified.clone(),
        version: row.version,
    };
    to_resource(schema::user(), &meta, &row.doc, BASE)
}

fn insert(conn: &Connection, body: Value, now: &str) -> UserRow {
    let doc = resource::normalize(schema::user(), &body).unwrap();
    users::insert(
        &mut Tx::sqlite(conn),
        NewUser {
            id: &uuid::Uuid::new_v4().to_string(),
            source: None,
            now,
            doc: &doc,
        },
    )
    .unwrap()
}

#[test]
fn idp_filters_compile_to_indexed_columns() {
    let k = c(r#"userName eq "Test.User@Okta.local""#);
    assert_eq!(k.sql, "u.user_name_folded = ?1");
    assert_eq!(
        k.params,
        vec![SqlValue::Text("test.user@okta.local".into())]
    );
    assert_eq!(c(r#"externalId eq "X""#).sql, "u.external_id = ?1");
    assert_eq!(c(r#"id eq "X""#).sql, "u.id = ?1");
    assert_eq!(
        c(r#"displayName eq "Ünïcødé""#).sql,
        "u.display_name_folded = ?1"
    );
    let k = c(r#"emails[type eq "work"].value eq "A@X""#);
    assert_eq!(
        k.sql,
        "u.seq IN (SELECT e.user_seq FROM user_emails e WHERE e.type_folded = ?1 AND e.value_folded = ?2)"
    );
    assert_eq!(
        c(r#"emails.value eq "a@x""#).sql,
        "u.seq IN (SELECT e.user_seq FROM user_emails e WHERE e.value_folded = ?1)"
    );
    // SailPoint's and admins' prefix search uses the index as a range.
    let k = c(r#"userName sw "Jo""#);
    assert_eq!(
        k.sql,
        "(u.user_name_folded >= ?1 AND u.user_name_folded < ?2)"
    );
    assert_eq!(
        k.params,
        vec![SqlValue::Text("jo".into()), SqlValue::Text("jp".into())]
    );
    assert_eq!(
        c(r#"userName co "x""#).sql,
        "instr(u.user_name_folded, ?1) > 0"
    );
    // ne is not-eq, NULL-safe.
    assert_eq!(
        c(r#"externalId ne "x""#).sql,
        "NOT IFNULL(u.external_id = ?1, 0)"
    );
    // Values are parameters, never SQL text.
    let k = c(r#"title eq "x'); DROP TABLE users; --""#);
    assert!(!k.sql.contains("DROP"), "{}", k.sql);
}

#[test]
fn prefix_bounds() {
    assert_eq!(prefix_upper_bound("ab").as_deref(), Some("ac"));
    assert_eq!(
        prefix_upper_bound("a\u{D7FF}").as_deref(),
        Some("a\u{E000}")
    );
    assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
    assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
}

#[test]
fn instant_keys_order_as_time() {
    let k = |s| instant_key(s).unwrap();
    assert_eq!(k("2011-05-13T04:42:34Z"), k("2011-05-13T06:42:34+02:00"));
    assert_eq!(k("2011-05-13T04:42:34Z"), k("2011-05-13T04:42:34.000Z"));
    assert!(k("2011-05-13T04:42:34.0001Z") > k("2011-05-13T04:42:34Z"));
    assert!(k("0000-01-01T00:00:00+01:00") < k("0000-01-01T00:00:00Z"));
    assert!(k("9999-12-31T23:59:59-01:00") > k("9999-12-31T23:59:59Z"));
    assert_eq!(instant_key("2011"), None);
}

#[test]
fn rfc_examples_select_the_right_users() {
    let conn = db();
    let b = insert(
        &conn,
        json!({
            "userName": "bjensen", "userType": "Employee", "title": "Tour Guide",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true},
                       {"value": "babs@jensen.org", "type": "home"}],
            "ims": [{"value": "b@foo.com", "type": "xmpp"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "manager": {"value": "m1"}}
        }),
        "2011-05-13T04:42:34.000Z",
    );
    let j = insert(
        &conn,
        json!({"userName": "jsmith", "userType": "Contractor",
               "name": {"familyName": "O'Malley", "givenName": "J"},
               "emails": [{"value": "js@example.org", "type": "home"}]}),
        "2012-01-01T00:00:00.000Z",
    );
    let (b, j) = (b.id, j.id);
    let cases: &[(&str, &[&String])] = &[
        (r#"userName Eq "john""#, &[]),
        (r#"userName eq "BJENSEN""#, &[&b]),
        (r#"name.familyName co "O'Malley""#, &[&j]),
        (r#"userName sw "J""#, &[&j]),
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            &[&j],
        ),
        (r#"title pr"#, &[&b]),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, &[&j]),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, &[&b, &j]),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, &[]),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, &[&b]),
        (r#"title pr and userType eq "Employee""#, &[&b]),
        (r#"title pr or userType eq "Intern""#, &[&b]),
        (
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            &[&b],
        ),
        (
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            &[&b],
        ),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            &[],
        ),
        (
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            &[&b],
        ),
        (
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            &[&b],
        ),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            &[&b],
        ),
        (r#"employeeNumber eq "701984""#, &[&b]),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
            &[&b],
        ),
        (r#"meta.resourceType eq "User""#, &[&b, &j]),
        (r#"meta.version eq "W/\"1\"""#, &[&b, &j]),
    ];
    for (filter, want) in cases {
        let got = select(&conn, &c(filter));
        let want: BTreeSet<String> = want.iter().map(|s| (*s).clone()).collect();
        assert_eq!(got, want, "{filter}");
    }
}

fn plan(conn: &Connection, filter: &str) -> String {
    let mut k = c(filter);
    let scope = users::scope_condition(&users::Scope::Source("i".into()), true, &mut k).unwrap();
    let sql = format!(
        "EXPLAIN QUERY PLAN SELECT u.id FROM users u WHERE {} AND {scope}",
        k.sql
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    for i in 1..=stmt.parameter_count() {
        stmt.raw_bind_parameter(i, &k.params[i - 1]).unwrap();
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        out.push(r.get::<_, String>(3).unwrap());
    }
    out.join("\n")
}

/// Item 7: the filters identity providers send use indexes, in the query `list` runs (with
/// an integration's scope).
#[test]
fn idp_filters_use_indexes() {
    let conn = db();
    for (filter, index) in [
        (r#"userName eq "a""#, "sqlite_autoindex_users_2"),
        (r#"externalId eq "a""#, "users_external_id"),
        (r#"id eq "a""#, "sqlite_autoindex_users_1"),
        (r#"displayName eq "a""#, "users_display_name"),
        (
            r#"emails[type eq "work"].value eq "a""#,
            "user_emails_value",
        ),
        (r#"emails.value eq "a""#, "user_emails_value"),
        (r#"userName sw "a""#, "sqlite_autoindex_users_2"),
    ] {
        let p = plan(&conn, filter);
        assert!(p.contains(index), "{filter}:\n{p}");
        assert!(!p.contains("SCAN u"), "{filter}:\n{p}");
    }
}

// ---- the differential test ----

const WORDS: &[&str] = &[
    "Barbara",
    "barbara",
    "BARBARA",
    "Straße",
    "STRASSE",
    "strasse",
    "École",
    "école",
    "ECOLE",
    "ecole",
    "İstanbul",
    "istanbul",
    "ﬁne",
    "FINE",
    "Σίσυφος",
    "ΣΊΣΥΦΟΣ",
    "ς",
    "σ",
    "日本語",
    "😀 smile",
    "a",
    "A",
    "ab",
    "AB",
    "b",
    "",
    " ",
    "Jensen",
    "o'malley",
    "x\"q",
    "back\\slash",
    "work",
    "Work",
    "WORK",
    "home",
    "other",
    "Employee",
    "employee",
    "Contractor",
    "701984",
    "Ünïcødé",
    "ǅemo",
    "ǆ",
    "Ǆ",
    "zz",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "Example.COM",
    "jensen.org",
    "straße.de",
    "x.io",
];
const TIMES: &[&str] = &[
    "2010-01-23T04:56:22.000Z",
    "2011-05-13T04:42:34.000Z",
    "2011-05-13T04:42:34.500Z",
    "2024-02-29T23:59:59.999Z",
    "2026-11-29T01:00:00.000Z",
];
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn word(r: &mut StdRng) -> String {
    (*WORDS.choose(r).unwrap()).to_owned()
}

fn maybe(r: &mut StdRng, p: f64) -> bool {
    r.random_bool(p)
}

fn random_user(r: &mut StdRng, i: usize) -> Value {
    let mut u = serde_json::Map::new();
    let name = format!("{}{i}", word(r));
    let name = if name.trim().is_empty() {
        format!("u{i}")
    } else {
        name
    };
    u.insert("userName".into(), json!(name));
    for attr in ["displayName", "nickName", "title", "userType", "locale"] {
        if maybe(r, 0.5) {
            u.insert(attr.into(), json!(word(r)));
        }
    }
    if maybe(r, 0.6) {
        u.insert("externalId".into(), json!(format!("{}{}", word(r), i % 7)));
    }
    match r.random_range(0..3) {
        0 => {}
        1 => {
            u.insert("active".into(), json!(true));
        }
        _ => {
            u.insert("active".into(), json!(false));
        }
    }
    if maybe(r, 0.3) {
        u.insert(
            "profileUrl".into(),
            json!(format!(
                "https://{}/{}",
                DOMAINS.choose(r).unwrap(),
                word(r)
            )),
        );
    }
    if maybe(r, 0.7) {
        let mut n = serde_json::Map::new();
        for sub in ["givenName", "familyName", "formatted", "middleName"] {
            if maybe(r, 0.5) {
                n.insert(sub.into(), json!(word(r)));
            }
        }
        u.insert("name".into(), Value::Object(n));
    }
    let mut emails = Vec::new();
    let mut primary_used = false;
    for _ in 0..r.random_range(0..4) {
        let mut e = serde_json::Map::new();
        if maybe(r, 0.9) {
            e.insert(
                "value".into(),
                json!(format!("{}@{}", word(r), DOMAINS.choose(r).unwrap())),
            );
        }
        if maybe(r, 0.7) {
            e.insert(
                "type".into(),
                json!(["work", "home", "WORK", "other", "Work"].choose(r).unwrap()),
            );
        }
        if maybe(r, 0.4) {
            let p = !primary_used && maybe(r, 0.5);
            primary_used |= p;
            e.insert("primary".into(), json!(p));
        }
        if maybe(r, 0.2) {
            e.insert("display".into(), json!(word(r)));
        }
        emails.push(Value::Object(e));
    }
    if !emails.is_empty() {
        u.insert("emails".into(), Value::Array(emails));
    }
    if maybe(r, 0.3) {
        u.insert(
            "phoneNumbers".into(),
            json!([{"value": format!("+1 555 {i}"), "type": "mobile"}]),
        );
    }
    if maybe(r, 0.3) {
        u.insert(
            "addresses".into(),
            json!([{"locality": word(r), "country": "DE", "type": "work"}, {"type": "home"}]),
        );
    }
    if maybe(r, 0.2) {
        let v = *["TUlJRG", "tulJrg", "QUJD"].choose(r).unwrap();
        u.insert("x509Certificates".into(), json!([{ "value": v }]));
    }
    if maybe(r, 0.2) {
        u.insert(
            "roles".into(),
            json!([{"value": word(r), "primary": true}, {"value": word(r)}]),
        );
    }
    if maybe(r, 0.2) {
        u.insert(
            "aliases".into(),
            json!([{"value": format!("alias{i}@{}", DOMAINS.choose(r).unwrap()), "type": "email"}]),
        );
    }
    if maybe(r, 0.5) {
        let mut ext = serde_json::Map::new();
        for attr in ["employeeNumber", "department", "costCenter"] {
            if maybe(r, 0.5) {
                ext.insert(attr.into(), json!(word(r)));
            }
        }
        if maybe(r, 0.4) {
            ext.insert("manager".into(), json!({"value": word(r)}));
        }
        u.insert(ENTERPRISE.into(), Value::Object(ext));
    }
    Value::Object(u)
}

/// A path as a client might write it: random case, sometimes URN-qualified.
fn random_path(r: &mut StdRng) -> String {
    const CORE: &[&str] = &[
        "userName",
        "displayName",
        "nickName",
        "title",
        "userType",
        "locale",
        "active",
        "externalId",
        "id",
        "profileUrl",
        "password",
        "schemas",
        "name",
        "name.givenName",
        "name.familyName",
        "name.formatted",
        "name.middleName",
        "name.noSuchSub",
        "meta",
        "meta.created",
        "meta.lastModified",
        "meta.version",
        "meta.resourceType",
        "meta.location",
        "emails",
        "emails.value",
        "emails.type",
        "emails.primary",
        "emails.display",
        "phoneNumbers.value",
        "phoneNumbers",
        "addresses",
        "addresses.locality",
        "addresses.type",
        "x509Certificates",
        "x509Certificates.value",
        "roles",
        "roles.value",
        "roles.primary",
        "aliases.value",
        "aliases",
        "groups",
        "groups.value",
        "noSuchThing",
        "userName.sub",
        "ims.value",
    ];
    const EXT: &[&str] = &[
        "employeeNumber",
        "department",
        "costCenter",
        "manager",
        "manager.value",
        "manager.displayName",
        "manager.$ref",
        "organization",
    ];
    let (path, ext) = if maybe(r, 0.75) {
        (*CORE.choose(r).unwrap(), false)
    } else {
        (*EXT.choose(r).unwrap(), true)
    };
    let path = case_variant(r, path);
    match r.random_range(0..10) {
        0 if ext => format!("{ENTERPRISE}:{path}"),
        1 if ext => format!("{}:{path}", ENTERPRISE.to_ascii_uppercase()),
        2 => format!("urn:ietf:params:scim:schemas:core:2.0:User:{path}"),
        3 if maybe(r, 0.3) => format!("urn:example:other:2.0:User:{path}"),
        4 if !ext && maybe(r, 0.3) => format!("{ENTERPRISE}:{path}"),
        _ => path,
    }
}

fn case_variant(r: &mut StdRng, s: &str) -> String {
    match r.random_range(0..6) {
        0 => s.to_ascii_uppercase(),
        1 => s.to_ascii_lowercase(),
        _ => s.to_owned(),
    }
}

fn random_value(r: &mut StdRng) -> Value {
    match r.random_range(0..20) {
        0 => json!(null),
        1 => json!(true),
        2 => json!(false),
        3 => json!([1.0, 0.0, 1.5, -2.0, 7.0].choose(r).unwrap()),
        4 | 5 => json!(TIMES.choose(r).unwrap()),
        6 => json!(
            [
                "2011-05-13T06:42:34+02:00",
                "2011-05-13T04:42:34Z",
                "2011-05-13T04:42:34.4999Z",
                "2011",
                "2024-02-29T23:59:59.999-01:00",
                "2011-05-13T04:42"
            ]
            .choose(r)
            .unwrap()
        ),
        7 => json!(
            [
                "W/\"1\"",
                "W/\"2\"",
                "w/\"1\"",
                "User",
                "user",
                LOCATION,
                "https://h"
            ]
            .choose(r)
            .unwrap()
        ),
        8 => json!(
            [
                ENTERPRISE,
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER"
            ]
            .choose(r)
            .unwrap()
        ),
        9 => json!(DOMAINS.choose(r).unwrap()),
        10 => json!(format!("@{}", DOMAINS.choose(r).unwrap())),
        11 => json!(
            ["TUlJRG", "tulJrg", "work", "WORK", "home", "https://"]
                .choose(r)
                .unwrap()
        ),
        _ => {
            let w = word(r);
            // A piece of a word, to exercise co/sw/ew.
            let chars: Vec<char> = w.chars().collect();
            if chars.len() > 2 && maybe(r, 0.4) {
                let a = r.random_range(0..chars.len());
                let b = r.random_range(a..=chars.len());
                json!(chars[a..b].iter().collect::<String>())
            } else {
                json!(w)
            }
        }
    }
}

fn random_op(r: &mut StdRng) -> String {
    let op = *["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]
        .choose(r)
        .unwrap();
    case_variant(r, op)
}

fn random_term(r: &mut StdRng, path: String) -> String {
    let op = random_op(r);
    if op.eq_ignore_ascii_case("pr") {
        format!("{path} {op}")
    } else {
        format!("{path} {op} {}", random_value(r))
    }
}

fn random_value_path(r: &mut StdRng) -> String {
    let attr = *[
        "emails",
        "emails",
        "addresses",
        "phoneNumbers",
        "x509Certificates",
        "roles",
        "aliases",
        "name",
        "meta",
        "schemas",
        "userName",
        "groups",
        "noSuch",
        "manager",
    ]
    .choose(r)
    .unwrap();
    let attr = case_variant(r, attr);
    let attr = if attr.eq_ignore_ascii_case("manager") && maybe(r, 0.5) {
        format!("{ENTERPRISE}:{attr}")
    } else {
        attr
    };
    let inner = random_inner(r, 2);
    if maybe(r, 0.25) {
        // Entra's `attr[…].sub op value`.
        let sub = *["value", "type", "primary", "display"].choose(r).unwrap();
        let sub = case_variant(r, sub);
        return format!("{attr}[{inner}].{}", random_term(r, sub));
    }
    format!("{attr}[{inner}]")
}

fn random_inner(r: &mut StdRng, depth: u32) -> String {
    let sub = || {
        [
            "value",
            "type",
            "primary",
            "display",
            "locality",
            "givenName",
            "familyName",
            "created",
            "lastModified",
            "version",
            "resourceType",
            "noSuch",
            "country",
        ]
    };
    match r.random_range(0..if depth == 0 { 1 } else { 5 }) {
        0 | 1 => {
            let s = *sub().choose(r).unwrap();
            let s = case_variant(r, s);
            random_term(r, s)
        }
        2 => format!(
            "{} and {}",
            random_inner(r, depth - 1),
            random_inner(r, depth - 1)
        ),
        3 => format!(
            "{} or {}",
            random_inner(r, depth - 1),
            random_inner(r, depth - 1)
        ),
        _ => format!("not ({})", random_inner(r, depth - 1)),
    }
}

fn random_filter(r: &mut StdRng, depth: u32) -> String {
    match r.random_range(0..if depth == 0 { 3 } else { 8 }) {
        0 | 1 => {
            let p = random_path(r);
            random_term(r, p)
        }
        2 => random_value_path(r),
        3 | 4 => format!(
            "{} {} {}",
            random_filter(r, depth - 1),
            case_variant(r, "and"),
            random_filter(r, depth - 1)
        ),
        5 => format!(
            "{} or {}",
            random_filter(r, depth - 1),
            random_filter(r, depth - 1)
        ),
        6 => format!("not ({})", random_filter(r, depth - 1)),
        _ => format!("({})", random_filter(r, depth - 1)),
    }
}

/// The PostgreSQL side of the engine matrix (issue 18 item 3): a database of the private test
/// cluster with the PostgreSQL schema, into which the differential test loads the same users.
struct Pg {
    _db: crate::store::pg::test_cluster::TestDb,
    client: postgres::Client,
}

/// None when PostgreSQL is not installed outside CI (the reason is printed); with `CI=true` a
/// missing installation fails the test.
fn pg(label: &str) -> Option<Pg> {
    let db = crate::store::pg::test_cluster::database(label)?;
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    crate::store::pg::migrate(&mut client).unwrap();
    Some(Pg { _db: db, client })
}

/// What a stored user's rows say, engine-neutral: the columns derived from its document (by
/// `users::derive`, the same Rust code on both engines) and the document itself.
fn derived_rows(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare(
            "SELECT u.id, u.user_name_folded, u.display_name_folded, u.external_id, u.active, u.version,
                    u.created, u.last_modified, u.search_text, u.doc,
                    (SELECT group_concat(value_folded || '/' || IFNULL(type_folded, '-'), ' ') FROM
                       (SELECT * FROM user_emails e WHERE e.user_seq = u.seq ORDER BY value_folded, type_folded)),
                    (SELECT group_concat(name_folded, ' ') FROM
                       (SELECT * FROM login_names l WHERE l.user_seq = u.seq ORDER BY name_folded))
             FROM users u ORDER BY u.id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let doc: String = r.get(9)?;
            let doc: Value = serde_json::from_str(&doc).unwrap();
            Ok(format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?} {:?}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                serde_json::to_string(&canonical(doc)).unwrap(),
                r.get::<_, Option<String>>(10)?.unwrap_or_default(),
                r.get::<_, Option<String>>(11)?.unwrap_or_default(),
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// [`derived_rows`] on PostgreSQL.
fn pg_derived_rows(pg: &mut Pg) -> Vec<String> {
    pg.client
        .query(
            "SELECT u.id, u.user_name_folded, u.display_name_folded, u.external_id, u.active, u.version,
                    u.created, u.last_modified, u.search_text, u.doc,
                    (SELECT string_agg(value_folded || '/' || COALESCE(type_folded, '-'), ' '
                                       ORDER BY value_folded, type_folded NULLS FIRST)
                       FROM user_emails e WHERE e.user_seq = u.seq),
                    (SELECT string_agg(name_folded, ' ' ORDER BY name_folded)
                       FROM login_names l WHERE l.user_seq = u.seq)
             FROM users u ORDER BY u.id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {} {:?} {:?}",
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, Option<String>>(2),
                r.get::<_, Option<String>>(3),
                r.get::<_, bool>(4),
                r.get::<_, i64>(5),
                r.get::<_, String>(6),
                r.get::<_, String>(7),
                r.get::<_, String>(8),
                serde_json::to_string(&canonical(r.get::<_, Value>(9))).unwrap(),
                r.get::<_, Option<String>>(10).unwrap_or_default(),
                r.get::<_, Option<String>>(11).unwrap_or_default(),
            )
        })
        .collect()
}

/// The ids of the users `cond` (compiled for PostgreSQL) selects.
fn pg_select(pg: &mut Pg, cond: &Condition) -> BTreeSet<String> {
    let sql = format!("SELECT u.id FROM users u WHERE {}", cond.sql);
    pg_ids(pg, &sql, &cond.params).into_iter().collect()
}

/// The ids `sql` returns on PostgreSQL, in order.
fn pg_ids(pg: &mut Pg, sql: &str, params: &[SqlValue]) -> Vec<String> {
    let boxed: Vec<Box<dyn postgres::types::ToSql + Sync>> = params
        .iter()
        .map(|v| -> Box<dyn postgres::types::ToSql + Sync> {
            match v {
                SqlValue::Integer(i) => Box::new(*i),
                SqlValue::Real(f) => Box::new(*f),
                SqlValue::Text(t) => Box::new(t.clone()),
                other => panic!("unexpected parameter {other:?}"),
            }
        })
        .collect();
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = boxed.iter().map(|b| &**b).collect();
    // Typed by the values: a parameter the SQL no longer refers to (a branch the compiler
    // folded to FALSE) is then still a parameter of the statement.
    let types: Vec<postgres::types::Type> = params
        .iter()
        .map(|v| match v {
            SqlValue::Integer(_) => postgres::types::Type::INT8,
            SqlValue::Real(_) => postgres::types::Type::FLOAT8,
            _ => postgres::types::Type::TEXT,
        })
        .collect();
    let stmt = pg
        .client
        .prepare_typed(sql, &types)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
    pg.client
        .query(&stmt, &refs)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The ids `sql` returns on SQLite, in order.
fn sqlite_ids(conn: &Connection, sql: &str, params: &[SqlValue]) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    for i in 1..=stmt.parameter_count() {
        stmt.raw_bind_parameter(i, &params[i - 1]).unwrap();
    }
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(r) = rows.next().unwrap_or_else(|e| panic!("{e}\n{sql}")) {
        out.push(r.get::<_, String>(0).unwrap());
    }
    out
}

/// A JSON value with its object keys sorted (jsonb does not keep the order of keys).
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, canonical(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        v => v,
    }
}

/// The outcome of a write on one engine, comparable across engines.
fn outcome(r: &Result<UserRow, crate::store::StoreError>) -> String {
    match r {
        Ok(row) => format!("ok v{}", row.version),
        Err(crate::store::StoreError::Conflict { attribute, value }) => {
            format!("conflict {attribute} {value}")
        }
        Err(e) => panic!("write failed: {e}"),
    }
}

/// About 300 random users stored in `conn` (some updated at a later time), and the same writes
/// on PostgreSQL when `pg` is given (each must have the same outcome there: stored, or refused
/// as the same conflict): their ids and their resources as the evaluator sees them.
fn population(conn: &Connection, mut pg: Option<&mut Pg>, r: &mut StdRng) -> Vec<(String, Value)> {
    let mut resources = Vec::new();
    for i in 0..300 {
        let body = random_user(r, i);
        let Ok(doc) = resource::normalize(schema::user(), &body) else {
            continue;
        };
        let now = *TIMES.choose(r).unwrap();
        let id = uuid::Uuid::new_v4().to_string();
        let new = || NewUser {
            id: &id,
            source: None,
            now,
            doc: &doc,
        };
        let inserted = users::insert(&mut Tx::sqlite(conn), new());
        if let Some(pg) = pg.as_deref_mut() {
            let mut tx = pg.client.transaction().unwrap();
            let got = crate::store::pg::users::insert(&mut tx, new());
            tx.commit().unwrap();
            assert_eq!(outcome(&got), outcome(&inserted), "insert {body}");
        }
        let Ok(mut row) = inserted else {
            continue;
        };
        if maybe(r, 0.3) {
            let mut doc2 = doc.clone();
            doc2.insert("title".into(), json!(word(r)));
            let later = *TIMES.choose(r).unwrap();
            let updated = users::update(&mut Tx::sqlite(conn), &row, None, doc2.clone(), later);
            if let Some(pg) = pg.as_deref_mut() {
                let mut tx = pg.client.transaction().unwrap();
                let got = crate::store::pg::users::update(&mut tx, &row, None, doc2, later);
                tx.commit().unwrap();
                assert_eq!(outcome(&got), outcome(&updated), "update {body}");
            }
            if let Ok(updated) = updated {
                row = updated;
            }
        }
        resources.push((row.id.clone(), resource_of(&row)));
    }
    assert!(
        resources.len() > 250,
        "only {} users inserted",
        resources.len()
    );
    if let Some(pg) = pg {
        // The same rows on both engines: folded columns, emails, aliases and documents.
        let (sqlite, postgres) = (derived_rows(conn), pg_derived_rows(pg));
        assert_eq!(sqlite.len(), postgres.len());
        for (s, p) in sqlite.iter().zip(&postgres) {
            assert_eq!(s, p, "the engines stored a user differently");
        }
    }
    resources
}

/// Issue 3 item 4. `SCIMGATE_DIFF_SEED` replays a seed; `SCIMGATE_DIFF_FILTERS` sets the
/// number of filters (default 10,000).
#[test]
fn sql_agrees_with_the_evaluator_on_random_filters() {
    let seed: u64 = std::env::var("SCIMGATE_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let filters: usize = std::env::var("SCIMGATE_DIFF_FILTERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    eprintln!("differential test seed {seed} (replay with SCIMGATE_DIFF_SEED={seed})");
    let mut r = StdRng::seed_from_u64(seed);
    let conn = db();
    // Issue 18 item 3: the same users on PostgreSQL (with CI=true, PostgreSQL must be there).
    let mut pg = pg("differential");
    let resources = population(&conn, pg.as_mut(), &mut r);
    let rt = schema::user();
    let (mut nontrivial, mut parsed) = (0, 0);
    for n in 0..filters {
        let text = random_filter(&mut r, 3);
        let Ok(filter) = parse_filter(&text) else {
            continue;
        };
        parsed += 1;
        let cond = match compile_filter(users_map(), LOCATION, &filter) {
            Ok(c) => c,
            // `groups` is derived from memberships: only its value may be compared, and
            // these users have none; other uses are refused by design (`check_derived`).
            Err(e)
                if text.to_ascii_lowercase().contains("groups")
                    || text.to_ascii_lowercase().contains("provisioning") =>
            {
                assert_eq!(e.scim_type(), Some("invalidFilter"));
                continue;
            }
            Err(e) => panic!("filter #{n} {text:?} did not compile: {e}"),
        };
        let want: BTreeSet<String> = resources
            .iter()
            .filter(|(_, res)| matches(&filter, res, rt))
            .map(|(id, _)| id.clone())
            .collect();
        // The matrix: the same filter on each engine, in its dialect.
        let mut engines = vec![("SQLite", cond.clone(), select(&conn, &cond))];
        if let Some(pg) = pg.as_mut() {
            let cond =
                compile_filter_in(Dialect::Postgres, users_map(), LOCATION, &filter).unwrap();
            let got = pg_select(pg, &cond);
            engines.push(("PostgreSQL", cond, got));
        }
        for (engine, cond, got) in engines {
            if got != want {
                let diff: Vec<&String> = got.symmetric_difference(&want).collect();
                let example = resources.iter().find(|(id, _)| id == diff[0]).unwrap();
                panic!(
                    "filter #{n} disagrees on {engine} (seed {seed}):\n  {text}\n  sql: {}\n  params: {:?}\n  SQL-only: {:?}\n  evaluator-only: {:?}\n  e.g. {}",
                    cond.sql,
                    cond.params,
                    got.difference(&want).collect::<Vec<_>>(),
                    want.difference(&got).collect::<Vec<_>>(),
                    serde_json::to_string_pretty(&example.1).unwrap()
                );
            }
        }
        if !want.is_empty() && want.len() < resources.len() {
            nontrivial += 1;
        }
    }
    eprintln!("{parsed} filters parsed of {filters}, {nontrivial} selected some but not all users");
    assert!(
        parsed * 10 >= filters * 9,
        "too many unparseable filters: {parsed}"
    );
    assert!(
        nontrivial * 6 >= parsed,
        "too few discriminating filters: {nontrivial}"
    );
}

/// Issue 18 item 3: `sortBy` on random attributes orders the same users in the same order on
/// both engines (as `listing` orders: no data last ascending, first descending).
#[test]
fn sorts_agree_across_engines() {
    let conn = db();
    let Some(mut pg) = pg("sorts") else {
        return;
    };
    let mut r = StdRng::seed_from_u64(rand::rng().random());
    population(&conn, Some(&mut pg), &mut r);
    let mut compared = 0;
    for _ in 0..300 {
        let path = random_path(&mut r);
        let Ok(Filter::Present(path)) = parse_filter(&format!("{path} pr")) else {
            continue;
        };
        let descending = r.random_bool(0.5);
        let compiled = |d| compile_in(d, users_map(), LOCATION, None, Some((&path, descending)));
        let (s, p) = match (compiled(Dialect::Sqlite), compiled(Dialect::Postgres)) {
            (Ok(s), Ok(p)) => (s, p),
            (Err(a), Err(b)) => {
                assert_eq!(a.to_string(), b.to_string());
                continue;
            }
            (a, b) => panic!("{path}: {a:?} / {b:?}"),
        };
        let order = |k: &SortKey| {
            let dir = if k.descending { "DESC" } else { "ASC" };
            format!(
                "SELECT u.id FROM users u ORDER BY ({e}) IS NULL {dir}, ({e}) {dir}, u.id",
                e = k.expr
            )
        };
        let (sk, pk) = (s.sort.unwrap(), p.sort.unwrap());
        let got_s = sqlite_ids(&conn, &order(&sk), &s.params);
        let got_p = pg_ids(&mut pg, &order(&pk), &p.params);
        assert_eq!(
            got_s, got_p,
            "sortBy={path} descending={descending}\n{}\n{}",
            sk.expr, pk.expr
        );
        compared += 1;
    }
    assert!(compared > 150, "only {compared} sorts compared");
}

/// The largest filters the parser accepts (MAX_TERMS terms, MAX_DEPTH levels) compile to SQL
/// SQLite accepts and runs.
#[test]
fn largest_filters_run() {
    use crate::scim::filter::{MAX_DEPTH, MAX_TERMS};
    let conn = db();
    insert(
        &conn,
        json!({"userName": "a", "emails": [{"value": "x@y"}]}),
        TIMES[0],
    );
    // Every term rebuilds the resource in SQL (`schemas` is not in the document).
    let wide = (0..MAX_TERMS)
        .map(|i| format!(r#"schemas co "{}""#, i % 10))
        .collect::<Vec<_>>()
        .join(" or ");
    assert_eq!(select(&conn, &c(&wide)).len(), 1);
    let mut deep = r#"emails[value eq "x@y" and not (type pr)]"#.to_owned();
    for _ in 0..MAX_DEPTH - 2 {
        deep = format!("not ({deep})");
    }
    let parsed = parse_filter(&deep).unwrap();
    let k = compile_filter(users_map(), LOCATION, &parsed).unwrap();
    select(&conn, &k);
}

mod props;

/// Issue 18 item 3: the SQLite text the compiler emits is pinned, so that adding the
/// PostgreSQL dialect leaves SQLite's SQL (its plans and speed) byte for byte as it was: a
/// digest of the SQL and parameters of 3,000 seeded random filters and sorts, and a few
/// outputs in full.
#[test]
fn sqlite_output_is_pinned() {
    use sha2::{Digest, Sha256};
    assert_eq!(
        c(r#"title pr"#).sql,
        r#"EXISTS (SELECT 1 FROM json_tree(u.doc, '$."title"') t1 WHERE t1.type IN ('true', 'false', 'integer', 'real') OR (t1.type = 'text' AND t1.atom <> ''))"#
    );
    assert_eq!(
        c(r#"ims[type eq "xmpp" and value co "@foo.com"]"#).sql,
        r#"EXISTS (SELECT 1 FROM json_each(u.doc, '$."ims"') j1 WHERE j1.type IS NOT NULL AND j1.type <> 'null' AND (scim_fold(json_extract(j1.value, '$."type"')) = ?1 AND instr(scim_fold(json_extract(j1.value, '$."value"')), ?2) > 0))"#
    );
    assert_eq!(
        c(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#).sql,
        "(CASE WHEN scim_instant(u.last_modified) IS NOT NULL THEN scim_instant(u.last_modified) > ?2 ELSE scim_fold(u.last_modified) > ?1 END)"
    );
    let mut r = StdRng::seed_from_u64(18);
    let mut h = Sha256::new();
    for _ in 0..3000 {
        let text = random_filter(&mut r, 3);
        let Ok(filter) = parse_filter(&text) else {
            continue;
        };
        let sort = parse_filter(&format!("{} pr", random_path(&mut r))).ok();
        let sort_path = match &sort {
            Some(Filter::Present(p)) => Some((p, r.random_bool(0.5))),
            _ => None,
        };
        match compile(users_map(), LOCATION, Some(&filter), sort_path) {
            Ok(k) => h.update(format!("{:?}|{:?}|{:?}\n", k.filter, k.sort, k.params)),
            Err(e) => h.update(format!("{e}\n")),
        }
    }
    assert_eq!(
        hex::encode(h.finalize()),
        "c062c7695d4d6d148d18d44f03e71fd4fc2bc202bb896f7a297d977afe66ffb7"
    );
}
