//! The PostgreSQL repositories (issue 18 item 2, not selectable yet) against SQLite's: the same
//! sequence of calls on the same data runs through `Store` (SQLite) and `store::pg` (a private
//! PostgreSQL), and every answer is compared: rows, member lists, conflicts, the group version
//! bumps of a member's rename and delete, claims, admin searches, and list pages with filters,
//! sorts, scopes, `startIndex` and cursor paging over a few hundred users.
#![allow(clippy::unwrap_used)]

use std::fmt::Debug;

use scimgate::scim::filter::{Filter, parse_filter};
use scimgate::scim::resource::{self, DocText, Document};
use scimgate::scim::schema;
use scimgate::store::filter_sql::{Compiled, Dialect, compile_in, groups_map, users_map};
use scimgate::store::groups::{self, GroupRow};
use scimgate::store::integrations::{self, IntegrationRow};
use scimgate::store::listing::{ListPage, Paging, Position};
use scimgate::store::provenance::{self, Kind};
use scimgate::store::users::{self, NewUser, Scope, Search, SourceFilter, UserRow};
use scimgate::store::{
    SqlValue, Store, StoreError, StoreOptions, Synchronous, Tx, WriterThread, pg,
};
use serde_json::{Value, json};

use crate::support::postgres;

const LOCATION: &str = "https://scim.example/scim/v2/i1/";

/// Both engines, holding the same directory.
struct Both {
    rt: tokio::runtime::Runtime,
    store: Store,
    thread: Option<WriterThread>,
    _dir: tempfile::TempDir,
    pg: ::postgres::Client,
    _db: postgres::TestDb,
}

impl Both {
    fn new(label: &str) -> Option<Both> {
        let db = postgres::database(label)?;
        let mut pg = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
        pg::migrate(&mut pg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (store, thread) = rt
            .block_on(async {
                Store::open(&StoreOptions {
                    path: dir.path().join("s.db"),
                    synchronous: Synchronous::Normal,
                    read_connections: 2,
                })
            })
            .unwrap();
        Some(Both {
            rt,
            store,
            thread: Some(thread),
            _dir: dir,
            pg,
            _db: db,
        })
    }

    /// Runs `f` as one write job on SQLite.
    fn sq<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.rt.block_on(self.store.write(f))
    }

    /// Runs `f` in one transaction on PostgreSQL, committed when it succeeds.
    fn pg<T>(
        &mut self,
        f: impl FnOnce(&mut ::postgres::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.pg.transaction().unwrap();
        let out = f(&mut tx);
        if out.is_ok() {
            tx.commit().unwrap();
        }
        out
    }
}

impl Drop for Both {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            t.stop();
        }
    }
}

/// Both answers, required equal (errors compared by their message: a `Conflict` names the
/// attribute and the value).
fn same<T: PartialEq + Debug>(
    what: &str,
    s: Result<T, StoreError>,
    p: Result<T, StoreError>,
) -> Option<T> {
    match (s, p) {
        (Ok(s), Ok(p)) => {
            assert_eq!(s, p, "{what}");
            Some(s)
        }
        (Err(s), Err(p)) => {
            assert_eq!(s.to_string(), p.to_string(), "{what}");
            None
        }
        (s, p) => panic!("{what}: SQLite {s:?}, PostgreSQL {p:?}"),
    }
}

fn user_doc(body: Value) -> Document {
    resource::normalize(schema::user(), &body).unwrap()
}

fn group_doc(body: Value) -> Document {
    resource::normalize(schema::group(), &body).unwrap()
}

/// A user row with its document parsed (documents are equal as JSON values; jsonb keeps its
/// own member order).
fn parsed(r: UserRow<DocText>) -> UserRow {
    r.parse().unwrap()
}

fn integration(id: &str, name: &str) -> IntegrationRow {
    IntegrationRow {
        id: id.into(),
        name: name.into(),
        kind: "scim2".into(),
        token_digest: vec![1, 2, 3],
        send_enrollment_emails: false,
        include_manual: false,
        read_all_users: false,
        created: "2026-01-01T00:00:00.000Z".into(),
        token_created: "2026-01-01T00:00:00.000Z".into(),
        token_last_used: None,
        previous_token_digest: None,
        previous_token_until: None,
        token_lifetime_days: None,
        group_patch_answer: "no_content".into(),
    }
}

