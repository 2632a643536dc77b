//! The PostgreSQL repositories of the appliance's own tables (integrations, admins and
//! sessions, outbox, activity, enrollment, verifier keys, sealed secrets) against SQLite's:
//! each call runs on both engines, from the same starting rows, and the answers (rows, counts,
//! `Conflict` and `NotFound`) must be equal. Then what only several appliances on one
//! PostgreSQL need (issue 18 item 4), with two connections standing for two nodes: the outbox
//! claim (no message taken by both; a dead node's claim taken again after its lease), a
//! session made on one node found on the other, and the scheduled-work lock held by one at a
//! time.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use rusqlite::Connection;
use serde_json::json;

use super::test_cluster::{self, TestDb};
use crate::scim::{resource, schema};
use crate::store::activity::{ActivityFilter, ActivityRow, Resource};
use crate::store::admins::NewSession;
use crate::store::integrations::IntegrationRow;
use crate::store::secrets::Slot;
use crate::store::users::NewUser;
use crate::store::verifier_keys::VerifierKeyRow;
use crate::store::{StoreError, Tx};

/// The two engines, migrated and empty.
struct Both {
    sqlite: Connection,
    pg: postgres::Client,
    db: TestDb,
}

impl Both {
    fn new(label: &str) -> Option<Both> {
        let db = test_cluster::database(label)?;
        let mut pg = connect(&db);
        super::migrate(&mut pg).unwrap();
        let mut sqlite = Connection::open_in_memory().unwrap();
        crate::store::migrations::migrate(&mut sqlite).unwrap();
        Some(Both { sqlite, pg, db })
    }

    /// A user with an email on both engines; returns its `seq` (the same on both).
    fn user(&mut self, id: &str, source: Option<&str>) -> i64 {
        let doc = resource::normalize(
            schema::user(),
            &json!({"userName": format!("{id}@example.test"), "emails": [{"value": format!("{id}@mail.test")}]}),
        )
        .unwrap();
        let u = || NewUser {
            id,
            source,
            now: T0,
            doc: &doc,
        };
        let s = crate::store::users::insert(&mut Tx::sqlite(&self.sqlite), u()).unwrap();
        let p = super::users::insert(&mut self.pg, u()).unwrap();
        assert_eq!(s.seq, p.seq);
        s.seq
    }
}

fn connect(db: &TestDb) -> postgres::Client {
    postgres::Client::connect(&db.url, postgres::NoTls).unwrap()
}

const T0: &str = "2026-01-01T00:00:00.000Z";
const T1: &str = "2026-01-01T00:01:00.000Z";
const T2: &str = "2026-01-01T00:02:00.000Z";
const T3: &str = "2026-01-01T00:03:00.000Z";

/// Runs `store::M::F(tx, args…)` on SQLite and `store::pg::M::F(client, args…)` on
/// PostgreSQL, asserts the answers are equal (errors compared by their message: `Conflict`
/// and `NotFound` read the same on both engines) and returns SQLite's.
macro_rules! same {
    ($b:expr, $m:ident :: $f:ident ( $($a:expr),* $(,)? )) => {{
        let s = crate::store::$m::$f(&mut Tx::sqlite(&$b.sqlite) $(, $a)*)
            .map_err(|e: StoreError| e.to_string());
        let p = crate::store::pg::$m::$f(&mut $b.pg $(, $a)*).map_err(|e| e.to_string());
        assert_eq!(s, p, concat!(stringify!($m), "::", stringify!($f), "(", stringify!($($a),*), ")"));
        s
    }};
}

/// [`same!`] for a call whose answer the test does not look at further.
macro_rules! check {
    ($($t:tt)*) => {
        let _ = same!($($t)*);
    };
}

fn integration(id: &str, name: &str) -> IntegrationRow {
    IntegrationRow {
        id: id.into(),
        name: name.into(),
        kind: "scim2".into(),
        token_digest: vec![id.as_bytes()[0]; 32],
        send_enrollment_emails: true,
        include_manual: false,
        read_all_users: false,
        created: T0.into(),
        token_created: T0.into(),
        token_last_used: None,
        previous_token_digest: None,
        previous_token_until: None,
        token_lifetime_days: Some(90),
        group_patch_answer: "no_content".into(),
    }
}

