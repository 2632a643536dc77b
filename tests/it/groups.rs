//! Groups and memberships over HTTP, with the exact requests Okta and Entra send
//! (scim-field-notes.md §1.2, §2.1), ETags, Bulk and concurrent membership changes.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::support::*;

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PROVISIONING_URN: &str = "urn:scimgate:params:scim:schemas:extension:2.0:Provisioning";

async fn users(app: &TestApp, n: usize, prefix: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.create_user(&format!("{prefix}{i}@example.com")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    ids
}

fn member_ids(g: &Value) -> HashSet<String> {
    g["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn members_of(app: &TestApp, gid: &str) -> HashSet<String> {
    member_ids(&app.get(&format!("/Groups/{gid}")).await.body)
}

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": list})
}

#[actix_web::test]
async fn okta_group_push() {
    let app = TestApp::spawn().await;
    let u = users(&app, 3, "okta.member").await;
    // Push group (create): Okta sends members: [].
    let r = app
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    assert_eq!(r.body["schemas"], json!([GROUP_URN, PROVISIONING_URN]));
    assert_eq!(
        r.body[PROVISIONING_URN]["source"],
        json!({"type": "integration", "value": app.integration_id, "display": "okta"})
    );
    let gid = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location").unwrap(),
        app.url(&format!("/Groups/{gid}"))
    );
    let path = format!("/Groups/{gid}");

    // Membership delta: remove by filter + add without `type` (SCIM-SDK #419). Okta sends no
    // query string and no Prefer header: 204 with the new version's ETag (the integration's
    // default PATCH answer), the group read back with a GET.
    let r = app.patch(&path, &ops(json!([
        {"op": "add", "path": "members", "value": [{"value": u[0], "display": "okta.member0@example.com"}, {"value": u[1], "display": "x"}]},
    ]))).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    let g = app.get(&path).await.body;
    assert_eq!(member_ids(&g), HashSet::from([u[0].clone(), u[1].clone()]));
    assert_eq!(g["members"][0]["type"], "User");
    assert_eq!(
        g["members"][0]["$ref"],
        app.url(&format!("/Users/{}", u[0]))
    );
    assert_eq!(g["members"][0]["display"], "Test User");
    let r = app.patch(&path, &ops(json!([
        {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
        {"op": "add", "path": "members", "value": [{"value": u[2], "display": "okta.member2@example.com"}]},
    ]))).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    assert_eq!(
        members_of(&app, &gid).await,
        HashSet::from([u[1].clone(), u[2].clone()])
    );

    // Rename: Okta sends {id, displayName} without a path on every push; members untouched.
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}])),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    let g = app.get(&path).await.body;
    assert_eq!(g["displayName"], "Renamed");
    assert_eq!(member_ids(&g), HashSet::from([u[1].clone(), u[2].clone()]));

    // Push now: replace members with a list, then with [] (must empty, not 400).
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "replace", "path": "members", "value": [{"value": u[0]}]}])),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    assert_eq!(members_of(&app, &gid).await, HashSet::from([u[0].clone()]));
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "replace", "path": "members", "value": []}])),
        )
        .await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(members_of(&app, &gid).await.is_empty());
    // The other observed form: a path-less replace carrying members, id and displayName.
    app.patch(
        &path,
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": u[1]}]}])),
    )
    .await;
    assert_eq!(members_of(&app, &gid).await, HashSet::from([u[1].clone()]));
    let r = app.patch(&path, &ops(json!([{"op": "replace", "value": {"members": [], "id": gid, "displayName": "Renamed"}}]))).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    assert!(members_of(&app, &gid).await.is_empty());

    // Import groups and link: GET /Groups.
    let r = app.get("/Groups?startIndex=1&count=100").await;
    assert_eq!(r.body["totalResults"], 1);
    // Unlink: DELETE; users stay.
    assert_eq!(app.delete(&path).await.status.as_u16(), 204);
    app.get(&path).await.assert_error(404, None);
    assert_eq!(
        app.get(&format!("/Users/{}", u[0])).await.status.as_u16(),
        200
    );
}