fn add_integrations(b: &mut Both) {
    for (id, name) in [("i1", "Okta"), ("i2", "Entra")] {
        let row = integration(id, name);
        b.sq(move |tx| integrations::insert(tx, &row)).unwrap();
        b.pg
            .execute(
                "INSERT INTO integrations (id, name, name_folded, token_digest, created, token_created)
                 VALUES ($1, $2, lower($2), '\\x010203', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
                &[&id, &name],
            )
            .unwrap();
    }
}

fn now(i: usize) -> String {
    format!(
        "2026-02-{:02}T{:02}:{:02}:00.000Z",
        1 + i % 28,
        i % 24,
        i % 60
    )
}

/// A varied user: some without displayName, emails or title, several sources, names that fold
/// beyond ASCII, a few deactivated.
fn varied_user(i: usize) -> Value {
    let mut u = json!({
        "userName": format!("User{i:03}@Example.test"),
        "active": !i.is_multiple_of(7),
    });
    if !i.is_multiple_of(3) {
        u["displayName"] = json!(match i % 5 {
            0 => format!("Ärger {i}"),
            1 => format!("straße {}", 300 - i),
            _ => format!("Name \"{}\" {i}", i % 11),
        });
    }
    if i % 4 != 1 {
        u["emails"] = json!([
            {"value": format!("u{i}@mail{}.test", i % 3), "type": if i.is_multiple_of(2) { "work" } else { "home" }},
            {"value": format!("alt{i}@Other.test"), "primary": i.is_multiple_of(8)},
        ]);
    }
    if i.is_multiple_of(2) {
        let title = ["Engineer", "Manager", "engineer", "Zoo"][i % 4];
        u["title"] = json!(title);
    }
    if i.is_multiple_of(6) {
        u["externalId"] = json!(format!("ext-{}", i % 40));
    }
    if i % 10 == 3 {
        u["aliases"] = json!([{"value": format!("alias{i}")}]);
    }
    let family = ["Smith", "smith", "Öz", "Lee"][i % 4];
    u["name"] = json!({"familyName": family, "givenName": format!("G{i}")});
    u
}

fn source_of(i: usize) -> Option<&'static str> {
    match i % 3 {
        0 => Some("i1"),
        1 => Some("i2"),
        _ => None,
    }
}

const USERS: usize = 240;

fn insert_users(b: &mut Both) -> Vec<UserRow> {
    let mut rows = Vec::new();
    for i in 0..USERS {
        let doc = user_doc(varied_user(i));
        let (id, at) = (format!("u-{i:04}"), now(i));
        let (d, id2, at2) = (doc.clone(), id.clone(), at.clone());
        let s = b.sq(move |tx| {
            users::insert(
                tx,
                NewUser {
                    id: &id2,
                    source: source_of(i),
                    now: &at2,
                    doc: &d,
                },
            )
        });
        let p = b.pg(|c| {
            pg::users::insert(
                c,
                NewUser {
                    id: &id,
                    source: source_of(i),
                    now: &at,
                    doc: &doc,
                },
            )
        });
        rows.push(same("insert", s, p).unwrap());
    }
    rows
}

