//! Property tests of Bulk `bulkId` resolution (issue 14 item 5), black-box through `POST /Bulk`
//! (RFC 7644 §3.7.2), so that they hold for any resolver: on generated dependency graphs of
//! user and group creations and group PATCHes, where a group's members and a PATCH's target
//! name other operations by `bulkId` (forwards, backwards, itself, in cycles, or an id no
//! operation defines), the request terminates; every operation on or behind a cycle or a
//! missing or failed id is answered 409; every other one succeeds, and it ran after the
//! operations it refers to: each `bulkId:` reference was replaced by the id the referred
//! creation received, which exists only once that creation ran.
//! `SCIMGATE_PROPTEST_CASES` sets the number of cases.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

use crate::support::props::config;
use crate::support::*;

/// A reference from one operation to another's `bulkId`, or to one no operation defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ref {
    Op(usize),
    Missing,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `POST /Users` with bulkId `b<i>`: no references.
    User,
    /// `POST /Groups` with bulkId `b<i>` and these members.
    Group(Vec<Ref>),
    /// `PATCH /Groups/bulkId:<target>` adding these members.
    Patch(Ref, Vec<Ref>),
}

impl Kind {
    fn refs(&self) -> Vec<Ref> {
        match self {
            Kind::User => vec![],
            Kind::Group(m) => m.clone(),
            Kind::Patch(t, m) => std::iter::once(*t).chain(m.iter().copied()).collect(),
        }
    }
}

/// Up to eight operations; references point anywhere, so cycles and dangling ids are common.
/// A PATCH targets a group creation; without one it becomes a group creation itself.
fn graph() -> impl Strategy<Value = Vec<Kind>> {
    (1usize..=8).prop_flat_map(|n| {
        let reference = prop_oneof![10 => (0..n).prop_map(Ref::Op), 1 => Just(Ref::Missing)];
        let members = prop::collection::vec(reference.clone(), 0..3);
        let op = prop_oneof![
            1 => Just(0u8).prop_map(|_| (0u8, Ref::Missing, vec![])),
            2 => members.clone().prop_map(|m| (1u8, Ref::Missing, m)),
            1 => (reference, members).prop_map(|(t, m)| (2u8, t, m)),
        ];
        prop::collection::vec(op, n).prop_map(|ops| {
            let groups: Vec<usize> = ops
                .iter()
                .enumerate()
                .filter(|(_, (k, _, _))| *k == 1)
                .map(|(i, _)| i)
                .collect();
            ops.into_iter()
                .map(|(k, target, members)| match k {
                    0 => Kind::User,
                    2 if !groups.is_empty() => {
                        // Keep a missing target; otherwise aim at a group creation.
                        let t = match target {
                            Ref::Op(j) => Ref::Op(groups[j % groups.len()]),
                            Ref::Missing => Ref::Missing,
                        };
                        Kind::Patch(t, members)
                    }
                    _ => Kind::Group(members),
                })
                .collect()
        })
    })
}

/// How an operation ends, by the RFC and this directory's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// It ran and succeeded.
    Done,
    /// 409: a reference names no creation of this request, a failed one, or leads round a cycle
    /// (RFC 7644 §3.7.2); the operation never ran.
    Unresolved,
    /// 400: it ran, and was refused: a group member that is a group (this directory's groups
    /// hold users only).
    Refused,
}

/// How each operation must end.
fn expected(ops: &[Kind]) -> Vec<End> {
    fn end(i: usize, ops: &[Kind], memo: &mut [Option<End>], on_path: &mut [bool]) -> End {
        if let Some(e) = memo[i] {
            return e;
        }
        if on_path[i] {
            // `i` refers, through others, to itself.
            return End::Unresolved;
        }
        on_path[i] = true;
        let resolved = ops[i].refs().iter().all(|r| match r {
            Ref::Missing => false,
            Ref::Op(j) => {
                !matches!(ops[*j], Kind::Patch(..)) && end(*j, ops, memo, on_path) == End::Done
            }
        });
        on_path[i] = false;
        let members = match &ops[i] {
            Kind::User => &[][..],
            Kind::Group(m) | Kind::Patch(_, m) => &m[..],
        };
        let e = if !resolved {
            End::Unresolved
        } else if members
            .iter()
            .any(|r| matches!(r, Ref::Op(j) if matches!(ops[*j], Kind::Group(_))))
        {
            End::Refused
        } else {
            End::Done
        };
        // Final even when reached through a node still on the path: `i` then reaches a node
        // that reaches `i`, so `i` is on a cycle and is unresolved.
        memo[i] = Some(e);
        e
    }
    let mut memo = vec![None; ops.len()];
    let mut on_path = vec![false; ops.len()];
    (0..ops.len())
        .map(|i| end(i, ops, &mut memo, &mut on_path))
        .collect()
}

