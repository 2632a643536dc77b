//! Which answers are gzipped for a client that accepts gzip (Okta sends
//! `Accept-Encoding: gzip,deflate` on every request): a body that fits one TCP segment goes
//! out as it is, with its length; a larger one is compressed (`web::compress`).

use scimgate::web::compress::MIN_COMPRESSED_BYTES;

use crate::support::*;

/// GET with Okta's headers; the status, `Content-Encoding`, `Content-Length` and raw body.
async fn okta_get(app: &TestApp, path: &str) -> (u16, Option<String>, Option<String>, Vec<u8>) {
    let mut res = app
        .client
        .get(app.url(path))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Accept", "application/scim+json"))
        .insert_header(("Accept-Encoding", "gzip,deflate"))
        .insert_header(("User-Agent", "Okta SCIM Client 1.0.0"))
        .send()
        .await
        .unwrap();
    let header = |n: &str| res.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (enc, len) = (header("content-encoding"), header("content-length"));
    let body = res.body().limit(64 * 1024 * 1024).await.unwrap().to_vec();
    (res.status().as_u16(), enc, len, body)
}

#[actix_web::test]
async fn small_answers_go_out_as_they_are_and_large_ones_gzipped() {
    let app = TestApp::spawn().await;
    let user = app.create_user("isabelle.kennedy@example.com").await;
    let id = user["id"].as_str().unwrap();

    // One user, and Okta's lookup answering with one user: below one segment, not compressed,
    // no `identity` mark left on the answer, a Content-Length instead of chunks.
    for path in [
        format!("/Users/{id}"),
        format!(
            "/Users?filter={}&startIndex=1&count=100",
            enc("userName eq \"isabelle.kennedy@example.com\"")
        ),
    ] {
        let (status, encoding, length, body) = okta_get(&app, &path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(encoding, None, "{path}");
        assert!(
            (body.len() as u64) < MIN_COMPRESSED_BYTES,
            "{path}: {}",
            body.len()
        );
        assert_eq!(length, Some(body.len().to_string()), "{path}");
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(parsed.is_object(), "{path}");
    }

    // A list of several users is larger than a segment: gzipped, as before.
    for i in 0..5 {
        app.create_user(&format!("user{i}@example.com")).await;
    }
    let (status, encoding, _, body) = okta_get(&app, "/Users?startIndex=1&count=100").await;
    assert_eq!(status, 200);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
}
