//! PATCH shapes Okta and Entra send for users.

use awc::http::StatusCode;
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn entra_user_updates() {
    let app = TestApp::spawn().await;
    let u = app.create_user("entra.user@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let ops = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new.address@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Newname"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-1"},
        {"op": "replace", "value": {
            "displayName": "New Display",
            "name.givenName": "Newgiven",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984"
        }},
    ]});
    let r = app.patch(&path, &ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "new.address@example.com");
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Newgiven", "familyName": "Newname"})
    );
    assert_eq!(r.body["displayName"], "New Display");
    let ext = &r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["manager"]["value"], "mgr-1");
    assert_eq!(ext["employeeNumber"], "701984");
    assert!(r.body["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));
    // The new email is what filters find now.
    let f = app
        .get(&format!(
            "/Users?filter={}",
            enc("emails[type eq \"work\"].value eq \"new.address@example.com\"")
        ))
        .await;
    assert_eq!(f.body["totalResults"], 1);

    // Entra without its compliance flag: "False" as a string.
    let r = app.patch(&path, &json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})).await;
    assert_eq!(r.body["active"], false);
    let r = app.patch(&path, &json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": true}]})).await;
    assert_eq!(r.body["active"], true);

    // userName changes through PATCH, and the old name is free again.
    let r = app.patch(&path, &json!({"Operations": [{"op": "Replace", "path": "userName", "value": "renamed@example.com"}]})).await;
    assert_eq!(r.body["userName"], "renamed@example.com");
    app.create_user("entra.user@example.com").await;
    let clash = app.patch(&path, &json!({"Operations": [{"op": "Replace", "path": "userName", "value": "ENTRA.USER@example.com"}]})).await;
    clash.assert_error(409, Some("uniqueness"));
}

#[actix_web::test]
async fn patch_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let u = app.create_user("atomic@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "Should not stay"},
                {"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"},
            ]}),
        )
        .await;
    r.assert_error(400, Some("noTarget"));
    let now = app.get(&path).await.body;
    assert_eq!(now["displayName"], "Test User");
    assert_eq!(now["meta"]["version"], u["meta"]["version"]);

    app.patch(
        &path,
        &json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
    )
    .await
    .assert_error(400, Some("mutability"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}),
    )
    .await
    .assert_error(400, Some("invalidPath"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "jump", "path": "active"}]}),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    app.patch(&path, &json!({"Operations": [{"op": "remove"}]}))
        .await
        .assert_error(400, Some("noTarget"));
    app.patch(
        "/Users/00000000-0000-0000-0000-000000000000",
        &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .await
    .assert_error(404, None);
}

#[actix_web::test]
async fn if_match_guards_writes() {
    let app = TestApp::spawn().await;
    let u = app.create_user("etag@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let etag = u["meta"]["version"].as_str().unwrap().to_owned();
    let deactivate = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    let ok = send(
        app.client
            .patch(app.url(&path))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("If-Match", etag.as_str())),
        Some(&deactivate),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let stale = send(
        app.client
            .patch(app.url(&path))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("If-Match", etag.as_str())),
        Some(&deactivate),
    )
    .await;
    stale.assert_error(412, None);
}
