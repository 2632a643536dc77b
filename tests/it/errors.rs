//! Each error of RFC 7644 §3.12 that the Users API produces, with its status and scimType.

use awc::http::StatusCode;
use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn error_bodies() {
    let app = TestApp::spawn().await;
    let auth = ("Authorization", format!("Bearer {}", app.token));

    // Malformed JSON.
    let r = send(
        app.client
            .post(app.url("/Users"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/scim+json")),
        None,
    )
    .await;
    r.assert_error(400, Some("invalidSyntax"));
    let mut res = app
        .client
        .post(app.url("/Users"))
        .insert_header(auth.clone())
        .insert_header(("Content-Type", "application/json"))
        .send_body("{\"userName\": ")
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(
        (res.status().as_u16(), body["scimType"].as_str()),
        (400, Some("invalidSyntax"))
    );

    // Not an object.
    app.post("/Users", &json!(["userName"]))
        .await
        .assert_error(400, Some("invalidSyntax"));
    // Missing userName; wrong types.
    app.post("/Users", &json!({"name": {"givenName": "x"}}))
        .await
        .assert_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": ""}))
        .await
        .assert_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": 42}))
        .await
        .assert_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": "a", "active": "sometimes"}))
        .await
        .assert_error(400, Some("invalidValue"));
    app.post(
        "/Users",
        &json!({"userName": "a", "emails": "a@example.com"}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": "a", "name": "Ann"}))
        .await
        .assert_error(400, Some("invalidValue"));
    app.post("/Users", &json!({"userName": "a", "emails": [{"value": "a@x", "primary": true}, {"value": "b@x", "primary": true}]})).await.assert_error(400, Some("invalidValue"));

    // Unsupported media type.
    let mut res = app
        .client
        .post(app.url("/Users"))
        .insert_header(auth.clone())
        .insert_header(("Content-Type", "text/xml"))
        .send_body("<user/>")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body: serde_json::Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(body["status"], "415");

    // Too large: over scim.max_body_bytes (1 MiB by default).
    let big = json!({"userName": "big", "displayName": "x".repeat(1024 * 1024 + 10)});
    app.post("/Users", &big).await.assert_error(413, None);

    // Unknown id; unknown endpoint; wrong method.
    app.get("/Users/does-not-exist")
        .await
        .assert_error(404, None);
    app.put("/Users/does-not-exist", &okta_user("x@example.com"))
        .await
        .assert_error(404, None);
    app.delete("/Users/does-not-exist")
        .await
        .assert_error(404, None);
    app.get("/Nope").await.assert_error(404, None);
    let r = send(
        app.client
            .delete(app.url("/Users"))
            .insert_header(auth.clone()),
        None,
    )
    .await;
    r.assert_error(405, None);

    // Bad query parameters.
    app.get("/Users?count=many")
        .await
        .assert_error(400, Some("invalidValue"));
    app.get("/Users?attributes=not%20a%20path")
        .await
        .assert_error(400, Some("invalidValue"));

    // Duplicate userName, case-insensitively, is 409 uniqueness (Unicode folding, not ASCII).
    app.create_user("straße@example.com").await;
    app.post("/Users", &okta_user("STRASSE@EXAMPLE.COM"))
        .await
        .assert_error(409, Some("uniqueness"));

    // password is accepted and never stored or returned, not even in a list.
    let u = app.create_user("pw@example.com").await;
    assert!(u.get("password").is_none());
    let l = app
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"pw@example.com\"")
        ))
        .await;
    assert!(l.body["Resources"][0].get("password").is_none());
    let raw = std::fs::read(app.db_path()).unwrap();
    let wal = std::fs::read(app.db_path().with_extension("db-wal")).unwrap_or_default();
    let needle = b"1mz050nq";
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle)
            && !wal.windows(needle.len()).any(|w| w == needle),
        "the password reached the database file"
    );
}

#[actix_web::test]
async fn leniency() {
    let app = TestApp::spawn().await;
    // OneLogin-style: string booleans, id:null, unknown attributes, mixed-case names.
    let r = app.post("/Users", &json!({
        "schemas": [USER_URN], "id": null, "USERNAME": "lenient@example.com", "Active": "True",
        "customField": {"x": 1}, "name": {"GivenName": "L"}
    })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["userName"], "lenient@example.com");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"], json!({"givenName": "L"}));
    assert!(r.body.get("customField").is_none());
    // Aliases are stored and returned as sent.
    let mut body = okta_user("alias.owner@example.com");
    body["aliases"] = json!([{"value": "ao@example.com", "type": "email", "primary": true}, {"value": "ao", "type": "username"}]);
    let r = app.post("/Users", &body).await;
    assert_eq!(r.body["aliases"], body["aliases"]);
    // projection
    let id = r.body["id"].as_str().unwrap();
    let p = app
        .get(&format!("/Users/{id}?attributes=userName,name.givenName"))
        .await;
    assert_eq!(
        p.body,
        json!({"schemas": [USER_URN], "id": id, "userName": "alias.owner@example.com", "name": {"givenName": "Test"}})
    );
    let p = app
        .get(&format!(
            "/Users/{id}?excludedAttributes=emails,meta,aliases"
        ))
        .await;
    assert!(
        p.body.get("emails").is_none()
            && p.body.get("meta").is_none()
            && p.body["userName"].is_string()
    );
}