#[test]
fn pg_integrations_answer_as_sqlite() {
    let Some(mut b) = Both::new("appliance_integrations") else {
        return;
    };
    check!(b, integrations::insert(&integration("okta", "Okta")));
    check!(b, integrations::insert(&integration("entra", "Entra ID")));
    let dup = same!(b, integrations::insert(&integration("okta2", "OKTA")));
    assert_eq!(dup, Err("name 'Okta' is already taken".to_owned()));
    b.user("ann", Some("okta"));
    b.user("bob", Some("okta"));
    b.user("cid", None);
    assert_eq!(
        same!(b, integrations::find(&"okta")).unwrap().unwrap().name,
        "Okta"
    );
    check!(b, integrations::find(&"nobody"));
    assert_eq!(same!(b, integrations::list()).unwrap().len(), 2);
    check!(b, integrations::find_by_name(&"entra id"));
    check!(b, integrations::touch(&"okta", &T1));
    check!(
        b,
        integrations::update_settings(&"okta", false, true, true, &"resource")
    );
    let missing = same!(
        b,
        integrations::update_settings(&"x", false, true, true, &"resource")
    );
    assert_eq!(missing, Err("not found".to_owned()));
    check!(
        b,
        integrations::replace_token(&"okta", &[7u8; 32], &T2, Some(T3))
    );
    check!(
        b,
        integrations::replace_token(&"entra", &[8u8; 32], &T2, None)
    );
    check!(b, integrations::replace_token(&"x", &[8u8; 32], &T2, None));
    check!(b, integrations::set_token_lifetime(&"okta", None));
    check!(b, integrations::set_token_lifetime(&"x", Some(1)));
    check!(b, integrations::list());
    assert_eq!(
        same!(b, integrations::user_counts()).unwrap(),
        vec![("okta".to_owned(), 2)]
    );
    check!(b, integrations::group_counts());
    for groups in [false, true] {
        let mut s =
            crate::store::integrations::owned_counts(&mut Tx::sqlite(&b.sqlite), groups).unwrap();
        let mut p = super::integrations::owned_counts(&mut b.pg, groups).unwrap();
        s.sort();
        p.sort();
        assert_eq!(s, p);
    }
    assert_eq!(same!(b, integrations::delete(&"okta")), Ok(2));
    check!(b, integrations::delete(&"okta"));
    // The users stay, manual now.
    check!(b, integrations::user_counts());
    let manual: i64 =
        b.pg.query_one("SELECT count(*) FROM users WHERE source IS NULL", &[])
            .unwrap()
            .get(0);
    assert_eq!(manual, 3);
}