fn bulk_ref(case: u32, r: Ref) -> String {
    match r {
        Ref::Op(j) => format!("bulkId:c{case}b{j}"),
        Ref::Missing => format!("bulkId:c{case}missing"),
    }
}

fn request(case: u32, ops: &[Kind]) -> Value {
    let members = |m: &[Ref]| -> Vec<Value> {
        m.iter()
            .map(|r| json!({"value": bulk_ref(case, *r)}))
            .collect()
    };
    let operations: Vec<Value> = ops
        .iter()
        .enumerate()
        .map(|(i, k)| match k {
            Kind::User => json!({"method": "POST", "path": "/Users", "bulkId": format!("c{case}b{i}"),
                "data": okta_user(&format!("c{case}b{i}@example.com"))}),
            Kind::Group(m) => json!({"method": "POST", "path": "/Groups", "bulkId": format!("c{case}b{i}"),
                "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                         "displayName": format!("c{case}b{i}"), "members": members(m)}}),
            Kind::Patch(t, m) => json!({"method": "PATCH", "path": format!("/Groups/{}", bulk_ref(case, *t)),
                "data": {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": members(m)}]}}),
        })
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations})
}

#[test]
fn bulk_resolution_terminates_reports_cycles_and_respects_dependencies() {
    let system = actix_web::rt::System::new();
    let app = system.block_on(TestApp::spawn());
    let case = Cell::new(0u32);
    let seen = Cell::new((0u32, 0u32, 0u32));
    TestRunner::new(config(256))
        .run(&graph(), |ops| {
            case.set(case.get() + 1);
            let c = case.get();
            let want = expected(&ops);
            let (cyclic, refused, resolved) = seen.get();
            seen.set((
                cyclic + u32::from(has_cycle(&ops)),
                refused + u32::from(want.contains(&End::Refused)),
                resolved + u32::from(want.iter().filter(|e| **e == End::Done).count() > 1),
            ));
            system.block_on(async {
                let r = tokio::time::timeout(
                    Duration::from_secs(30),
                    app.post("/Bulk", &request(c, &ops)),
                )
                .await
                .map_err(|_| TestCaseError::fail(format!("Bulk did not terminate: {ops:?}")))?;
                prop_assert_eq!(r.status.as_u16(), 200, "{}", r.body);
                let results = r.body["Operations"].as_array().cloned().unwrap_or_default();
                prop_assert_eq!(results.len(), ops.len(), "{}", r.body);
                // Results of creations by bulkId; those of PATCHes in request order.
                let by_id: BTreeMap<String, &Value> = results
                    .iter()
                    .filter_map(|o| Some((o["bulkId"].as_str()?.to_owned(), o)))
                    .collect();
                let mut patches = results.iter().filter(|o| o["method"] == "PATCH");
                let mut created: BTreeMap<usize, String> = BTreeMap::new();
                for (i, k) in ops.iter().enumerate() {
                    let res = match k {
                        Kind::Patch(..) => patches.next(),
                        _ => by_id.get(&format!("c{c}b{i}")).copied(),
                    };
                    let res = res.ok_or_else(|| {
                        TestCaseError::fail(format!("no result for operation {i}: {}", r.body))
                    })?;
                    let status = res["status"].as_str().unwrap_or_default();
                    if want[i] == End::Done {
                        prop_assert!(
                            ["200", "201", "204"].contains(&status),
                            "operation {} of {:?} should succeed: {}",
                            i,
                            ops,
                            r.body
                        );
                        if !matches!(k, Kind::Patch(..)) {
                            let id = res["location"].as_str().and_then(|l| l.rsplit('/').next());
                            prop_assert!(id.is_some(), "no location: {}", r.body);
                            created.insert(i, id.unwrap_or_default().to_owned());
                        }
                    } else {
                        let code = if want[i] == End::Refused {
                            "400"
                        } else {
                            "409"
                        };
                        prop_assert_eq!(status, code, "operation {} of {:?}: {}", i, ops, r.body);
                    }
                }
                // Each successful group holds the ids its creation and its successful PATCHes
                // referred to: every reference was resolved after the referred creation ran.
                let mut members: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
                for (i, k) in ops.iter().enumerate() {
                    match k {
                        Kind::Group(m) if want[i] == End::Done => {
                            members
                                .entry(i)
                                .or_default()
                                .extend(m.iter().map(|r| match r {
                                    Ref::Op(j) => created[j].clone(),
                                    Ref::Missing => unreachable!("a missing reference fails"),
                                }));
                        }
                        Kind::Patch(Ref::Op(t), m) if want[i] == End::Done => {
                            members
                                .entry(*t)
                                .or_default()
                                .extend(m.iter().map(|r| match r {
                                    Ref::Op(j) => created[j].clone(),
                                    Ref::Missing => unreachable!("a missing reference fails"),
                                }));
                        }
                        _ => {}
                    }
                }
                for (g, want_members) in &members {
                    let got = app.get(&format!("/Groups/{}", created[g])).await;
                    prop_assert_eq!(got.status.as_u16(), 200, "{}", got.body);
                    let got_members: BTreeSet<String> = got.body["members"]
                        .as_array()
                        .map(|m| {
                            m.iter()
                                .filter_map(|x| x["value"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    prop_assert_eq!(
                        &got_members,
                        want_members,
                        "group of operation {} in {:?}",
                        g,
                        ops
                    );
                }
                // Nothing was created for a failed creation.
                let listed = app
                    .get(&format!(
                        "/Groups?filter={}&count=100",
                        enc(&format!("displayName sw \"c{c}b\""))
                    ))
                    .await;
                let names: BTreeSet<String> = listed.body["Resources"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|g| g["displayName"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let want_names: BTreeSet<String> = ops
                    .iter()
                    .enumerate()
                    .filter(|(i, k)| matches!(k, Kind::Group(_)) && want[*i] == End::Done)
                    .map(|(i, _)| format!("c{c}b{i}"))
                    .collect();
                prop_assert_eq!(names, want_names, "groups created for {:?}", ops);
                Ok(())
            })
        })
        .unwrap();
    let (cyclic, refused, resolved) = seen.get();
    let cases = case.get();
    assert!(
        cyclic * 10 >= cases && refused * 10 >= cases && resolved * 4 >= cases,
        "too few cases with a cycle ({cyclic}), a refusal ({refused}) or resolved references \
         ({resolved}) of {cases}"
    );
}

/// Whether some creation refers, through others, to itself.
fn has_cycle(ops: &[Kind]) -> bool {
    fn reaches(from: usize, to: usize, ops: &[Kind], seen: &mut Vec<bool>) -> bool {
        ops[from].refs().into_iter().any(|r| match r {
            Ref::Op(j) if matches!(ops[j], Kind::Patch(..)) => false,
            Ref::Op(j) if j == to => true,
            Ref::Op(j) if !seen[j] => {
                seen[j] = true;
                reaches(j, to, ops, seen)
            }
            _ => false,
        })
    }
    (0..ops.len()).any(|i| reaches(i, i, ops, &mut vec![false; ops.len()]))
}

/// The model itself: references resolve in any order; a cycle, a missing id and everything
/// behind them are unresolved; a group in a group is refused, and what refers to it unresolved.
#[test]
fn the_model_reports_cycles_and_what_depends_on_them() {
    use End::*;
    use Kind::*;
    use Ref::*;
    let ops = vec![
        Group(vec![Op(2)]),
        Group(vec![Op(0)]),
        User,
        Group(vec![Op(4)]),
        Group(vec![Op(3)]),
        Group(vec![Op(3), Op(2)]),
        Patch(Op(0), vec![Op(2)]),
        Group(vec![Missing]),
        Group(vec![Op(6)]),
        Patch(Op(1), vec![Op(2)]),
        Group(vec![Op(8), Op(8)]),
    ];
    assert_eq!(
        expected(&ops),
        [
            Done, Refused, Done, Unresolved, Unresolved, Unresolved, Done, Unresolved, Unresolved,
            Unresolved, Unresolved
        ]
    );
}
