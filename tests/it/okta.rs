//! Okta's flows, with the bodies Okta really sends (scim-field-notes.md §1): the SCIM 2.0 Spec
//! Test sequence, the create/read/update/deactivate/reactivate cycle, and import paging.

use awc::http::StatusCode;
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn okta_spec_test_sequence() {
    let app = TestApp::spawn().await;
    // At least one user exists before the run.
    let isv = app.create_user("isv.user@example.com").await;

    // R1: list with count=1.
    let r = app.get("/Users?count=1&startIndex=1").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert!(
        r.body["totalResults"].is_u64()
            && r.body["startIndex"].is_u64()
            && r.body["itemsPerPage"].is_u64()
    );
    assert_eq!(r.body["itemsPerPage"], 1);
    let first = &r.body["Resources"][0];
    for field in ["id", "userName"] {
        assert!(first[field].is_string(), "{field}");
    }
    assert!(first["name"]["familyName"].is_string() && first["name"]["givenName"].is_string());
    assert_eq!(first["active"], true);
    assert!(first["emails"][0]["value"].is_string());

    // R2: GET that user.
    let r = app
        .get(&format!("/Users/{}", isv["id"].as_str().unwrap()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["userName"], "isv.user@example.com");

    // R3 / R5: a filter that matches nothing is an empty ListResponse.
    let r = app
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"nobody-a8f3@example.com\"")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    // R4 / R12: unknown id is a 404 SCIM error with a string status.
    app.get("/Users/010101010101010101")
        .await
        .assert_error(404, None);

    // R6: POST with Content-Type application/json.
    let body = okta_user("Random.User.5f2a@example.com");
    let r = send(
        app.client
            .post(app.url("/Users"))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("Content-Type", "application/json")),
        None,
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "an empty body is invalidSyntax");
    let r = app.post("/Users", &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["name"], body["name"]);
    assert_eq!(r.body["active"], true);
    assert!(
        r.body.get("password").is_none(),
        "password is never returned"
    );
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        r.header("location").unwrap(),
        app.url(&format!("/Users/{id}"))
    );
    assert_eq!(r.body["meta"]["location"], app.url(&format!("/Users/{id}")));
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert_eq!(
        r.header("etag").unwrap(),
        r.body["meta"]["version"].as_str().unwrap()
    );

    // R7: GET it back.
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.body["userName"], "Random.User.5f2a@example.com");
    assert_eq!(r.body["emails"], body["emails"]);

    // R8: the same POST again is a 409 uniqueness.
    app.post("/Users", &body)
        .await
        .assert_error(409, Some("uniqueness"));
    // … also with another case.
    app.post("/Users", &okta_user("RANDOM.USER.5F2A@EXAMPLE.COM"))
        .await
        .assert_error(409, Some("uniqueness"));

    // R9: the upper-cased userName finds the user (userName is caseExact=false).
    let r = app
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"RANDOM.USER.5F2A@EXAMPLE.COM\"")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["Resources"][0]["id"], id.as_str());

    // R11: a bad token is a 401 SCIM error.
    let r = send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", "Bearer scg_wrong")),
        None,
    )
    .await;
    r.assert_error(401, None);
    assert!(r.header("www-authenticate").is_some());
}

#[actix_web::test]
async fn okta_provisioning_cycle() {
    let app = TestApp::spawn().await;
    let name = "test.user@okta.local";
    // Assign: filter by userName (Okta's exact query), nothing found, then POST.
    let q = format!(
        "/Users?filter={}&startIndex=1&count=100",
        enc(&format!("userName eq \"{name}\""))
    );
    assert_eq!(app.get(&q).await.body["totalResults"], 0);
    let created = app.create_user(name).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&q).await.body["Resources"][0]["id"], id.as_str());

    // Profile update: Okta GETs, then PUTs the whole object back with changes, including
    // id, meta, groups and a password.
    let mut user = app.get(&format!("/Users/{id}")).await.body;
    user["name"]["givenName"] = json!("Changed");
    user["groups"] = json!([]);
    user["password"] = json!("n3wP4ss");
    user["title"] = json!("Engineer");
    let r = app.put(&format!("/Users/{id}"), &user).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Changed");
    assert_eq!(r.body["title"], "Engineer");
    assert_eq!(r.body["id"], id.as_str());
    assert_eq!(r.body["meta"]["created"], created["meta"]["created"]);
    assert_ne!(r.body["meta"]["version"], created["meta"]["version"]);
    assert!(r.body.get("password").is_none());

    // A full PUT replaces: an attribute left out is gone.
    let mut smaller = r.body.clone();
    smaller.as_object_mut().unwrap().remove("title");
    let r = app.put(&format!("/Users/{id}"), &smaller).await;
    assert!(r.body.get("title").is_none(), "{}", r.body);

    // An unchanged PUT keeps the version.
    let before = r.body["meta"]["version"].clone();
    let r = app.put(&format!("/Users/{id}"), &r.body).await;
    assert_eq!(r.body["meta"]["version"], before);

    // Deactivate: PATCH without a path.
    let deactivate = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let r = app.patch(&format!("/Users/{id}"), &deactivate).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["name"]["givenName"], "Changed");
    // A deactivated user is still read and found.
    assert_eq!(app.get(&format!("/Users/{id}")).await.body["active"], false);
    let r = app
        .get(&format!("/Users?filter={}", enc("active eq false")))
        .await;
    assert_eq!(r.body["totalResults"], 1);

    // Reactivate.
    let reactivate = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let r = app.patch(&format!("/Users/{id}"), &reactivate).await;
    assert_eq!(r.body["active"], true);

    // Custom AIW apps deactivate with a PUT carrying active:false.
    let mut user = r.body.clone();
    user["active"] = json!(false);
    assert_eq!(
        app.put(&format!("/Users/{id}"), &user).await.body["active"],
        false
    );

    // DELETE (Entra and others use it; Okta never does).
    let r = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.get(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
    app.delete(&format!("/Users/{id}"))
        .await
        .assert_error(404, None);
    // The name is free again.
    app.create_user(name).await;
}