#[test]
fn pg_admins_sessions_and_setup_link_answer_as_sqlite() {
    let Some(mut b) = Both::new("appliance_admins") else {
        return;
    };
    check!(b, admins::count());
    let id = same!(b, admins::insert(&"Ann", &"$argon2id$x", &T0)).unwrap();
    assert_eq!(
        same!(b, admins::insert(&"ANN", &"$argon2id$y", &T0)),
        Err("username 'ANN' is already taken".to_owned())
    );
    check!(b, admins::insert(&"Bo", &"$argon2id$z", &T0));
    check!(b, admins::find_by_username(&"ann"));
    check!(b, admins::find_by_username(&"nobody"));
    check!(b, admins::record_sign_in(id, &T1));
    check!(b, admins::list());
    let session = |digest: &'static [u8], pending| NewSession {
        digest,
        admin_id: id,
        csrf: "csrf",
        now: T1,
        expires: T3,
        pending,
    };
    check!(b, admins::insert_session(session(b"s1", true)));
    check!(b, admins::insert_session(session(b"s2", false)));
    check!(b, admins::touch_session(&b"s1".as_slice(), &T2));
    assert!(
        same!(b, admins::find_session(&b"s1".as_slice()))
            .unwrap()
            .unwrap()
            .pending
    );
    check!(b, admins::find_session(&b"nope".as_slice()));
    check!(b, admins::delete_session(&b"s2".as_slice()));
    check!(b, admins::insert_session(session(b"s3", false)));
    // s1 was seen at T2, s3 at T1: idle before T1 ends s3 only; then expiry ends s1.
    assert_eq!(same!(b, admins::delete_expired_sessions(&T2, &T1)), Ok(1));
    assert_eq!(same!(b, admins::delete_expired_sessions(&T3, &T0)), Ok(1));
    check!(b, admins::insert_session(session(b"s4", false)));
    assert_eq!(same!(b, admins::delete_sessions_of(id)), Ok(1));

    check!(b, admins::put_setup_link(&b"link1".as_slice(), &T2));
    check!(b, admins::put_setup_link(&b"link2".as_slice(), &T3));
    assert_eq!(
        same!(b, admins::find_setup_link(&b"link1".as_slice())),
        Ok(None)
    );
    assert_eq!(
        same!(b, admins::find_setup_link(&b"link2".as_slice())),
        Ok(Some(T3.to_owned()))
    );
    check!(b, admins::delete_setup_links());
    check!(b, admins::find_setup_link(&b"link2".as_slice()));

    // The second factor, as `store::admins`' own test walks it.
    assert_eq!(same!(b, admins::advance_step(id, 5)), Ok(false));
    let digests = vec!["d1".to_owned(), "d2".to_owned()];
    check!(
        b,
        admins::set_second_factor(id, &"SECRET", 10, &T1, &digests)
    );
    check!(b, admins::second_factor(id));
    check!(b, admins::second_factor(999));
    assert_eq!(same!(b, admins::advance_step(id, 10)), Ok(false));
    assert_eq!(same!(b, admins::advance_step(id, 11)), Ok(true));
    let codes = same!(b, admins::recovery_codes(id)).unwrap();
    assert_eq!(same!(b, admins::use_recovery_code(codes[0].0)), Ok(true));
    assert_eq!(same!(b, admins::use_recovery_code(codes[0].0)), Ok(false));
    check!(
        b,
        admins::replace_recovery_codes(id, &["d3".to_owned()], &T2)
    );
    // Row ids are opaque: SQLite reuses the largest deleted one, PostgreSQL's identity never
    // gives a number twice. The digests are the same.
    let s = crate::store::admins::recovery_codes(&mut Tx::sqlite(&b.sqlite), id).unwrap();
    let p = super::admins::recovery_codes(&mut b.pg, id).unwrap();
    let digests = |v: &[(i64, String)]| v.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>();
    assert_eq!(digests(&s), vec!["d3".to_owned()]);
    assert_eq!(digests(&s), digests(&p));
    check!(b, admins::list());
    assert_eq!(same!(b, admins::clear_second_factor(id)), Ok((true, 1)));
    assert_eq!(same!(b, admins::clear_second_factor(id)), Ok((false, 0)));
    check!(b, admins::count());
}

#[test]
fn pg_a_session_made_on_one_node_holds_on_the_other() {
    let Some(b) = Both::new("appliance_session_nodes") else {
        return;
    };
    let (mut a, mut other) = (b.pg, connect(&b.db));
    let id = super::admins::insert(&mut a, "ann", "$argon2id$x", T0).unwrap();
    super::admins::insert_session(
        &mut a,
        NewSession {
            digest: b"cookie",
            admin_id: id,
            csrf: "t",
            now: T0,
            expires: T3,
            pending: false,
        },
    )
    .unwrap();
    super::admins::put_setup_link(&mut a, b"setup", T3).unwrap();
    let s = super::admins::find_session(&mut other, b"cookie")
        .unwrap()
        .unwrap();
    assert_eq!((s.admin_id, s.username.as_str()), (id, "ann"));
    assert_eq!(
        super::admins::find_setup_link(&mut other, b"setup").unwrap(),
        Some(T3.to_owned())
    );
    super::admins::delete_session(&mut other, b"cookie").unwrap();
    assert!(
        super::admins::find_session(&mut a, b"cookie")
            .unwrap()
            .is_none()
    );
}

