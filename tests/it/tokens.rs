//! API tokens: the header forms accepted, and isolation between integrations.

use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn token_forms_and_isolation() {
    let app = TestApp::spawn().await;
    let (other_base, other_token) = app.second_integration("sailpoint").await;

    // Bearer and the bare token both work (Okta's Header Auth sends what was pasted).
    for value in [
        format!("Bearer {}", app.token),
        app.token.clone(),
        format!("bearer {}", app.token),
    ] {
        let r = send(
            app.client
                .get(app.url("/Users"))
                .insert_header(("Authorization", value.clone())),
            None,
        )
        .await;
        assert_eq!(r.status.as_u16(), 200, "{value}");
    }
    // Missing, wrong, Basic, and the other integration's token: 401 with a SCIM body.
    send(app.client.get(app.url("/Users")), None)
        .await
        .assert_error(401, None);
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", "Bearer scg_AAAA")),
        None,
    )
    .await
    .assert_error(401, None);
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", "Basic dXNlcjpwYXNz")),
        None,
    )
    .await
    .assert_error(401, None);
    send(
        app.client
            .get(app.url("/Users"))
            .insert_header(("Authorization", format!("Bearer {other_token}"))),
        None,
    )
    .await
    .assert_error(401, None);
    // A Base URL with an id that is not an integration.
    let bogus = app
        .base_url
        .replace(&app.integration_id, "0123456789abcdef0123456789abcdef");
    send(
        app.client
            .get(format!("{bogus}/Users"))
            .insert_header(("Authorization", format!("Bearer {}", app.token))),
        None,
    )
    .await
    .assert_error(401, None);

    // Each integration sees only its own users.
    let mine = app.create_user("mine@example.com").await;
    let other_get = |path: String| {
        let req = app
            .client
            .get(format!("{other_base}{path}"))
            .insert_header(("Authorization", format!("Bearer {other_token}")));
        send(req, None)
    };
    let r = other_get("/Users".into()).await;
    assert_eq!(r.body["totalResults"], 0);
    other_get(format!("/Users/{}", mine["id"].as_str().unwrap()))
        .await
        .assert_error(404, None);
    let r = other_get(format!(
        "/Users?filter={}",
        enc("userName eq \"mine@example.com\"")
    ))
    .await;
    assert_eq!(r.body["totalResults"], 0);
    // The other integration cannot change or delete it either.
    let put = app
        .client
        .put(format!(
            "{other_base}/Users/{}",
            mine["id"].as_str().unwrap()
        ))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(put, Some(&okta_user("mine@example.com")))
        .await
        .assert_error(404, None);
    let del = app
        .client
        .delete(format!(
            "{other_base}/Users/{}",
            mine["id"].as_str().unwrap()
        ))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    send(del, None).await.assert_error(404, None);
    // userName is unique across the appliance: the other integration gets a 409 that
    // reveals nothing else.
    let post = app
        .client
        .post(format!("{other_base}/Users"))
        .insert_header(("Authorization", format!("Bearer {other_token}")));
    let r = send(post, Some(&okta_user("MINE@example.com"))).await;
    r.assert_error(409, Some("uniqueness"));
    assert!(!r.body.to_string().contains(mine["id"].as_str().unwrap()));
    assert_eq!(
        app.get(&format!("/Users/{}", mine["id"].as_str().unwrap()))
            .await
            .body["userName"],
        json!("mine@example.com")
    );
}
