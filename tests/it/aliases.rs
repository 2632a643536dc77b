//! Aliases: second login names, unique across the appliance with userNames, filterable,
//! removable (issue: ownership and aliases).

use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn aliases_are_unique_login_names() {
    let app = TestApp::spawn().await;
    let mut body = okta_user("ann@example.com");
    body["aliases"] = json!([
        {"value": "ann.alt@example.com", "type": "email", "primary": true},
        {"value": "ANN@example.com", "type": "email"},
        {"value": "Ann.Alt@Example.com", "type": "username"},
        {"value": "", "type": "email"},
        {"value": "annie", "type": "username"}
    ]);
    let r = app.post("/Users", &body).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    // The alias equal to the userName, the repeated one and the empty one are dropped.
    assert_eq!(
        r.body["aliases"],
        json!([
            {"value": "ann.alt@example.com", "type": "email", "primary": true},
            {"value": "annie", "type": "username"}
        ])
    );
    let ann = r.body["id"].as_str().unwrap().to_owned();

    // Another user cannot take Ann's alias as userName or as alias (case-insensitively).
    let r = app.post("/Users", &okta_user("ANNIE")).await;
    r.assert_error(409, Some("uniqueness"));
    assert!(r.body["detail"].as_str().unwrap().contains("userName"));
    let mut bob = okta_user("bob@example.com");
    bob["aliases"] = json!([{"value": "Ann.Alt@example.com", "type": "email"}]);
    let r = app.post("/Users", &bob).await;
    r.assert_error(409, Some("uniqueness"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("aliases"),
        "{}",
        r.body
    );
    // …nor Ann's userName as an alias; and the failed request created nothing.
    bob["aliases"] = json!([{"value": "ann@example.com"}]);
    app.post("/Users", &bob)
        .await
        .assert_error(409, Some("uniqueness"));
    assert_eq!(
        app.get(&format!(
            "/Users?filter={}",
            enc("userName eq \"bob@example.com\"")
        ))
        .await
        .body["totalResults"],
        0
    );

    // Filterable.
    for f in [
        "aliases.value eq \"ANNIE\"",
        "aliases[type eq \"email\"].value eq \"ann.alt@example.com\"",
        "aliases[type eq \"email\" and primary eq true]",
    ] {
        let r = app.get(&format!("/Users?filter={}", enc(f))).await;
        assert_eq!(r.body["totalResults"], 1, "{f}: {}", r.body);
        assert_eq!(r.body["Resources"][0]["id"], ann.as_str());
    }

    // Removing an alias in the IdP frees it: PATCH remove, then PUT without aliases.
    let path = format!("/Users/{ann}");
    let r = app
        .patch(
            &path,
            &json!({"Operations": [{"op": "remove", "path": "aliases[value eq \"annie\"]"}]}),
        )
        .await;
    assert_eq!(r.body["aliases"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(app.create_user("annie").await["userName"], "annie");
    let mut put = r.body.clone();
    put.as_object_mut().unwrap().remove("aliases");
    let r = app.put(&path, &put).await;
    assert!(r.body.get("aliases").is_none());
    bob["aliases"] = json!([{"value": "ann.alt@example.com", "type": "email"}]);
    assert_eq!(app.post("/Users", &bob).await.status.as_u16(), 201);
    // An alias given as an empty value removes it too.
    let r = app.patch(&path, &json!({"Operations": [{"op": "add", "path": "aliases", "value": [{"value": "ann2"}]}]})).await;
    assert_eq!(r.body["aliases"], json!([{"value": "ann2"}]));
    let r = app.patch(&path, &json!({"Operations": [{"op": "replace", "path": "aliases[value eq \"ann2\"].value", "value": ""}]})).await;
    assert!(r.body.get("aliases").is_none(), "{}", r.body);
}

/// Issue 17 item 3: a userName is held unique by the users table's own index and an alias by
/// `login_names`; a replace that changes the userName is checked against both, in every
/// direction, case-insensitively, and a refused replace changes nothing.
#[actix_web::test]
async fn a_changed_user_name_is_checked_against_user_names_and_aliases() {
    let app = TestApp::spawn().await;
    let mut ann = okta_user("ann@example.com");
    ann["aliases"] = json!([{"value": "annie", "type": "username"}]);
    let r = app.post("/Users", &ann).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let bob = app.create_user("bob@example.com").await;
    let bob_path = format!("/Users/{}", bob["id"].as_str().unwrap());

    // Bob takes Ann's userName, then her alias, by PUT and by PATCH.
    for taken in ["ANN@example.com", "Annie"] {
        let mut put = bob.clone();
        put["userName"] = json!(taken);
        let r = app.put(&bob_path, &put).await;
        r.assert_error(409, Some("uniqueness"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("userName"),
            "{}",
            r.body
        );
        app.patch(
            &bob_path,
            &json!({"Operations": [{"op": "replace", "path": "userName", "value": taken}]}),
        )
        .await
        .assert_error(409, Some("uniqueness"));
    }
    assert_eq!(app.get(&bob_path).await.body["userName"], "bob@example.com");
    // Bob's own userName in another case is his to keep.
    let mut put = bob.clone();
    put["userName"] = json!("BOB@example.com");
    let r = app.put(&bob_path, &put).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    // A userName given up is free again.
    let mut put = r.body.clone();
    put["userName"] = json!("robert@example.com");
    assert_eq!(app.put(&bob_path, &put).await.status.as_u16(), 200);
    assert_eq!(
        app.create_user("bob@example.com").await["userName"],
        "bob@example.com"
    );
    // Each login name resolves to its holder (the verify path's resolver).
    let holder = |name: &'static str| {
        let directory = app.directory.clone();
        async move {
            directory
                .resolve_login(name)
                .await
                .unwrap()
                .map(|u| u.doc["userName"].as_str().unwrap().to_owned())
        }
    };
    assert_eq!(holder("ANNIE").await.as_deref(), Some("ann@example.com"));
    assert_eq!(
        holder("Robert@example.com").await.as_deref(),
        Some("robert@example.com")
    );
    assert_eq!(holder("nobody@example.com").await, None);
}