#[test]
fn pg_outbox_answers_as_sqlite() {
    let Some(mut b) = Both::new("appliance_outbox") else {
        return;
    };
    let ann = b.user("ann", None);
    let bob = b.user("bob", None);
    let m1 = same!(
        b,
        outbox::insert(&"enrollment", Some(ann), &"ann@mail.test", &T0)
    )
    .unwrap();
    let m2 = same!(
        b,
        outbox::insert(&"enrollment", Some(bob), &"bob@mail.test", &T1)
    )
    .unwrap();
    let m3 = same!(b, outbox::insert(&"test", None, &"ops@mail.test", &T1)).unwrap();
    assert_eq!(same!(b, outbox::due(&T0, 10)).unwrap().len(), 1);
    assert_eq!(same!(b, outbox::due(&T1, 2)).unwrap().len(), 2);
    assert_eq!(
        same!(b, outbox::find(m1))
            .unwrap()
            .unwrap()
            .user_id
            .as_deref(),
        Some("ann")
    );
    check!(b, outbox::find(999));
    check!(b, outbox::mark_sent(m1, &T2));
    check!(b, outbox::mark_retry(m2, &T3, &"421 try later"));
    check!(b, outbox::mark_failed(m3, &"550 no such user"));
    check!(b, outbox::mark_sent(m3, &T2)); // not pending: nothing changes
    check!(b, outbox::due(&T2, 10));
    check!(b, outbox::due(&T3, 10));
    check!(b, outbox::list(None, 10));
    check!(b, outbox::list(Some("failed"), 10));
    check!(b, outbox::list(None, 1));
    check!(b, outbox::of_user(ann));
    check!(b, outbox::counts());
    check!(b, outbox::stats());
    assert_eq!(same!(b, outbox::requeue(m3, &T2)), Ok(true));
    assert_eq!(same!(b, outbox::requeue(m1, &T2)), Ok(false));
    check!(
        b,
        outbox::insert(&"enrollment", Some(bob), &"bob@mail.test", &T2)
    );
    assert_eq!(same!(b, outbox::cancel_pending_of_user(bob)), Ok(2));
    check!(b, outbox::list(None, 10));
    check!(b, outbox::counts());
    check!(b, outbox::stats());
}

fn activity(at: &str, integration: Option<&str>, path: &str, status: i64) -> ActivityRow {
    ActivityRow {
        seq: 0,
        at: at.into(),
        integration_id: integration.map(str::to_owned),
        integration_name: integration.map(str::to_uppercase),
        method: "GET".into(),
        path: path.into(),
        status,
        latency_ms: 3,
        summary: format!("{status} {path}"),
        user_id: path.strip_prefix("/Users/").map(str::to_owned),
        body: Some("{\"a\":1}".into()),
        body_bytes: Some(7),
        body_note: None,
        client: Some("10.0.0.1".into()),
        refused: None,
    }
}

