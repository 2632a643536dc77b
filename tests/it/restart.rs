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

/// A list cursor outlives a restart: its key is derived from the secrets key, not made at
/// start-up, so a walk continues after a restart, as it would on another appliance sharing
/// the database (issue 18 item 4).
#[actix_web::test]
async fn a_cursor_walk_continues_across_a_restart() {
    let mut app = TestApp::spawn().await;
    for i in 0..7 {
        app.create_user(&format!("walk{i}@example.com")).await;
    }
    let first = app.get("/Users?count=3&cursor=").await;
    assert_eq!(first.status.as_u16(), 200, "{}", first.body);
    let next = first.body["nextCursor"].as_str().unwrap().to_owned();
    app.restart().await;
    let mut seen: Vec<String> = first.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_owned())
        .collect();
    let mut cursor = next;
    loop {
        let r = app
            .get(&format!("/Users?count=3&cursor={}", enc(&cursor)))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.body);
        seen.extend(
            r.body["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["userName"].as_str().unwrap().to_owned()),
        );
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let want: Vec<String> = (0..7).map(|i| format!("walk{i}@example.com")).collect();
    assert_eq!(seen, want);
    app.stop().await;
}
