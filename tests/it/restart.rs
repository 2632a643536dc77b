//! A restart on the same database file keeps everything.

use serde_json::json;

use crate::support::*;

#[actix_web::test]
async fn restart_keeps_data() {
    let mut app = TestApp::spawn().await;
    let u = app.create_user("persist@example.com").await;
    let id = u["id"].as_str().unwrap().to_owned();
    let r = app
        .patch(
            &format!("/Users/{id}"),
            &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
        )
        .await;
    assert_eq!(r.body["active"], false);
    app.restart().await;
    // Same token, same Base URL path, same user, same version.
    let r = app.get(&format!("/Users/{id}")).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(r.body["meta"]["version"], "W/\"2\"");
    app.post("/Users", &okta_user("persist@example.com"))
        .await
        .assert_error(409, Some("uniqueness"));
    app.stop().await;
}