#[test]
fn pg_activity_answers_as_sqlite() {
    let Some(mut b) = Both::new("appliance_activity") else {
        return;
    };
    let rows = [
        activity(T0, Some("okta"), "/Users", 201),
        activity(T0, Some("okta"), "/users/u1", 404),
        activity(T1, Some("entra"), "/Groups?filter=x", 200),
        activity(T1, None, "/ServiceProviderConfig", 401),
        activity(T2, Some("entra"), "/Users/u1", 500),
        activity(T2, Some("okta"), "/Bulk", 200),
        activity(T3, None, "/UsersX", 200),
    ];
    for r in &rows {
        check!(b, activity::insert(r));
    }
    let mut refused = activity(T3, None, "/Users", 401);
    refused.refused = Some(1);
    let seq = same!(b, activity::insert(&refused)).unwrap();
    assert_eq!(
        same!(b, activity::update_refused(seq, 5, 429, &"5 refused")),
        Ok(true)
    );
    assert_eq!(
        same!(b, activity::update_refused(1, 5, 429, &"x")),
        Ok(false)
    );
    let filters = [
        ActivityFilter::default(),
        ActivityFilter {
            integration_id: Some("okta".into()),
            ..Default::default()
        },
        ActivityFilter {
            user_id: Some("u1".into()),
            errors_only: true,
            ..Default::default()
        },
        ActivityFilter {
            status_class: Some(2),
            ..Default::default()
        },
        ActivityFilter {
            resource: Some(Resource::Users),
            ..Default::default()
        },
        ActivityFilter {
            resource: Some(Resource::Groups),
            status_class: Some(2),
            ..Default::default()
        },
        ActivityFilter {
            resource: Some(Resource::Other),
            integration_id: Some("okta".into()),
            ..Default::default()
        },
    ];
    for f in &filters {
        let (total, page) = same!(b, activity::list(f, 0, 50)).unwrap();
        assert_eq!(total as usize, page.len(), "{f:?}");
        check!(b, activity::list(f, 1, 2));
    }
    assert_eq!(
        same!(b, activity::list(&filters[4], 0, 50)).unwrap().0,
        4,
        "/Users, /users/u1, /Users/u1 and the refused row; not /UsersX"
    );
    assert!(same!(b, activity::get(2)).unwrap().unwrap().body.is_some());
    check!(b, activity::get(999));
    let mut s = crate::store::activity::latest_per_integration(&mut Tx::sqlite(&b.sqlite)).unwrap();
    let mut p = super::activity::latest_per_integration(&mut b.pg).unwrap();
    s.sort();
    p.sort();
    assert_eq!(s, p);
    // 8 rows: the 2 before T1 go, then all but the newest 3 of the 6 left.
    assert_eq!(same!(b, activity::prune(&T1, 3)), Ok(5));
    assert_eq!(same!(b, activity::prune(&T0, 3)), Ok(0));
    check!(b, activity::list(&filters[0], 0, 50));
    assert_eq!(same!(b, activity::prune(&T0, 0)), Ok(3));
}

#[test]
fn pg_activity_pruning_keeps_the_newest_rows_across_identity_gaps() {
    let Some(mut b) = Both::new("appliance_prune_gaps") else {
        return;
    };
    for _ in 0..3 {
        super::activity::insert(&mut b.pg, &activity(T1, None, "/Users", 200)).unwrap();
    }
    // A rolled-back insert (a failed request's transaction) uses an identity number.
    let mut tx = b.pg.transaction().unwrap();
    super::activity::insert(&mut tx, &activity(T1, None, "/Users", 200)).unwrap();
    tx.rollback().unwrap();
    for _ in 0..2 {
        super::activity::insert(&mut b.pg, &activity(T1, None, "/Users", 200)).unwrap();
    }
    assert_eq!(super::activity::prune(&mut b.pg, T0, 3).unwrap(), 2);
    let (total, _) = super::activity::list(&mut b.pg, &ActivityFilter::default(), 0, 10).unwrap();
    assert_eq!(total, 3);
}