#[actix_web::test]
async fn import_pages_through_everyone_once() {
    let app = TestApp::spawn().await;
    let mut expected = Vec::new();
    for i in 0..250 {
        let u = app.create_user(&format!("user{i:03}@example.com")).await;
        expected.push(u["id"].as_str().unwrap().to_owned());
    }
    // Okta's import: startIndex=1, 101, 201 with count=100 until totalResults.
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = app
            .get(&format!("/Users?startIndex={start}&count=100"))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["totalResults"], 250);
        assert_eq!(r.body["startIndex"], start);
        let page = r.body["Resources"].as_array().unwrap();
        assert_eq!(
            r.body["itemsPerPage"],
            page.len(),
            "itemsPerPage is what the page holds"
        );
        seen.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        start += 100;
        if start > 250 {
            break;
        }
    }
    assert_eq!(seen, expected, "each user exactly once, in a stable order");
    // count=0 gives the total only; a count over the maximum is lowered to it.
    let r = app.get("/Users?count=0").await;
    assert_eq!(
        (
            r.body["totalResults"].as_u64(),
            r.body["itemsPerPage"].as_u64()
        ),
        (Some(250), Some(0))
    );
    let r = app.get("/Users?startIndex=-4&count=5").await;
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["itemsPerPage"], 5);
    let r = app.get("/Users?startIndex=249&count=100").await;
    assert_eq!(r.body["itemsPerPage"], 2);
    let r = app.get("/Users?startIndex=1000").await;
    assert_eq!(r.body["itemsPerPage"], 0);
    assert_eq!(r.body["totalResults"], 250);
}

#[actix_web::test]
async fn idp_filters() {
    let app = TestApp::spawn().await;
    let mut body = okta_user("ann@example.com");
    body["externalId"] = json!("ext-ANN");
    body["emails"] = json!([{"value": "Ann.Work@Example.com", "type": "work", "primary": true}, {"value": "ann@home.example", "type": "home"}]);
    let ann = app.post("/Users", &body).await.body;
    app.create_user("bob@example.com").await;
    let find = |f: &str| {
        let f = f.to_owned();
        let app = &app;
        async move { app.get(&format!("/Users?filter={}", enc(&f))).await }
    };
    let ids = |r: &Resp| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let ann_id = vec![ann["id"].as_str().unwrap().to_owned()];
    assert_eq!(ids(&find("externalId eq \"ext-ANN\"").await), ann_id);
    assert!(
        ids(&find("externalId eq \"ext-ann\"").await).is_empty(),
        "externalId is caseExact"
    );
    assert_eq!(
        ids(&find("emails.value eq \"ann.work@example.com\"").await),
        ann_id
    );
    assert_eq!(
        ids(&find("emails[type eq \"work\"].value eq \"ANN.WORK@EXAMPLE.COM\"").await),
        ann_id
    );
    assert!(
        ids(&find("emails[type eq \"home\"].value eq \"ann.work@example.com\"").await).is_empty()
    );
    assert_eq!(
        ids(&find("emails[type eq \"home\" and value eq \"ann@home.example\"]").await),
        ann_id
    );
    assert_eq!(
        ids(&find(&format!("id eq \"{}\"", ann_id[0])).await),
        ann_id
    );
    assert_eq!(
        ids(&find("userName eq \"ann@example.com\" and externalId eq \"ext-ANN\"").await),
        ann_id
    );
    assert!(
        ids(&find("userName eq \"ann@example.com\" and externalId eq \"other\"").await).is_empty()
    );
    assert_eq!(ids(&find("USERNAME Eq \"Ann@Example.COM\"").await), ann_id);
    assert_eq!(ids(&find("userName sw \"ANN@\"").await), ann_id);
    find("userName eq")
        .await
        .assert_error(400, Some("invalidFilter"));
    find("(userName eq \"a\"")
        .await
        .assert_error(400, Some("invalidFilter"));
}
