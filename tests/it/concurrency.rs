//! Many parallel writes: every one acknowledged, every one on disk, no "database is locked".

use futures_util::future::join_all;
use std::collections::HashSet;

use crate::support::*;

#[actix_web::test]
async fn two_hundred_parallel_creates() {
    let mut app = TestApp::spawn().await;
    let requests = (0..200).map(|i| {
        let app = &app;
        async move {
            app.post("/Users", &okta_user(&format!("parallel{i}@example.com")))
                .await
        }
    });
    let responses = join_all(requests).await;
    let mut ids = HashSet::new();
    for r in &responses {
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        ids.insert(r.body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 200);
    // The same names again, in parallel: all 409, none created twice.
    let again = join_all((0..50).map(|i| {
        let app = &app;
        async move {
            app.post("/Users", &okta_user(&format!("PARALLEL{i}@example.com")))
                .await
        }
    }))
    .await;
    for r in &again {
        r.assert_error(409, Some("uniqueness"));
    }
    // After a restart everything acknowledged is there.
    app.restart().await;
    let r = app.get("/Users?count=1000").await;
    assert_eq!(r.body["totalResults"], 200);
    let listed: HashSet<String> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids);
    app.stop().await;
}