#[test]
fn pg_enrollment_answers_as_sqlite() {
    let Some(mut b) = Both::new("appliance_enrollment") else {
        return;
    };
    let ann = b.user("ann", None);
    let bob = b.user("bob", None);
    check!(b, enrollment::issue(ann, &b"one".as_slice(), &T2, &T0));
    check!(b, enrollment::set_pending_secret(ann, &"v1:pending"));
    assert!(
        same!(b, enrollment::find(&b"one".as_slice()))
            .unwrap()
            .unwrap()
            .pending_secret
            .is_some()
    );
    // A new link replaces the old one and its pending secret.
    check!(b, enrollment::issue(ann, &b"two".as_slice(), &T3, &T1));
    assert_eq!(same!(b, enrollment::find(&b"one".as_slice())), Ok(None));
    check!(b, enrollment::find(&b"two".as_slice()));
    check!(b, enrollment::issue(bob, &b"three".as_slice(), &T3, &T1));
    assert_eq!(same!(b, enrollment::revoke(ann)), Ok(true));
    assert_eq!(same!(b, enrollment::revoke(ann)), Ok(false));
    check!(b, enrollment::authenticator(ann));
    check!(b, enrollment::register(ann, &"v1:secret", &T1));
    check!(b, enrollment::mark_step(ann, 42));
    check!(b, enrollment::authenticator(ann));
    check!(b, enrollment::record_failure(ann, 3, Some(T3)));
    check!(b, enrollment::authenticator_state(ann));
    check!(b, enrollment::record_success(ann, 43));
    check!(b, enrollment::authenticator_state(ann));
    check!(b, enrollment::record_failure(ann, 2, None));
    // Registering again replaces the authenticator: no step, no failures, no lock.
    check!(b, enrollment::record_failure(ann, 5, Some(T3)));
    check!(b, enrollment::register(ann, &"v1:other", &T2));
    let state = same!(b, enrollment::authenticator_state(ann))
        .unwrap()
        .unwrap();
    assert_eq!(
        (state.last_step, state.failures, state.locked_until),
        (0, 0, None)
    );
    check!(b, enrollment::authenticator_state(bob));
    check!(b, enrollment::mark_step(bob, u64::MAX));
}

#[test]
fn pg_verifier_keys_answer_as_sqlite() {
    let Some(mut b) = Both::new("appliance_verifier_keys") else {
        return;
    };
    let key = |id: &str, name: &str| VerifierKeyRow {
        id: id.into(),
        name: name.into(),
        created_at: T0.into(),
        last_used_at: None,
        revoked_at: None,
    };
    check!(
        b,
        verifier_keys::insert(&key("a", "MFA"), &[1u8; 32].as_slice())
    );
    assert_eq!(
        same!(
            b,
            verifier_keys::insert(&key("b", "mfa"), &[2u8; 32].as_slice())
        ),
        Err("name 'MFA' is already taken".to_owned())
    );
    check!(
        b,
        verifier_keys::insert(&key("c", "Radius"), &[3u8; 32].as_slice())
    );
    check!(b, verifier_keys::find_by_digest(&[1u8; 32].as_slice()));
    check!(b, verifier_keys::find_by_name(&"radius"));
    check!(b, verifier_keys::touch(&"c", &T1));
    check!(b, verifier_keys::find(&"c"));
    check!(b, verifier_keys::revoke(&"a", &T2));
    check!(b, verifier_keys::revoke(&"a", &T2));
    check!(b, verifier_keys::find(&"a"));
    check!(b, verifier_keys::find_by_digest(&[1u8; 32].as_slice()));
    // The name of a revoked key can be reused.
    check!(
        b,
        verifier_keys::insert(&key("b", "mfa"), &[2u8; 32].as_slice())
    );
    assert_eq!(same!(b, verifier_keys::list_active()).unwrap().len(), 2);
}

#[test]
fn pg_secrets_answer_as_sqlite() {
    let Some(mut b) = Both::new("appliance_secrets") else {
        return;
    };
    check!(b, secrets::key_id());
    check!(b, secrets::set_key_id(&"k1", &T0));
    check!(b, secrets::set_key_id(&"k2", &T1));
    assert_eq!(same!(b, secrets::key_id()), Ok(Some("k2".to_owned())));
    let ann = b.user("ann", None);
    let bob = b.user("bob", None);
    check!(b, enrollment::register(ann, &"v1:a", &T0));
    check!(b, enrollment::issue(bob, &b"link".as_slice(), &T3, &T0));
    check!(b, enrollment::set_pending_secret(bob, &"v1:b"));
    let admin = same!(b, admins::insert(&"root", &"$argon2id$x", &T0)).unwrap();
    check!(b, admins::set_second_factor(admin, &"v1:c", 1, &T0, &[]));
    assert_eq!(same!(b, secrets::all()).unwrap().len(), 3);
    check!(b, secrets::replace(Slot::Authenticator, ann, &"v2:a"));
    check!(b, secrets::replace(Slot::PendingEnrollment, bob, &"v2:b"));
    check!(
        b,
        secrets::replace(Slot::AdminAuthenticator, admin, &"v2:c")
    );
    let all = same!(b, secrets::all()).unwrap();
    assert!(all.iter().all(|s| s.value.starts_with("v2:")), "{all:?}");
}