#[actix_web::test]
async fn entra_group_provisioning() {
    let app = TestApp::spawn().await;
    let u = users(&app, 3, "entra.member").await;
    // Create: Entra's extra schema URN, externalId, no members.
    let r = app.post("/Groups", &json!({
        "schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1DisplayName"
    })).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{gid}");
    // Query by displayName with members excluded.
    let q = format!(
        "/Groups?excludedAttributes=members&filter={}",
        enc("displayName eq \"GROUP1displayname\"")
    );
    let r = app.get(&q).await;
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    assert_eq!(
        app.get(&format!(
            "/Groups?filter={}",
            enc("externalId eq \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\"")
        ))
        .await
        .body["totalResults"],
        1
    );
    // Add members, capitalised op, $ref null.
    let r = app.patch(&path, &ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": u[0]}, {"$ref": null, "value": u[1]}, {"$ref": null, "value": u[2]}]}]))).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    assert_eq!(members_of(&app, &gid).await.len(), 3);
    // Remove members, default mode: value array without a filter removes just those.
    app.patch(
        &path,
        &ops(
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": u[0]}]}]),
        ),
    )
    .await;
    assert_eq!(
        members_of(&app, &gid).await,
        HashSet::from([u[1].clone(), u[2].clone()])
    );
    // Compliance-flag mode: remove by filter.
    app.patch(
        &path,
        &ops(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", u[1])}])),
    )
    .await;
    assert_eq!(members_of(&app, &gid).await, HashSet::from([u[2].clone()]));
    // Rename: Replace displayName; Entra expects 204 where it asks for no body.
    let r = send(
        app.client.patch(app.url(&path)).insert_header(("Authorization", format!("Bearer {}", app.token))).insert_header(("Prefer", "return=minimal")),
        Some(&ops(json!([{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]))),
    )
    .await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(r.header("etag").is_some());
    let g = app
        .get(&format!("{path}?excludedAttributes=members"))
        .await
        .body;
    assert_eq!(
        g["displayName"],
        "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    );
    assert!(g.get("members").is_none());
    // Filter groups by member.
    assert_eq!(
        app.get(&format!(
            "/Groups?filter={}",
            enc(&format!("members[value eq \"{}\"]", u[2]))
        ))
        .await
        .body["totalResults"],
        1
    );
    assert_eq!(
        app.get(&format!(
            "/Groups?filter={}",
            enc(&format!("members.value eq \"{}\"", u[0]))
        ))
        .await
        .body["totalResults"],
        0
    );
    // DELETE → 204.
    assert_eq!(app.delete(&path).await.status.as_u16(), 204);
}

#[actix_web::test]
async fn group_rules_and_derived_user_groups() {
    let app = TestApp::spawn().await;
    let u = users(&app, 2, "rules").await;
    let g = app
        .post(
            "/Groups",
            &json!({"displayName": "Engineering", "members": [{"value": u[0]}]}),
        )
        .await
        .body;
    let gid = g["id"].as_str().unwrap().to_owned();
    // displayName is unique, case-insensitively.
    app.post("/Groups", &json!({"displayName": "ENGINEERING"}))
        .await
        .assert_error(409, Some("uniqueness"));
    app.post("/Groups", &json!({"members": []}))
        .await
        .assert_error(400, Some("invalidValue"));
    // Unknown member ids are never created: 400 invalidValue, and nothing changes.
    app.post(
        "/Groups",
        &json!({"displayName": "X", "members": [{"value": "no-such-user"}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    assert_eq!(
        app.get(&format!("/Groups?filter={}", enc("displayName eq \"X\"")))
            .await
            .body["totalResults"],
        0
    );
    let r = app
        .patch(
            &format!("/Groups/{gid}"),
            &ops(json!([
                {"op": "add", "path": "members", "value": [{"value": u[1]}]},
                {"op": "add", "path": "members", "value": [{"value": "ghost"}]},
            ])),
        )
        .await;
    r.assert_error(400, Some("invalidValue"));
    assert_eq!(
        members_of(&app, &gid).await,
        HashSet::from([u[0].clone()]),
        "all or nothing"
    );
    app.patch(
        &format!("/Groups/{gid}"),
        &ops(
            json!([{"op": "add", "path": "members", "value": [{"value": u[1], "type": "Group"}]}]),
        ),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    app.patch(
        &format!("/Groups/{gid}"),
        &ops(json!([{"op": "replace", "path": "members[value eq \"x\"].display", "value": "y"}])),
    )
    .await
    .assert_error(400, Some("invalidPath"));
    app.patch(
        &format!("/Groups/{gid}"),
        &ops(json!([{"op": "replace", "path": "id", "value": "y"}])),
    )
    .await
    .assert_error(400, Some("mutability"));
    // Adding an existing member again adds nothing twice.
    let r = app.patch(&format!("/Groups/{gid}"), &ops(json!([{"op": "add", "path": "members", "value": [{"value": u[0]}, {"value": u[0]}]}]))).await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    assert_eq!(
        app.get(&format!("/Groups/{gid}")).await.body["members"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // User.groups is derived, read-only, and filterable.
    let user = app.get(&format!("/Users/{}", u[0])).await.body;
    assert_eq!(
        user["groups"],
        json!([{"value": gid, "$ref": app.url(&format!("/Groups/{gid}")), "display": "Engineering", "type": "direct"}])
    );
    let mut put = user.clone();
    put["groups"] = json!([]);
    let after = app.put(&format!("/Users/{}", u[0]), &put).await.body;
    assert_eq!(
        after["groups"][0]["value"],
        gid.as_str(),
        "groups is read-only: a PUT does not change it"
    );
    // Deleting a user removes it from its groups; deleting a group leaves its users.
    app.delete(&format!("/Users/{}", u[0])).await;
    assert!(members_of(&app, &gid).await.is_empty());
    // A full PUT of a group replaces the members too.
    let r = app
        .put(
            &format!("/Groups/{gid}"),
            &json!({"displayName": "Engineering", "members": [{"value": u[1]}]}),
        )
        .await;
    assert_eq!(member_ids(&r.body), HashSet::from([u[1].clone()]));
    assert_eq!(
        app.get(&format!("/Users/{}", u[1])).await.body["groups"][0]["display"],
        "Engineering"
    );
}

#[actix_web::test]
async fn etags_on_groups() {
    let app = TestApp::spawn().await;
    let g = app.post("/Groups", &json!({"displayName": "Tagged"})).await;
    let etag = g.header("etag").unwrap();
    assert_eq!(etag, g.body["meta"]["version"].as_str().unwrap());
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let auth = ("Authorization", format!("Bearer {}", app.token));
    let r = send(
        app.client
            .get(app.url(&path))
            .insert_header(auth.clone())
            .insert_header(("If-None-Match", etag.as_str())),
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 304);
    assert_eq!(r.header("etag").unwrap(), etag);
    let rename = ops(json!([{"op": "replace", "path": "displayName", "value": "Tagged2"}]));
    let r = send(
        app.client
            .patch(app.url(&path))
            .insert_header(auth.clone())
            .insert_header(("If-Match", etag.as_str())),
        Some(&rename),
    )
    .await;
    assert_eq!(
        r.status.as_u16(),
        204,
        "a 204 carries the new version's ETag"
    );
    assert_ne!(r.header("etag").unwrap(), etag);
    send(
        app.client
            .patch(app.url(&path))
            .insert_header(auth.clone())
            .insert_header(("If-Match", etag.as_str())),
        Some(&rename),
    )
    .await
    .assert_error(412, None);
    send(
        app.client
            .delete(app.url(&path))
            .insert_header(auth.clone())
            .insert_header(("If-Match", etag.as_str())),
        None,
    )
    .await
    .assert_error(412, None);
    let r = send(
        app.client
            .get(app.url(&path))
            .insert_header(auth.clone())
            .insert_header(("If-None-Match", etag.as_str())),
        None,
    )
    .await;
    assert_eq!(
        r.status.as_u16(),
        200,
        "a stale If-None-Match gets the resource"
    );
    // Users have them too.
    let u = app.create_user("etag.user@example.com").await;
    let r = send(
        app.client
            .get(app.url(&format!("/Users/{}", u["id"].as_str().unwrap())))
            .insert_header(auth.clone())
            .insert_header(("If-None-Match", u["meta"]["version"].as_str().unwrap())),
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 304);
}

#[actix_web::test]
async fn fifty_parallel_member_patches() {
    let app = TestApp::spawn().await;
    let u = users(&app, 50, "parallel.member").await;
    let g = app
        .post("/Groups", &json!({"displayName": "Busy"}))
        .await
        .body;
    let path = format!("/Groups/{}", g["id"].as_str().unwrap());
    let first = u[0].clone();
    let results = join_all(u.iter().map(|id| {
        let (app, path, first) = (&app, path.clone(), first.clone());
        async move { app.patch(&path, &ops(json!([{"op": "add", "path": "members", "value": [{"value": id}, {"value": first}]}]))).await }
    }))
    .await;
    assert!(results.iter().all(|r| r.status.as_u16() == 204));
    let members = members_of(&app, g["id"].as_str().unwrap()).await;
    assert_eq!(members, u.iter().cloned().collect::<HashSet<_>>());
    assert_eq!(
        app.get(&path).await.body["members"]
            .as_array()
            .unwrap()
            .len(),
        50,
        "none twice"
    );
    // And 50 parallel removals leave it empty.
    join_all(u.iter().map(|id| {
        let (app, path) = (&app, path.clone());
        async move {
            app.patch(
                &path,
                &ops(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}])),
            )
            .await
        }
    }))
    .await;
    assert!(members_of(&app, g["id"].as_str().unwrap()).await.is_empty());
}

#[actix_web::test]
async fn bulk_with_references() {
    let app = TestApp::spawn().await;
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "Bulk group", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": okta_user("bulk1@example.com")},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": okta_user("bulk2@example.com")},
        {"method": "PATCH", "path": "/Users/bulkId:u2", "data": {"Operations": [{"op": "replace", "value": {"active": false}}]}},
        {"method": "POST", "path": "/Users", "bulkId": "dup", "data": okta_user("bulk1@example.com")},
        {"method": "DELETE", "path": "/Users/no-such-id"},
    ]});
    let r = app.post("/Bulk", &body).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let results = r.body["Operations"].as_array().unwrap();
    let status: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["201", "201", "201", "200", "409", "404"]);
    assert_eq!(results[4]["response"]["scimType"], "uniqueness");
    let gid = results[0]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let members = members_of(&app, &gid).await;
    assert_eq!(members.len(), 2);
    let u2 = results[2]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert_eq!(app.get(&format!("/Users/{u2}")).await.body["active"], false);

    // failOnErrors stops after that many errors.
    let body = json!({"failOnErrors": 1, "Operations": [
        {"method": "DELETE", "path": "/Users/nope"},
        {"method": "POST", "path": "/Users", "bulkId": "late", "data": okta_user("late@example.com")},
    ]});
    let r = app.post("/Bulk", &body).await;
    assert_eq!(r.body["Operations"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!(
            "/Users?filter={}",
            enc("userName eq \"late@example.com\"")
        ))
        .await
        .body["totalResults"],
        0
    );

    // Circular references fail with 409; too many operations is 413.
    let body = json!({"Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}},
    ]});
    let r = app.post("/Bulk", &body).await;
    let status: Vec<&str> = r.body["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["409", "409"]);
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    app.post("/Bulk", &json!({"Operations": many}))
        .await
        .assert_error(413, None);
    app.post(
        "/Bulk",
        &json!({"Operations": [{"method": "GET", "path": "/Users"}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
}

#[actix_web::test]
async fn groups_are_isolated_between_integrations() {
    let app = TestApp::spawn().await;
    let (other_base, other_token) = app.second_integration("sailpoint").await;
    let u = users(&app, 1, "iso").await;
    let g = app
        .post(
            "/Groups",
            &json!({"displayName": "Mine", "members": [{"value": u[0]}]}),
        )
        .await
        .body;
    let get = app
        .client
        .get(format!("{other_base}/Groups/{}", g["id"].as_str().unwrap()))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(get, None).await.assert_error(404, None);
    let list = app
        .client
        .get(format!("{other_base}/Groups"))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    assert_eq!(send(list, None).await.body["totalResults"], 0);
    // The other integration cannot add a user it cannot see.
    let post = app
        .client
        .post(format!("{other_base}/Groups"))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(
        post,
        Some(&json!({"displayName": "Theirs", "members": [{"value": u[0]}]})),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    // displayName uniqueness is global.
    let post = app
        .client
        .post(format!("{other_base}/Groups"))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(post, Some(&json!({"displayName": "mine"})))
        .await
        .assert_error(409, Some("uniqueness"));
}

#[actix_web::test]
async fn group_queries_use_the_full_engine() {
    let app = TestApp::spawn().await;
    let u = users(&app, 2, "query.member").await;
    for (name, members) in [
        ("Sales EMEA", vec![u[0].clone()]),
        ("Sales US", vec![u[0].clone(), u[1].clone()]),
        ("Engineering", vec![]),
    ] {
        let members: Vec<Value> = members.into_iter().map(|id| json!({"value": id})).collect();
        let r = app
            .post("/Groups", &json!({"displayName": name, "members": members}))
            .await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    let names = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    let q = |f: &str, extra: &str| format!("/Groups?filter={}{extra}", enc(f));
    assert_eq!(
        names(
            &app.get(&q(
                "displayName sw \"sales\"",
                "&sortBy=displayName&sortOrder=descending"
            ))
            .await
        ),
        ["Sales US", "Sales EMEA"]
    );
    assert_eq!(
        names(
            &app.get(&q(
                "displayName co \"EMEA\" or displayName eq \"engineering\"",
                ""
            ))
            .await
        ),
        ["Sales EMEA", "Engineering"]
    );
    assert_eq!(
        names(
            &app.get(&q(&format!("members[value eq \"{}\"]", u[1]), ""))
                .await
        ),
        ["Sales US"]
    );
    assert_eq!(
        names(
            &app.get(&q(&format!("not (members.value eq \"{}\")", u[0]), ""))
                .await
        ),
        ["Engineering"]
    );
    app.get(&q("members pr", ""))
        .await
        .assert_error(400, Some("invalidFilter"));
    app.get(&q("members.display co \"x\"", ""))
        .await
        .assert_error(400, Some("invalidFilter"));
    // Users filter by their derived groups.
    let sales_us = app.get(&q("displayName eq \"Sales US\"", "")).await.body["Resources"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("groups.value eq \"{sales_us}\""))
        ))
        .await;
    assert_eq!(r.body["totalResults"], 2);
    // Cursor paging over groups, and /Groups/.search.
    let r = app.get("/Groups?cursor&count=2").await;
    assert_eq!(r.body["itemsPerPage"], 2);
    let next = r.body["nextCursor"].as_str().unwrap().to_owned();
    let r = app
        .get(&format!("/Groups?cursor={}&count=2", enc(&next)))
        .await;
    assert_eq!(names(&r), ["Engineering"]);
    assert!(r.body.get("nextCursor").is_none());
    let r = app.post("/Groups/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName ew \"us\"", "excludedAttributes": ["members"]})).await;
    assert_eq!(names(&r), ["Sales US"]);
    assert!(r.body["Resources"][0].get("members").is_none());
    // The root .search lists users and groups.
    let r = app.post("/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "sortBy": "displayName"})).await;
    assert_eq!(r.body["totalResults"], 5, "{}", r.body);
}
