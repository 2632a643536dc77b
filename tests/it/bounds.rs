//! Bounded work per request (issue 14, item 3): Bulk requests whose bulkId references form long
//! chains, in either order, and cycles; another integration's reads while a big Bulk runs; the
//! per-attribute limits on POST, PUT, PATCH and Bulk, for users and groups.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::*;

const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// An appliance whose commits skip the fsync wait: the chains below are thousands of writes.
async fn fast_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.database.synchronous = scimgate::store::Synchronous::Normal;
    TestApp::spawn_with(dir, config).await
}

/// `n` users chained by their manager: user i's manager is `bulkId:u<i+1>`, the last has none.
fn manager_chain(n: usize, tag: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let mut data = okta_user(&format!("{tag}{i}@example.com"));
            if i + 1 < n {
                data[ENTERPRISE_URN] = json!({"manager": {"value": format!("bulkId:u{}", i + 1)}});
            }
            json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": data})
        })
        .collect()
}

fn statuses(r: &Resp) -> Vec<String> {
    r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap().to_owned())
        .collect()
}

/// userName -> (id, manager id) of every user the integration sees.
async fn users_by_name(app: &TestApp) -> HashMap<String, (String, Option<String>)> {
    let mut out = HashMap::new();
    let mut start = 1;
    loop {
        let page = app
            .get(&format!("/Users?startIndex={start}&count=1000"))
            .await
            .body;
        let items = page["Resources"].as_array().cloned().unwrap_or_default();
        for u in &items {
            out.insert(
                u["userName"].as_str().unwrap().to_owned(),
                (
                    u["id"].as_str().unwrap().to_owned(),
                    u[ENTERPRISE_URN]["manager"]["value"]
                        .as_str()
                        .map(str::to_owned),
                ),
            );
        }
        if items.is_empty() || out.len() as u64 >= page["totalResults"].as_u64().unwrap() {
            return out;
        }
        start += items.len();
    }
}

fn assert_chain(users: &HashMap<String, (String, Option<String>)>, n: usize, tag: &str) {
    for i in 0..n {
        let (_, manager) = &users[&format!("{tag}{i}@example.com")];
        let next = (i + 1 < n).then(|| users[&format!("{tag}{}@example.com", i + 1)].0.clone());
        assert_eq!(manager, &next, "user {i} of chain {tag}");
    }
}

#[actix_web::test]
async fn chained_bulk_resolves_in_either_order() {
    let app = fast_app().await;
    // Each operation refers to the next one: the request order is the worst for resolution.
    let r = app
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_URN], "Operations": manager_chain(1000, "fwd")}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(statuses(&r), vec!["201"; 1000]);
    // Results come in request order, each with its own bulkId.
    assert_eq!(r.body["Operations"][0]["bulkId"], "u0");
    assert_eq!(r.body["Operations"][999]["bulkId"], "u999");
    // The same chain listed backwards: each operation refers to one already done.
    let mut ops = manager_chain(300, "rev");
    ops.reverse();
    let r = app
        .post("/Bulk", &json!({"schemas": [BULK_URN], "Operations": ops}))
        .await;
    assert_eq!(statuses(&r), vec!["201"; 300]);
    let users = users_by_name(&app).await;
    assert_eq!(users.len(), 1300);
    assert_chain(&users, 1000, "fwd");
    assert_chain(&users, 300, "rev");

    // Groups listed before the users they hold: each group gets its own user.
    let mut ops: Vec<Value> = (0..200)
        .map(|i| json!({"method": "POST", "path": "/Groups", "bulkId": format!("g{i}"), "data": {"displayName": format!("team{i}"), "members": [{"value": format!("bulkId:m{i}")}]}}))
        .collect();
    ops.extend((0..200).map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("m{i}"), "data": okta_user(&format!("member{i}@example.com"))})));
    let r = app
        .post("/Bulk", &json!({"schemas": [BULK_URN], "Operations": ops}))
        .await;
    assert_eq!(statuses(&r), vec!["201"; 400]);
    let users = users_by_name(&app).await;
    let groups = app.get("/Groups?count=1000").await.body;
    let groups = groups["Resources"].as_array().unwrap();
    assert_eq!(groups.len(), 200);
    for g in groups {
        let i = g["displayName"]
            .as_str()
            .unwrap()
            .trim_start_matches("team");
        let members: Vec<&str> = g["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect();
        assert_eq!(
            members,
            [users[&format!("member{i}@example.com")].0.as_str()]
        );
    }
}