/// Two nodes drain one outbox: what each claims is disjoint, every message is claimed once,
/// a claim in progress (uncommitted) is skipped rather than waited for, a committed claim is
/// left alone until its lease runs out, and then another node takes the message.
#[test]
fn pg_two_nodes_never_claim_one_email_and_a_dead_nodes_claim_expires() {
    let Some(b) = Both::new("appliance_outbox_claim") else {
        return;
    };
    let (mut a, mut other) = (b.pg, connect(&b.db));
    for i in 0..40 {
        super::outbox::insert(&mut a, "test", None, &format!("r{i}@mail.test"), T0).unwrap();
    }

    // Node A's claim is still open (its transaction has not committed): node B skips its rows
    // without waiting and takes the next ones.
    let mut ta = a.transaction().unwrap();
    let by_a: Vec<i64> = super::outbox::claim(&mut ta, T1, T2, 5)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(by_a, (1..=5).collect::<Vec<_>>());
    let by_b: Vec<i64> = super::outbox::claim(&mut other, T1, T2, 5)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(by_b, (6..=10).collect::<Vec<_>>());
    ta.commit().unwrap();
    // Committed claims hold until their lease (T2) runs out: B takes neither A's rows nor its
    // own again, and `due` leaves them out too.
    let next: Vec<i64> = super::outbox::claim(&mut other, T1, T2, 10)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(next, (11..=20).collect::<Vec<_>>());
    assert_eq!(super::outbox::due(&mut other, T1, 100).unwrap().len(), 20);

    // A sends two of its messages and then dies; B sends all of its own.
    super::outbox::mark_sent(&mut a, 1, T1).unwrap();
    super::outbox::mark_retry(&mut a, 2, T1, "421 later").unwrap();
    drop(a);
    for id in by_b.iter().chain(&next) {
        super::outbox::mark_sent(&mut other, *id, T1).unwrap();
    }
    // Before the lease runs out, A's three unsent messages stay with it; message 2 was given
    // back by its retry and is due again.
    let early: Vec<i64> = super::outbox::claim(&mut other, T1, T3, 100)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    // Oldest due first: message 2 is due again from T1, the others since T0.
    assert_eq!(early, (21..=40).chain([2]).collect::<Vec<_>>());
    // At the lease's end, B takes them.
    let late: Vec<i64> = super::outbox::claim(&mut other, T2, T3, 100)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(late, vec![3, 4, 5]);
    // Recording ends a claim; a message marked sent is never claimed again.
    for id in [3, 4, 5] {
        super::outbox::mark_sent(&mut other, id, T2).unwrap();
    }
    assert!(
        super::outbox::claim(
            &mut other,
            "2027-01-01T00:00:00.000Z",
            "2027-01-01T00:05:00.000Z",
            100
        )
        .unwrap()
        .iter()
        .all(|r| r.id == 2 || r.id > 20)
    );
}

/// Two nodes draining at the same time, each in its own thread, claim-send-record in a loop:
/// every message is sent exactly once.
#[test]
fn pg_two_nodes_draining_at_once_send_each_email_once() {
    let Some(b) = Both::new("appliance_outbox_race") else {
        return;
    };
    let mut c = b.pg;
    for i in 0..300 {
        super::outbox::insert(&mut c, "test", None, &format!("r{i}@mail.test"), T0).unwrap();
    }
    let node = |url: String| {
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut sent = Vec::new();
            loop {
                let mut tx = c.transaction().unwrap();
                let claimed = super::outbox::claim(&mut tx, T1, T3, 7).unwrap();
                tx.commit().unwrap();
                if claimed.is_empty() {
                    return sent;
                }
                for r in claimed {
                    super::outbox::mark_sent(&mut c, r.id, T1).unwrap();
                    sent.push(r.id);
                }
            }
        })
    };
    let (x, y) = (node(b.db.url.clone()), node(b.db.url.clone()));
    let (x, y) = (x.join().unwrap(), y.join().unwrap());
    let xs: BTreeSet<i64> = x.iter().copied().collect();
    let ys: BTreeSet<i64> = y.iter().copied().collect();
    assert_eq!(xs.len(), x.len());
    assert_eq!(ys.len(), y.len());
    assert!(
        xs.is_disjoint(&ys),
        "{:?}",
        xs.intersection(&ys).collect::<Vec<_>>()
    );
    assert_eq!(xs.len() + ys.len(), 300);
    assert_eq!(super::outbox::counts(&mut c).unwrap(), (0, 300, 0));
}

