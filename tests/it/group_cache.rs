//! A large group's answer is kept and served again while its version holds
//! (`web::scim::group_cache`, issue 17 item 2): a kept answer equals a fresh one byte for byte,
//! and every change that shows in the answer is seen by the next GET — membership, a member's
//! display name, a member's deletion, the group's own name.

use std::io::Read;

use futures_util::future::join_all;
use serde_json::{Value, json};

use scimgate::web::scim::group_cache::MIN_BYTES;

use crate::support::*;

/// GET as Okta sends it (or without `Accept-Encoding`): status, ETag, `Content-Encoding` and
/// the body decoded.
async fn get(app: &TestApp, path: &str, gzip: bool) -> (u16, String, Option<String>, Vec<u8>) {
    let mut req = app
        .client
        .get(app.url(path))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Accept", "application/scim+json"));
    if gzip {
        req = req.insert_header(("Accept-Encoding", "gzip,deflate"));
    }
    let mut res = req.send().await.unwrap();
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (etag, enc) = (
        header("etag").unwrap_or_default(),
        header("content-encoding"),
    );
    let raw = res.body().limit(64 * 1024 * 1024).await.unwrap().to_vec();
    let body = match enc.as_deref() {
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        None => raw,
        Some(other) => panic!("unexpected encoding {other}"),
    };
    (res.status().as_u16(), etag, enc, body)
}

/// Two GETs in a row (the second served from the kept answer) agree byte for byte, gzipped
/// or not; the parsed group is returned.
async fn twice(app: &TestApp, path: &str) -> (String, Value) {
    let (s1, e1, enc1, b1) = get(app, path, true).await;
    let (s2, e2, enc2, b2) = get(app, path, true).await;
    let (s3, e3, enc3, b3) = get(app, path, false).await;
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(enc1.as_deref(), Some("gzip"));
    assert_eq!(enc2.as_deref(), Some("gzip"));
    assert_eq!(enc3, None);
    assert_eq!(e1, e2);
    assert_eq!(e1, e3);
    assert!(
        b1 == b2 && b1 == b3,
        "a kept answer differs from a fresh one"
    );
    assert!(
        b1.len() >= MIN_BYTES,
        "{} bytes: too small to be kept",
        b1.len()
    );
    (e1, serde_json::from_slice(&b1).unwrap())
}

fn display_of(g: &Value, id: &str) -> Option<String> {
    g["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["value"] == id)
        .map(|m| m["display"].as_str().unwrap().to_owned())
}

#[actix_web::test]
async fn a_kept_group_answer_follows_every_change_it_shows() {
    const N: usize = 700;
    let app = TestApp::spawn().await;
    let mut ids: Vec<String> = Vec::with_capacity(N);
    for chunk in (0..N).collect::<Vec<_>>().chunks(100) {
        let made = join_all(chunk.iter().map(|i| {
            let app = &app;
            async move { app.create_user(&format!("kept{i}@example.com")).await }
        }))
        .await;
        ids.extend(made.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
    }
    let value: Vec<Value> = ids[..N - 1].iter().map(|id| json!({"value": id})).collect();
    let g = app
        .post(
            "/Groups",
            &json!({"displayName": "Everyone", "members": value}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let (etag, body) = twice(&app, &path).await;
    assert_eq!(body["members"].as_array().unwrap().len(), N - 1);

    // A conditional GET still answers 304 with the kept version.
    let mut res = app
        .client
        .get(app.url(&path))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("If-None-Match", etag.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 304);
    assert!(res.body().await.unwrap().is_empty());

    let ops = |list: Value| json!({"schemas": [PATCH_URN], "Operations": list});
    let mut last = etag;
    fn moved(last: &mut String, etag: String) {
        assert_ne!(&etag, last, "the version did not move");
        *last = etag;
    }

    // Membership: Okta's add and remove.
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "add", "path": "members", "value": [{"value": ids[N - 1]}]}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (etag, body) = twice(&app, &path).await;
    moved(&mut last, etag);
    assert_eq!(body["members"].as_array().unwrap().len(), N);
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (etag, body) = twice(&app, &path).await;
    moved(&mut last, etag);
    assert_eq!(display_of(&body, &ids[0]), None);

    // A member's display name: set, then changed, then removed (back to the userName).
    let rename = |v: Value| ops(json!([{"op": "replace", "path": "displayName", "value": v}]));
    let user = format!("/Users/{}", ids[1]);
    for (value, shown) in [
        (json!("Kept \"One\""), "Kept \"One\""),
        (json!("Kept Two"), "Kept Two"),
    ] {
        let r = app.patch(&user, &rename(value)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (etag, body) = twice(&app, &path).await;
        moved(&mut last, etag);
        assert_eq!(display_of(&body, &ids[1]).as_deref(), Some(shown));
    }
    let r = app
        .patch(
            &user,
            &ops(json!([{"op": "remove", "path": "displayName"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (etag, body) = twice(&app, &path).await;
    moved(&mut last, etag);
    assert_eq!(
        display_of(&body, &ids[1]).as_deref(),
        Some("kept1@example.com")
    );

    // A change to a member that does not show (its title) leaves the version alone.
    let r = app
        .patch(
            &user,
            &ops(json!([{"op": "replace", "path": "title", "value": "Engineer"}])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (etag, _) = twice(&app, &path).await;
    assert_eq!(etag, last);

    // A member deleted.
    let r = app.delete(&format!("/Users/{}", ids[2])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (etag, body) = twice(&app, &path).await;
    moved(&mut last, etag);
    assert_eq!(display_of(&body, &ids[2]), None);
    assert_eq!(body["members"].as_array().unwrap().len(), N - 2);

    // Many GETs at once after a change (one renders, the others wait for it): all the same,
    // all the new version.
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[3])}])),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let answers = join_all((0..16).map(|i| get(&app, &path, i % 2 == 0))).await;
    let (_, etag, _, first) = &answers[0];
    moved(&mut last, etag.clone());
    for (status, e, _, body) in &answers {
        assert_eq!((*status, e), (200, etag));
        assert!(body == first, "concurrent answers differ");
    }
    let body: Value = serde_json::from_slice(first).unwrap();
    assert_eq!(display_of(&body, &ids[3]), None);

    // The group's own name.
    let r = app.patch(&path, &rename(json!("Everyone, renamed"))).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (etag, body) = twice(&app, &path).await;
    moved(&mut last, etag);
    assert_eq!(body["displayName"], "Everyone, renamed");
}