#[actix_web::test]
async fn issue_14_group_chain_is_answered_operation_by_operation() {
    // The request of issue 14: 1,000 groups, each with the next as its member. A group is no
    // member (members are users), so the last group is created, the one naming it fails with
    // 400, and every operation referring to a failed one with 409; all in one quick answer.
    let app = TestApp::spawn().await;
    let ops: Vec<Value> = (0..1000)
        .map(|i| {
            let mut data = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("c{i}")});
            if i < 999 {
                data["members"] = json!([{"value": format!("bulkId:c{}", i + 1)}]);
            }
            json!({"method": "POST", "path": "/Groups", "bulkId": format!("c{i}"), "data": data})
        })
        .collect();
    let r = app
        .post("/Bulk", &json!({"schemas": [BULK_URN], "Operations": ops}))
        .await;
    let s = statuses(&r);
    assert_eq!(s[999], "201");
    assert_eq!(s[998], "400");
    assert!(s[..998].iter().all(|x| x == "409"), "{s:?}");
    let detail = r.body["Operations"][997]["response"]["detail"]
        .as_str()
        .unwrap();
    assert!(detail.contains("bulkId 'c998'"), "{detail}");
    assert_eq!(app.get("/Groups").await.body["totalResults"], 1);
}

#[actix_web::test]
async fn a_cycle_fails_only_its_operations() {
    let app = TestApp::spawn().await;
    let user = |name: &str, manager: Option<&str>| {
        let mut d = okta_user(&format!("{name}@example.com"));
        if let Some(m) = manager {
            d[ENTERPRISE_URN] = json!({"manager": {"value": format!("bulkId:{m}")}});
        }
        json!({"method": "POST", "path": "/Users", "bulkId": name, "data": d})
    };
    let r = app
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_URN], "Operations": [
                user("a", Some("b")),
                user("free", None),
                user("b", Some("a")),
                user("after", Some("free")),
                user("self", Some("self")),
                user("waits", Some("a")),
                user("unknown", Some("nobody")),
            ]}),
        )
        .await;
    assert_eq!(
        statuses(&r),
        ["409", "201", "409", "201", "409", "409", "409"]
    );
    let ops = r.body["Operations"].as_array().unwrap();
    for i in [0, 2, 4, 5] {
        assert_eq!(ops[i]["response"]["scimType"], "invalidValue");
        assert_eq!(
            ops[i]["response"]["detail"],
            "circular or unresolvable bulkId reference"
        );
    }
    assert!(
        ops[6]["response"]["detail"]
            .as_str()
            .unwrap()
            .contains("bulkId 'nobody'")
    );
    let users = users_by_name(&app).await;
    let mut names: Vec<&str> = users.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["after@example.com", "free@example.com"]);
    assert_eq!(
        users["after@example.com"].1.as_deref(),
        Some(users["free@example.com"].0.as_str())
    );
}

#[actix_web::test]
async fn another_integration_reads_while_a_big_bulk_runs() {
    let app = fast_app().await;
    let (b_base, b_token) = app.second_integration("entra").await;
    let body = json!({"schemas": [BULK_URN], "Operations": manager_chain(1000, "big")});
    let bulk = app.post("/Bulk", &body);
    let reads = async {
        let mut answered = 0;
        for _ in 0..20 {
            let get = app
                .client
                .get(format!("{b_base}/Users?count=1"))
                .insert_header(("Authorization", format!("Bearer {b_token}")));
            let r = send(get, None).await;
            assert_eq!(r.status.as_u16(), 200, "{}", r.body);
            answered += 1;
        }
        answered
    };
    let (r, answered) = tokio::join!(bulk, reads);
    assert_eq!(answered, 20);
    assert_eq!(statuses(&r), vec!["201"; 1000]);
}

fn chars(n: usize) -> String {
    "é".repeat(n)
}

fn emails(n: usize, tag: &str) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"value": format!("{tag}{i}@example.com"), "type": "work"}))
        .collect()
}

fn aliases(n: usize, tag: &str) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"value": format!("{tag}-alias{i}"), "type": "username"}))
        .collect()
}

fn assert_names(r: &Resp, attr: &str) {
    r.assert_error(400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("'{attr}'")), "{detail}");
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": list})
}