/// The scheduled-work lock: held by one node's transaction at a time, per name, and free
/// again when that transaction ends.
#[test]
fn pg_scheduled_work_runs_on_one_node_at_a_time() {
    let Some(b) = Both::new("appliance_scheduled_lock") else {
        return;
    };
    let (mut a, mut other) = (b.pg, connect(&b.db));
    let mut ta = a.transaction().unwrap();
    assert!(super::activity::try_scheduled_lock(&mut ta, "activity retention").unwrap());
    // Taken again in the same transaction: it is this node's already.
    assert!(super::activity::try_scheduled_lock(&mut ta, "activity retention").unwrap());
    {
        let mut tb = other.transaction().unwrap();
        assert!(!super::activity::try_scheduled_lock(&mut tb, "activity retention").unwrap());
        assert!(super::activity::try_scheduled_lock(&mut tb, "backup").unwrap());
        tb.commit().unwrap();
    }
    ta.commit().unwrap();
    let mut tb = other.transaction().unwrap();
    assert!(super::activity::try_scheduled_lock(&mut tb, "activity retention").unwrap());
    // And now node A is the one refused.
    let mut ta = a.transaction().unwrap();
    assert!(!super::activity::try_scheduled_lock(&mut ta, "activity retention").unwrap());
    ta.rollback().unwrap();
    tb.rollback().unwrap();
}

/// Two nodes inserting the same name at once: the second's lookup cannot see the first's
/// uncommitted row, so its insert waits on the unique index and, when the first commits, is
/// refused there; that refusal is the same `Conflict` as the lookup's.
#[test]
fn pg_concurrent_inserts_of_one_name_give_one_conflict() {
    let Some(b) = Both::new("appliance_concurrent_names") else {
        return;
    };
    let mut a = b.pg;
    type Insert = fn(&mut postgres::Transaction<'_>, bool) -> Result<(), StoreError>;
    let cases: [(&str, Insert); 3] = [
        ("admin", |c, first| {
            let name = if first { "Ann" } else { "ANN" };
            super::admins::insert(c, name, "$argon2id$x", T0).map(|_| ())
        }),
        ("integration", |c, first| {
            let (id, name) = if first {
                ("i1", "Okta")
            } else {
                ("i2", "OKTA")
            };
            super::integrations::insert(c, &integration(id, name))
        }),
        ("verifier key", |c, first| {
            let (id, name, digest) = if first {
                ("k1", "MFA", [1u8; 32])
            } else {
                ("k2", "mfa", [2u8; 32])
            };
            let key = VerifierKeyRow {
                id: id.into(),
                name: name.into(),
                created_at: T0.into(),
                last_used_at: None,
                revoked_at: None,
            };
            super::verifier_keys::insert(c, &key, &digest)
        }),
    ];
    for (what, insert) in cases {
        let mut ta = a.transaction().unwrap();
        insert(&mut ta, true).unwrap();
        let url = b.db.url.clone();
        let second = std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let mut tb = c.transaction().unwrap();
            insert(&mut tb, false).map_err(|e| e.to_string())
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!second.is_finished(), "{what}: the second insert waits");
        ta.commit().unwrap();
        let refused = second.join().unwrap().unwrap_err();
        assert!(refused.ends_with("is already taken"), "{what}: {refused}");
    }
}