#[test]
fn user_reads_writes_and_conflicts_agree() {
    let Some(mut b) = Both::new("repos_users") else {
        return;
    };
    add_integrations(&mut b);
    let rows = insert_users(&mut b);
    for r in rows.iter().step_by(17) {
        let (id, seq) = (r.id.clone(), r.seq);
        let i2 = id.clone();
        let s = b.sq(move |tx| users::find_by_id(tx, &i2));
        let p = b.pg(|c| pg::users::find_by_id(c, &id));
        assert_eq!(same("find_by_id", s, p).unwrap().as_ref(), Some(r));
        let i2 = id.clone();
        let s = b.sq(move |tx| Ok(users::find_by_id_text(tx, &i2)?.map(parsed)));
        let p = b.pg(|c| Ok(pg::users::find_by_id_text(c, &id)?.map(parsed)));
        same("find_by_id_text", s, p);
        let s = b.sq(move |tx| users::find_by_seq(tx, seq));
        let p = b.pg(|c| pg::users::find_by_seq(c, seq));
        same("find_by_seq", s, p);
    }
    for name in [
        "USER005@example.TEST",
        " user010@example.test ",
        "ALIAS13",
        "alias23",
        "nobody",
        "",
    ] {
        let n = name.to_owned();
        let s = b.sq(move |tx| users::find_by_login(tx, &n));
        let p = b.pg(|c| pg::users::find_by_login(c, name));
        same(name, s, p);
        let n = name.to_owned();
        let s = b.sq(move |tx| users::seq_by_login(tx, &n));
        let p = b.pg(|c| pg::users::seq_by_login(c, name));
        same(name, s, p);
    }
    let none = b.sq(|tx| users::find_by_id(tx, "missing"));
    assert_eq!(
        same(
            "missing",
            none,
            b.pg(|c| pg::users::find_by_id(c, "missing"))
        ),
        Some(None)
    );

    // Conflicts: a folded userName, an alias held by another user, in either role, on insert
    // and on update; the same attribute and value on both engines.
    for body in [
        json!({"userName": "user001@EXAMPLE.test"}),
        json!({"userName": "Alias13"}),
        json!({"userName": "fresh", "aliases": [{"value": "USER002@example.test"}]}),
        json!({"userName": "fresh2", "aliases": [{"value": "x"}, {"value": "ALIAS33"}]}),
    ] {
        let doc = user_doc(body.clone());
        let d = doc.clone();
        let s = b.sq(move |tx| {
            users::insert(
                tx,
                NewUser {
                    id: "c-1",
                    source: None,
                    now: "2026-03-01T00:00:00.000Z",
                    doc: &d,
                },
            )
        });
        let p = b.pg(|c| {
            pg::users::insert(
                c,
                NewUser {
                    id: "c-1",
                    source: None,
                    now: "2026-03-01T00:00:00.000Z",
                    doc: &doc,
                },
            )
        });
        assert!(
            matches!(s, Err(StoreError::Conflict { .. })),
            "{body}: {s:?}"
        );
        same(&body.to_string(), s, p);
    }
    for (k, v) in [
        ("userName", json!("USER007@example.test")),
        ("aliases", json!([{"value": "alias43"}])),
    ] {
        let old = rows[4].clone();
        let mut doc = old.doc.clone();
        doc.insert(k.into(), v.clone());
        let (o2, d2) = (old.clone(), doc.clone());
        let s = b.sq(move |tx| users::update(tx, &o2, o2.source.as_deref(), d2, "t"));
        let p = b.pg(|c| pg::users::update(c, &old, old.source.as_deref(), doc, "t"));
        assert!(matches!(s, Err(StoreError::Conflict { .. })), "{k}: {s:?}");
        same(k, s, p);
    }

    // Updates that change login names, emails and source; then the admin search sees them.
    for i in [5usize, 6, 7, 30] {
        let old = rows[i].clone();
        let mut doc = old.doc.clone();
        doc.insert("userName".into(), json!(format!("Renamed{i}@Example.test")));
        doc.insert("aliases".into(), json!([{"value": format!("Nick{i}")}]));
        doc.insert(
            "emails".into(),
            json!([{"value": format!("NEW{i}@x.test")}]),
        );
        let (o2, d2) = (old.clone(), doc.clone());
        let s = b.sq(move |tx| users::update(tx, &o2, Some("i2"), d2, "2026-03-02T00:00:00.000Z"));
        let p = b.pg(|c| pg::users::update(c, &old, Some("i2"), doc, "2026-03-02T00:00:00.000Z"));
        same("update", s, p);
        let n = format!("nick{i}");
        let s = b.sq(move |tx| users::seq_by_login(tx, &n));
        let p = b.pg(|c| pg::users::seq_by_login(c, &format!("NICK{i}")));
        assert_eq!(same("renamed", s, p).unwrap(), Some(rows[i].seq));
    }
    for s in [
        Search {
            text: String::new(),
            source: SourceFilter::Any,
            active: None,
        },
        Search {
            text: "STRASSE".into(),
            source: SourceFilter::Any,
            active: None,
        },
        Search {
            text: "  ärger ".into(),
            source: SourceFilter::Manual,
            active: Some(true),
        },
        Search {
            text: "mail1".into(),
            source: SourceFilter::Integration("i2".into()),
            active: Some(false),
        },
        Search {
            text: "nick".into(),
            source: SourceFilter::Integration("i2".into()),
            active: None,
        },
        Search {
            text: "smith".into(),
            source: SourceFilter::Integration("i1".into()),
            active: Some(true),
        },
    ] {
        for (offset, limit) in [(0, 10), (5, 7), (200, 50), (0, 0)] {
            let s2 = s.clone();
            let got_s = b.sq(move |tx| users::search(tx, &s2, offset, limit));
            let got_p = b.pg(|c| pg::users::search(c, &s, offset, limit));
            same(&format!("{s:?} {offset} {limit}"), got_s, got_p);
        }
    }

    // Deletes: gone on both, the login names free again.
    for i in [8usize, 13] {
        let seq = rows[i].seq;
        same(
            "delete",
            b.sq(move |tx| users::delete(tx, seq)),
            b.pg(|c| pg::users::delete(c, seq)),
        );
    }
    let s = b.sq(|tx| users::seq_by_login(tx, "alias13"));
    assert_eq!(
        same("freed", s, b.pg(|c| pg::users::seq_by_login(c, "alias13"))),
        Some(None)
    );
}