#[actix_web::test]
async fn user_limits_on_post_put_patch_and_bulk() {
    let app = TestApp::spawn().await;
    // POST: each limit, at it and one over.
    let mut at = okta_user(&format!("{}@example.com", chars(1024 - 12)));
    at["name"]["givenName"] = json!(chars(1024));
    at["title"] = json!(chars(8192));
    at["emails"] = json!(emails(100, "at"));
    at["aliases"] = json!(aliases(100, "at"));
    let r = app.post("/Users", &at).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_owned();

    let over = |f: &dyn Fn(&mut Value)| {
        let mut u = okta_user("over@example.com");
        f(&mut u);
        u
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            over(&|u| u["userName"] = json!(format!("{}@example.com", chars(1025 - 12)))),
            "userName",
        ),
        (
            over(&|u| u["name"]["givenName"] = json!(chars(1025))),
            "name.givenName",
        ),
        (
            over(&|u| u["displayName"] = json!(chars(1025))),
            "displayName",
        ),
        (
            over(&|u| u["externalId"] = json!(chars(1025))),
            "externalId",
        ),
        (over(&|u| u["title"] = json!(chars(8193))), "title"),
        (
            over(&|u| u["emails"] = json!(emails(101, "over"))),
            "emails",
        ),
        (
            over(&|u| u["aliases"] = json!(aliases(101, "over"))),
            "aliases",
        ),
        (
            over(&|u| u["aliases"] = json!([{"value": chars(1025)}])),
            "aliases.value",
        ),
        (
            over(&|u| u[ENTERPRISE_URN] = json!({"department": chars(8193)})),
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ),
    ];
    for (body, attr) in &cases {
        assert_names(&app.post("/Users", body).await, attr);
    }
    // Nothing over a limit was stored.
    let found = app
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"over@example.com\"")
        ))
        .await;
    assert_eq!(found.body["totalResults"], 0);

    // PUT: the same document passes; one over does not.
    let path = format!("/Users/{id}");
    let r = app.put(&path, &at).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let mut put_over = at.clone();
    put_over["title"] = json!(chars(8193));
    assert_names(&app.put(&path, &put_over).await, "title");

    // PATCH: the result is checked, whatever the operations.
    assert_names(
        &app.patch(
            &path,
            &ops(json!([{"op": "add", "path": "emails", "value": [{"value": "one-more@example.com"}]}])),
        )
        .await,
        "emails",
    );
    assert_names(
        &app.patch(
            &path,
            &ops(json!([{"op": "replace", "value": {"nickName": chars(1025)}}])),
        )
        .await,
        "nickName",
    );
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "replace", "path": "nickName", "value": chars(1024)}])),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(
        app.get(&path).await.body["emails"]
            .as_array()
            .unwrap()
            .len(),
        100
    );

    // Bulk: each operation is held to the same limits.
    let r = app
        .post(
            "/Bulk",
            &json!({"schemas": [BULK_URN], "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "big", "data": cases[0].0.clone()},
                {"method": "POST", "path": "/Users", "bulkId": "fine", "data": okta_user(&format!("{}@example.com", "f".repeat(1012)))},
                {"method": "PUT", "path": path, "data": put_over},
                {"method": "PATCH", "path": path, "data": ops(json!([{"op": "replace", "path": "title", "value": chars(8193)}]))},
            ]}),
        )
        .await;
    assert_eq!(statuses(&r), ["400", "201", "400", "400"]);
    for (i, attr) in [(0, "userName"), (2, "title"), (3, "title")] {
        let e = &r.body["Operations"][i]["response"];
        assert_eq!(e["scimType"], "invalidValue");
        assert!(
            e["detail"].as_str().unwrap().contains(&format!("'{attr}'")),
            "{e}"
        );
    }
}

#[actix_web::test]
async fn group_limits_on_post_put_patch_and_bulk() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/Groups", &json!({"displayName": chars(1024)}))
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let path = format!("/Groups/{}", r.body["id"].as_str().unwrap());
    assert_names(
        &app.post("/Groups", &json!({"displayName": chars(1025)}))
            .await,
        "displayName",
    );
    assert_names(
        &app.post(
            "/Groups",
            &json!({"displayName": "x", "externalId": chars(1025)}),
        )
        .await,
        "externalId",
    );
    assert_names(
        &app.put(&path, &json!({"displayName": chars(1025)})).await,
        "displayName",
    );
    let r = app
        .put(
            &path,
            &json!({"displayName": "ok", "externalId": chars(1024)}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_names(
        &app.patch(
            &path,
            &ops(json!([{"op": "replace", "path": "displayName", "value": chars(1025)}])),
        )
        .await,
        "displayName",
    );
    let r = app
        .post(
            "/Bulk",
            &json!({"Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": chars(1025)}},
                {"method": "PATCH", "path": path, "data": ops(json!([{"op": "replace", "value": {"displayName": chars(1025)}}]))},
            ]}),
        )
        .await;
    assert_eq!(statuses(&r), ["400", "400"]);
    assert_eq!(app.get(&path).await.body["displayName"], "ok");
}

#[actix_web::test]
async fn limits_come_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.scim.max_name_chars = 30;
    config.scim.max_string_chars = 40;
    config.scim.max_multi_values = 2;
    config.scim.max_aliases = 1;
    let app = TestApp::spawn_with(dir, config).await;
    let mut u = okta_user("configured@example.com");
    u["title"] = json!(chars(40));
    u["emails"] = json!(emails(2, "cfg"));
    u["aliases"] = json!(aliases(1, "cfg"));
    let r = app.post("/Users", &u).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    u["userName"] = json!("a-much-longer-name@example.com!");
    assert_names(&app.post("/Users", &u).await, "userName");
    u["userName"] = json!("second@example.com");
    u["title"] = json!(chars(41));
    assert_names(&app.post("/Users", &u).await, "title");
    u["title"] = json!("t");
    u["emails"] = json!(emails(3, "cfg2"));
    assert_names(&app.post("/Users", &u).await, "emails");
    u["emails"] = json!(emails(2, "cfg2"));
    u["aliases"] = json!(aliases(2, "cfg2"));
    assert_names(&app.post("/Users", &u).await, "aliases");
}
