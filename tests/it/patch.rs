//! PATCH shapes Okta and Entra send for users.

use awc::http::StatusCode;
use serde_json::{Value, json};

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

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PROVISIONING: &str = "urn:scimgate:params:scim:schemas:extension:2.0:Provisioning";

fn one_op(op: &str, path: &str, value: Option<Value>) -> Value {
    let mut o = json!({"op": op, "path": path});
    if let Some(v) = value {
        o["value"] = v;
    }
    json!({"schemas": [PATCH_URN], "Operations": [o]})
}

fn has_schema(body: &Value, urn: &str) -> bool {
    body["schemas"].as_array().unwrap().iter().any(|s| s == urn)
}

/// Issue 15 item 2: `add`, `replace` and `remove` of a whole extension, by its URN as the path.
#[actix_web::test]
async fn patch_addresses_a_whole_extension_on_users() {
    let app = TestApp::spawn().await;
    let u = app.create_user("whole.ext@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    assert!(!has_schema(&u, ENTERPRISE));
    let version = |r: &Resp| r.body["meta"]["version"].clone();

    let r = app
        .patch(
            &path,
            &one_op(
                "add",
                ENTERPRISE,
                Some(json!({"employeeNumber": "42", "costCenter": "cc"})),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body[ENTERPRISE],
        json!({"employeeNumber": "42", "costCenter": "cc"})
    );
    assert!(has_schema(&r.body, ENTERPRISE));
    assert_ne!(version(&r), u["meta"]["version"]);

    // add merges; the URN is matched case-insensitively.
    let r = app
        .patch(
            &path,
            &one_op(
                "Add",
                &ENTERPRISE.to_uppercase(),
                Some(json!({"department": "R&D"})),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body[ENTERPRISE],
        json!({"employeeNumber": "42", "costCenter": "cc", "department": "R&D"})
    );
    // Sub-paths inside the extension keep working.
    let r = app
        .patch(
            &path,
            &one_op(
                "add",
                &format!("{ENTERPRISE}:manager.value"),
                Some(json!("mgr-7")),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "mgr-7");

    // replace makes the extension exactly the value.
    let r = app
        .patch(
            &path,
            &one_op("replace", ENTERPRISE, Some(json!({"costCenter": "c2"}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE], json!({"costCenter": "c2"}));
    let before = version(&r);
    // The same replace again changes nothing, and the version stays.
    let r = app
        .patch(
            &path,
            &one_op("replace", ENTERPRISE, Some(json!({"costCenter": "c2"}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(version(&r), before);

    // remove removes it, and its URN from schemas.
    let r = app.patch(&path, &one_op("remove", ENTERPRISE, None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get(ENTERPRISE).is_none(), "{}", r.body);
    assert!(!has_schema(&r.body, ENTERPRISE));
    assert_ne!(version(&r), before);
    let stored = app.get(&path).await;
    assert!(stored.body.get(ENTERPRISE).is_none());

    // replace creates it too; a value that is not an object is refused.
    let r = app
        .patch(
            &path,
            &one_op("replace", ENTERPRISE, Some(json!({"division": "d"}))),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE], json!({"division": "d"}));
    assert!(has_schema(&r.body, ENTERPRISE));
    app.patch(&path, &one_op("add", ENTERPRISE, Some(json!("42"))))
        .await
        .assert_error(400, Some("invalidValue"));

    // The provisioning extension is read-only, whatever the op.
    for (op, value) in [
        ("add", Some(json!({"source": {"type": "manual"}}))),
        ("replace", Some(json!({}))),
        ("remove", None),
    ] {
        app.patch(&path, &one_op(op, PROVISIONING, value))
            .await
            .assert_error(400, Some("mutability"));
    }
    let after = app.get(&path).await;
    assert_eq!(after.body[ENTERPRISE], json!({"division": "d"}));
    assert_eq!(after.body[PROVISIONING]["source"]["type"], "integration");
}

/// Groups: the provisioning extension is read-only; the enterprise extension is no schema of
/// a Group (RFC 7644 §3.5.2: invalidPath), as a whole or as a prefix.
#[actix_web::test]
async fn patch_of_a_whole_extension_on_groups() {
    let app = TestApp::spawn().await;
    let g = app.post("/Groups", &json!({"displayName": "Whole"})).await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    for (op, value) in [
        ("add", Some(json!({"employeeNumber": "1"}))),
        ("replace", Some(json!({"employeeNumber": "1"}))),
        ("remove", None),
    ] {
        app.patch(&path, &one_op(op, ENTERPRISE, value.clone()))
            .await
            .assert_error(400, Some("invalidPath"));
        app.patch(
            &path,
            &one_op(
                op,
                &format!("{ENTERPRISE}:employeeNumber"),
                value.map(|_| json!("1")),
            ),
        )
        .await
        .assert_error(400, Some("invalidPath"));
        app.patch(&path, &one_op(op, PROVISIONING, Some(json!({}))))
            .await
            .assert_error(400, Some("mutability"));
    }
    // The core schema as the path: add and replace take the value as a path-less op would.
    let r = app
        .patch(
            &path,
            &one_op(
                "replace",
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                Some(json!({"displayName": "Renamed"})),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Renamed");
    assert_ne!(r.body["meta"]["version"], g.body["meta"]["version"]);
    app.patch(
        &path,
        &one_op(
            "remove",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
        ),
    )
    .await
    .assert_error(400, Some("invalidPath"));
}