/// Groups: conflicts, memberships, member lists, a member's rename and delete moving the
/// groups' versions, scopes, the admin search, and claims.
#[test]
fn groups_memberships_and_claims_agree() {
    let Some(mut b) = Both::new("repos_groups") else {
        return;
    };
    add_integrations(&mut b);
    let rows = insert_users(&mut b);
    let mut groups: Vec<GroupRow> = Vec::new();
    for (i, name) in [
        "Engineering",
        "Straße Team",
        "Ops \"night\"",
        "Empty",
        "Sales",
    ]
    .iter()
    .enumerate()
    {
        let doc = group_doc(json!({"displayName": name, "externalId": format!("g{i}")}));
        let (id, src) = (format!("g-{i}"), source_of(i));
        let (d, i2) = (doc.clone(), id.clone());
        let s = b.sq(move |tx| groups::insert(tx, &i2, src, "2026-04-01T00:00:00.000Z", &d));
        let p = b.pg(|c| pg::groups::insert(c, &id, src, "2026-04-01T00:00:00.000Z", &doc));
        groups.push(same("group insert", s, p).unwrap());
    }
    // A folded displayName is taken, on insert and on update (not by the group itself).
    let doc = group_doc(json!({"displayName": "STRASSE team"}));
    let d = doc.clone();
    let s = b.sq(move |tx| groups::insert(tx, "g-x", None, "t", &d));
    let p = b.pg(|c| pg::groups::insert(c, "g-x", None, "t", &doc));
    assert!(matches!(
        s,
        Err(StoreError::Conflict {
            attribute: "displayName",
            ..
        })
    ));
    same("group conflict", s, p);
    let old = groups[0].clone();
    let (o2, d2) = (old.clone(), doc.clone());
    let s = b.sq(move |tx| groups::update(tx, &o2, None, d2, "t"));
    let p = b.pg(|c| pg::groups::update(c, &old, None, doc, "t"));
    same("group update conflict", s, p);
    let mut doc = old.doc.clone();
    doc.insert("displayName".into(), json!("ENGINEERING"));
    let (o2, d2) = (old.clone(), doc.clone());
    let s = b.sq(move |tx| groups::update(tx, &o2, Some("i2"), d2, "2026-04-02T00:00:00.000Z"));
    let p = b.pg(|c| pg::groups::update(c, &old, Some("i2"), doc, "2026-04-02T00:00:00.000Z"));
    groups[0] = same("group rename", s, p).unwrap();

    // Memberships: resolve (unknown and repeated ids), add (twice, repeated), remove.
    let ids: Vec<String> = ["u-0003", "nope", "u-0010", "u-0003", "u-0099"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let i2 = ids.clone();
    let s = b.sq(move |tx| groups::resolve_users(tx, &i2));
    let p = b.pg(|c| pg::groups::resolve_users(c, &ids));
    assert_eq!(same("resolve", s, p).unwrap().len(), 4);
    let seqs =
        |range: std::ops::Range<usize>| -> Vec<i64> { rows[range].iter().map(|r| r.seq).collect() };
    for (g, members) in [
        (0usize, seqs(0..40)),
        (0, seqs(30..60)),
        (1, [seqs(50..55), seqs(50..52)].concat()),
        (2, seqs(1..4)),
        (4, seqs(100..200)),
        (4, vec![]),
    ] {
        let gs = groups[g].seq;
        let m2 = members.clone();
        let s = b.sq(move |tx| groups::add_members(tx, gs, &m2));
        let p = b.pg(|c| pg::groups::add_members(c, gs, &members));
        same("add_members", s, p);
    }
    let gs4 = groups[4].seq;
    let rm = [seqs(150..160), seqs(150..152), seqs(0..2)].concat();
    let r2 = rm.clone();
    let s = b.sq(move |tx| groups::remove_members(tx, gs4, &r2));
    let p = b.pg(|c| pg::groups::remove_members(c, gs4, &rm));
    assert_eq!(same("remove_members", s, p), Some(10));

    let compare_groups = |b: &mut Both, groups: &[GroupRow], what: &str| {
        for g in groups.iter().cloned() {
            let (gs, gid) = (g.seq, g.id.clone());
            let i2 = gid.clone();
            let s = b.sq(move |tx| groups::find_by_id(tx, &i2));
            let p = b.pg(|c| pg::groups::find_by_id(c, &gid));
            same(&format!("{what}: group"), s, p);
            let s = b.sq(move |tx| groups::members(tx, gs));
            let p = b.pg(|c| pg::groups::members(c, gs));
            same(&format!("{what}: members"), s, p);
            let s = b.sq(move |tx| groups::member_list(tx, gs));
            let p = b.pg(|c| pg::groups::member_list(c, gs));
            same(&format!("{what}: member_list"), s, p);
            let s = b.sq(move |tx| groups::member_count(tx, gs));
            let p = b.pg(|c| pg::groups::member_count(c, gs));
            same(&format!("{what}: member_count"), s, p);
        }
    };
    compare_groups(&mut b, &groups, "after adds");
    let version = |b: &mut Both, g: &GroupRow| -> i64 {
        let id = g.id.clone();
        let s = b.sq(move |tx| groups::find_by_id(tx, &id));
        let p = b.pg(|c| pg::groups::find_by_id(c, &g.id));
        same("version", s, p).unwrap().unwrap().version
    };
    let before: Vec<i64> = groups.clone().iter().map(|g| version(&mut b, g)).collect();

    // A member's title changes: no group moves. Its display name changes (user 31, in group
    // 0 only; user 3, shown by its userName, gets a displayName): their groups move.
    let update = |b: &mut Both, i: usize, k: &str, v: Value| {
        let old = b
            .pg(|c| pg::users::find_by_seq(c, rows[i].seq))
            .unwrap()
            .unwrap();
        let mut doc = old.doc.clone();
        doc.insert(k.into(), v);
        let (o2, d2) = (old.clone(), doc.clone());
        let s = b.sq(move |tx| {
            users::update(
                tx,
                &o2,
                o2.source.as_deref(),
                d2,
                "2026-05-01T00:00:00.000Z",
            )
        });
        let p = b.pg(|c| {
            pg::users::update(
                c,
                &old,
                old.source.as_deref(),
                doc,
                "2026-05-01T00:00:00.000Z",
            )
        });
        same("member update", s, p);
    };
    update(&mut b, 31, "title", json!("Captain"));
    let after: Vec<i64> = groups.clone().iter().map(|g| version(&mut b, g)).collect();
    assert_eq!(after, before, "a title is not a member's display");
    update(&mut b, 31, "displayName", json!("Renamed Ann"));
    update(&mut b, 3, "displayName", json!("Now Named"));
    let after: Vec<i64> = groups.clone().iter().map(|g| version(&mut b, g)).collect();
    assert_eq!(
        after,
        vec![
            before[0] + 2,
            before[1],
            before[2] + 1,
            before[3],
            before[4]
        ]
    );
    compare_groups(&mut b, &groups, "after renames");
    // A member deleted: its groups move and it leaves their lists.
    let seq = rows[52].seq;
    same(
        "delete member",
        b.sq(move |tx| users::delete(tx, seq)),
        b.pg(|c| pg::users::delete(c, seq)),
    );
    let after2: Vec<i64> = groups.clone().iter().map(|g| version(&mut b, g)).collect();
    assert_eq!(
        after2,
        vec![after[0] + 1, after[1] + 1, after[2], after[3], after[4]]
    );
    compare_groups(&mut b, &groups, "after delete");

    // Touch, groups of users in each scope.
    let g2 = groups[2].clone();
    let g2b = g2.clone();
    let s = b.sq(move |tx| groups::touch(tx, &g2b, Some("i1"), "2026-06-01T00:00:00.000Z"));
    let p = b.pg(|c| pg::groups::touch(c, &g2, Some("i1"), "2026-06-01T00:00:00.000Z"));
    groups[2] = same("touch", s, p).unwrap();
    let page: Vec<i64> = rows[0..60].iter().map(|r| r.seq).chain([999_999]).collect();
    for scope in [
        Scope::All,
        Scope::Source("i1".into()),
        Scope::Source("i2".into()),
        Scope::SourceOrManual("i2".into()),
    ] {
        let (p2, sc) = (page.clone(), scope.clone());
        let s = b.sq(move |tx| groups::groups_of_users(tx, &p2, &sc));
        let p = b.pg(|c| pg::groups::groups_of_users(c, &page, &scope));
        same(&format!("groups_of_users {scope:?}"), s, p);
        let sc = scope.clone();
        let s = b.sq(move |tx| groups::groups_of_users(tx, &[], &sc));
        same(
            "no users",
            s,
            b.pg(|c| pg::groups::groups_of_users(c, &[], &scope)),
        );
        for i in [1usize, 3, 31, 51, 120] {
            let (seq, sc) = (rows[i].seq, scope.clone());
            let s = b.sq(move |tx| groups::groups_of_user(tx, seq, &sc));
            let p = b.pg(|c| pg::groups::groups_of_user(c, seq, &scope));
            same(&format!("groups_of_user {i} {scope:?}"), s, p);
        }
    }
    for (text, offset, limit) in [
        ("", 0, 10),
        ("e", 1, 2),
        ("STRASSE", 0, 5),
        ("zzz", 0, 5),
        ("", 3, 10),
    ] {
        let t = text.to_owned();
        let s = b.sq(move |tx| groups::search(tx, &t, offset, limit));
        let p = b.pg(|c| pg::groups::search(c, text, offset, limit));
        same(&format!("group search {text:?}"), s, p);
    }

    // Claims, recorded, replaced, read one by one and together.
    let (u0, u1, g0) = (rows[0].seq, rows[1].seq, groups[0].seq);
    for (kind, seq, iid, name, at) in [
        (Kind::User, u0, "i1", "Okta", "2026-07-01T00:00:00.000Z"),
        (Kind::User, u1, "i1", "Okta", "2026-07-02T00:00:00.000Z"),
        (Kind::User, u0, "i2", "Entra", "2026-07-03T00:00:00.000Z"),
        (Kind::Group, g0, "i2", "Entra", "2026-07-04T00:00:00.000Z"),
    ] {
        let s = b.sq(move |tx| provenance::record_claim(tx, kind, seq, iid, name, at));
        let p = b.pg(|c| pg::provenance::record_claim(c, kind, seq, iid, name, at));
        same("record_claim", s, p);
    }
    for (kind, seq) in [
        (Kind::User, u0),
        (Kind::User, u1),
        (Kind::User, rows[2].seq),
        (Kind::Group, g0),
    ] {
        let s = b.sq(move |tx| provenance::claim(tx, kind, seq));
        let p = b.pg(|c| pg::provenance::claim(c, kind, seq));
        same("claim", s, p);
    }
    for (kind, seqs) in [
        (Kind::User, vec![u1, rows[2].seq, u0, u1]),
        (Kind::Group, vec![g0, groups[1].seq]),
        (Kind::User, vec![]),
    ] {
        let s2 = seqs.clone();
        let s = b.sq(move |tx| provenance::claims(tx, kind, &s2));
        let p = b.pg(|c| pg::provenance::claims(c, kind, &seqs));
        same("claims", s, p);
    }
    for id in ["i1", "i2", "nope"] {
        let s = b.sq(move |tx| provenance::integration_name(tx, id));
        let p = b.pg(|c| pg::provenance::integration_name(c, id));
        same("integration_name", s, p);
    }

    // Clearing and deleting groups.
    let gs = groups[0].seq;
    let s = b.sq(move |tx| groups::clear_members(tx, gs));
    // Users 0..60, less user 52 (deleted).
    assert_eq!(
        same("clear", s, b.pg(|c| pg::groups::clear_members(c, gs))),
        Some(59)
    );
    let gs = groups[4].seq;
    same(
        "delete group",
        b.sq(move |tx| groups::delete(tx, gs)),
        b.pg(|c| pg::groups::delete(c, gs)),
    );
    compare_groups(&mut b, &groups, "after clear and delete");
}

/// What a page says, engine-neutral: ids in order, total, whether more follow, the position.
type Summary = (Vec<String>, u64, bool, Option<(SqlValue, i64)>);

fn summary<T>(p: ListPage<T>, id: impl Fn(&T) -> String) -> Summary {
    (p.rows.iter().map(id).collect(), p.total, p.more, p.last)
}

fn compiled(
    d: Dialect,
    map: &'static scimgate::store::filter_sql::TableMap,
    filter: Option<&Filter>,
    sort: Option<&(scimgate::scim::filter::AttrPath, bool)>,
) -> Compiled {
    compile_in(d, map, LOCATION, filter, sort.map(|(p, d)| (p, *d))).unwrap()
}

/// Walks every page of a query by `startIndex` and by cursor on both engines, comparing page
/// by page; returns how many rows the walk saw.
fn walk(
    b: &mut Both,
    groups: bool,
    scope: &Scope,
    filter: Option<&Filter>,
    sort: Option<&(scimgate::scim::filter::AttrPath, bool)>,
    limit: u64,
) -> usize {
    let map = if groups { groups_map() } else { users_map() };
    let qs = compiled(Dialect::Sqlite, map, filter, sort);
    let qp = compiled(Dialect::Postgres, map, filter, sort);
    let what = format!("{filter:?} {sort:?} {scope:?} {limit}");
    let bool_sort = sort.is_some_and(|(p, _)| p.name == "active");
    // One page on each engine, each from its own paging; the pages compared. Returns the page
    // and PostgreSQL's own position (to resume its next cursor page from).
    let run = |b: &mut Both, ps: Paging, pp: Paging| -> (Summary, Option<(SqlValue, i64)>) {
        let (q, sc, pa) = (qs.clone(), scope.clone(), ps.clone());
        let s = if groups {
            b.sq(move |tx| {
                Ok(summary(groups::list(tx, &sc, &q, &pa, limit)?, |r| {
                    r.id.clone()
                }))
            })
        } else {
            b.sq(move |tx| {
                Ok(summary(users::list(tx, &sc, &q, &pa, limit)?, |r| {
                    r.id.clone()
                }))
            })
        };
        let p = if groups {
            b.pg(|c| {
                Ok(summary(pg::groups::list(c, scope, &qp, &pp, limit)?, |r| {
                    r.id.clone()
                }))
            })
        } else {
            b.pg(|c| {
                Ok(summary(pg::users::list(c, scope, &qp, &pp, limit)?, |r| {
                    r.id.clone()
                }))
            })
        };
        let own = p.as_ref().ok().and_then(|p| p.3.clone());
        // A boolean sort key is the JSON text on PostgreSQL (`true`/`false`, ordered as
        // SQLite's 1/0): the one place where the positions' keys differ in type.
        let p = p.map(|(ids, total, more, last)| {
            let last = last.map(|(k, seq)| match k {
                SqlValue::Text(t) if bool_sort && (t == "true" || t == "false") => {
                    (SqlValue::Integer(i64::from(t == "true")), seq)
                }
                k => (k, seq),
            });
            (ids, total, more, last)
        });
        (same(&format!("{what} {ps:?}"), s, p).unwrap(), own)
    };
    // By offset, and by cursor (with and without the first page's total carried).
    let mut seen = 0;
    let mut offset = 0;
    loop {
        let (page, _) = run(b, Paging::Offset(offset), Paging::Offset(offset));
        offset += page.0.len() as u64;
        seen += page.0.len();
        if !page.2 || limit == 0 {
            break;
        }
    }
    let (mut after_s, mut after_p) = (None, None);
    let mut carried = None;
    let mut cursor_seen = 0;
    loop {
        let (page, own) = run(
            b,
            Paging::After(after_s.clone()),
            Paging::After(after_p.clone()),
        );
        cursor_seen += page.0.len();
        carried = carried.or(Some(page.1));
        match (page.2, page.3, own) {
            (true, Some((key, seq)), Some((pkey, pseq))) if limit > 0 => {
                let total = if cursor_seen % 2 == 0 { carried } else { None };
                after_s = Some(Position { key, seq, total });
                after_p = Some(Position {
                    key: pkey,
                    seq: pseq,
                    total,
                });
            }
            _ => break,
        }
    }
    if limit > 0 {
        assert_eq!(seen, cursor_seen, "{what}");
    }
    seen
}

/// List pages agree: filters (indexed columns, JSON paths, value paths, dates, folding),
/// sorts (folded columns, nullable, multi-valued, descending), scopes, page sizes.
#[test]
fn list_pages_agree() {
    let Some(mut b) = Both::new("repos_lists") else {
        return;
    };
    add_integrations(&mut b);
    let rows = insert_users(&mut b);
    // A few groups with members, for `members` and `groups` filters.
    for (i, name) in ["Alpha", "beta", "Gamma", "delta"].iter().enumerate() {
        let doc = group_doc(json!({"displayName": name}));
        let (id, src) = (format!("g-{i}"), source_of(i));
        let d = doc.clone();
        let i2 = id.clone();
        let s = b.sq(move |tx| groups::insert(tx, &i2, src, &now(i), &d));
        let p = b.pg(|c| pg::groups::insert(c, &id, src, &now(i), &doc));
        let g = same("group", s, p).unwrap();
        let m: Vec<i64> = rows.iter().skip(i).step_by(5).map(|r| r.seq).collect();
        let m2 = m.clone();
        let s = b.sq(move |tx| groups::add_members(tx, g.seq, &m2));
        same(
            "members",
            s,
            b.pg(|c| pg::groups::add_members(c, g.seq, &m)),
        );
    }
    let filters: Vec<Option<Filter>> = [
        None,
        Some(r#"userName sw "USER1""#),
        Some(r#"userName eq "user042@example.test""#),
        Some(r#"emails.value co "MAIL1""#),
        Some(r#"emails[type eq "work" and value ew ".test"]"#),
        Some(r#"active eq false or title eq "ENGINEER""#),
        Some(r#"displayName pr and not (name.familyName sw "s")"#),
        Some(r#"meta.created gt "2026-02-10T00:00:00Z""#),
        Some(r#"externalId eq "ext-6" or aliases pr"#),
        Some(r#"groups.value eq "g-1""#),
        Some(r#"title gt "M""#),
    ]
    .into_iter()
    .map(|f| f.map(|t| parse_filter(t).unwrap()))
    .collect();
    let path = |t: &str| match parse_filter(&format!("{t} pr")).unwrap() {
        Filter::Present(p) => p,
        other => panic!("{other:?}"),
    };
    let sorts: Vec<Option<(scimgate::scim::filter::AttrPath, bool)>> = vec![
        None,
        Some((path("userName"), false)),
        Some((path("userName"), true)),
        Some((path("displayName"), false)),
        Some((path("displayName"), true)),
        Some((path("title"), true)),
        Some((path("emails"), false)),
        Some((path("name.familyName"), false)),
        Some((path("meta.lastModified"), true)),
        Some((path("active"), false)),
        Some((path("externalId"), true)),
    ];
    let mut total = 0;
    for (fi, f) in filters.iter().enumerate() {
        for (si, s) in sorts.iter().enumerate() {
            // Every filter unsorted and sorted by userName; every sort unfiltered and with
            // one filter; scopes and page sizes rotate.
            if !(si <= 1 || fi == 0 || (fi + si) % 4 == 0) {
                continue;
            }
            let scope = match (fi + si) % 4 {
                0 => Scope::All,
                1 => Scope::Source("i1".into()),
                2 => Scope::SourceOrManual("i2".into()),
                _ => Scope::Source("i2".into()),
            };
            let limit = [7u64, 50, 1, 13][(fi * 3 + si) % 4];
            total += walk(&mut b, false, &scope, f.as_ref(), s.as_ref(), limit);
        }
    }
    assert!(total > 2000, "the walks saw only {total} rows");
    // `count=0` asks for the total alone.
    walk(&mut b, false, &Scope::All, filters[3].as_ref(), None, 0);
    // Groups: filters on members and names, sorts, scopes.
    for f in [
        None,
        Some(r#"members.value eq "u-0006""#),
        Some(r#"displayName sw "A" or displayName eq "DELTA""#),
    ] {
        let f = f.map(|t| parse_filter(t).unwrap());
        for s in [None, Some((path("displayName"), true))] {
            for scope in [Scope::All, Scope::SourceOrManual("i1".into())] {
                walk(&mut b, true, &scope, f.as_ref(), s.as_ref(), 1);
            }
        }
    }
}

/// A displayName taken by a concurrent writer after `insert` looked (the other transaction not
/// yet committed) is refused by the unique index, and that refusal is the same `Conflict` as
/// the look-up's.
#[test]
fn a_concurrent_group_name_is_a_conflict() {
    let Some(db) = postgres::database("repos_race") else {
        return;
    };
    let mut a = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    pg::migrate(&mut a).unwrap();
    let doc = group_doc(json!({"displayName": "Night Shift"}));
    let mut ta = a.transaction().unwrap();
    pg::groups::insert(&mut ta, "g-a", None, "t", &doc).unwrap();
    let url = db.url.clone();
    let other = std::thread::spawn(move || {
        let mut b = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        let mut tb = b.transaction().unwrap();
        // Does not see A's row; waits on the unique index until A commits.
        let doc = group_doc(json!({"displayName": "NIGHT shift"}));
        pg::groups::insert(&mut tb, "g-b", None, "t", &doc)
    });
    // Let B reach the index (it blocks there) before A commits.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut watch = ::postgres::Client::connect(&db.url, ::postgres::NoTls).unwrap();
    loop {
        let waiting: i64 = watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "B never waited");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ta.commit().unwrap();
    match other.join().unwrap() {
        Err(StoreError::Conflict { attribute, value }) => {
            assert_eq!((attribute, value.as_str()), ("displayName", "NIGHT shift"));
        }
        other => panic!("{other:?}"),
    }
}
