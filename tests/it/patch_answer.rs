//! What a successful PATCH answers (issue 17 item 2; RFC 7644 §3.5.2, RFC 7240): 204 for a
//! group by default, 200 with the (projected) resource when the request asks for it, the
//! integration's *PATCH answer* setting (admin page, directory) switching the default; and a
//! membership PATCH on a large group changing exactly the rows it names.

use std::collections::HashSet;

use awc::http::StatusCode;
use futures_util::future::join_all;
use serde_json::{Value, json};

use scimgate::directory::{PatchAnswer, SettingsChange};

use crate::support::admin::Browser;
use crate::support::*;

fn ops(list: Value) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": list})
}

async fn patch_with(app: &TestApp, path: &str, prefer: Option<&str>, body: &Value) -> Resp {
    let mut req = app
        .client
        .patch(app.url(path))
        .insert_header(("Authorization", format!("Bearer {}", app.token)))
        .insert_header(("Content-Type", "application/scim+json"));
    if let Some(p) = prefer {
        req = req.insert_header(("Prefer", p));
    }
    send(req, Some(body)).await
}

fn member_ids(g: &Value) -> HashSet<String> {
    g["members"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| m["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn patch_answers_follow_the_request_and_the_setting() {
    let app = TestApp::spawn().await;
    let u = app.create_user("answer.member@example.com").await;
    let uid = u["id"].as_str().unwrap().to_owned();
    let g = app
        .post("/Groups", &json!({"displayName": "Answers"}))
        .await;
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let add = ops(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    let rename = |n: &str| ops(json!([{"op": "replace", "path": "displayName", "value": n}]));

    // No query, no Prefer (what Okta and Entra send): 204, with the new version's ETag.
    let r = app.patch(&path, &add).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(r.body, Value::Null);
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    // `attributes` or `excludedAttributes`: 200 with the projection (RFC 7644 §3.5.2).
    let r = app
        .patch(&format!("{path}?attributes=displayName"), &rename("A1"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "A1");
    assert!(r.body.get("members").is_none(), "{}", r.body);
    assert_eq!(r.header("etag").as_deref(), Some("W/\"3\""));
    let r = app
        .patch(&format!("{path}?excludedAttributes=members"), &rename("A2"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("members").is_none());
    assert_eq!(r.body["meta"]["version"], "W/\"4\"");
    // `attributes` wins over Prefer: return=minimal: the RFC requires the body then.
    let r = patch_with(
        &app,
        &format!("{path}?attributes=members"),
        Some("return=minimal"),
        &rename("A3"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(member_ids(&r.body), HashSet::from([uid.clone()]));
    // Prefer: return=representation: 200 with the whole group.
    let r = patch_with(&app, &path, Some("return=representation"), &rename("A4")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "A4");
    assert_eq!(member_ids(&r.body), HashSet::from([uid.clone()]));
    // Prefer: return=minimal: 204.
    let r = patch_with(&app, &path, Some("return=minimal"), &rename("A5")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.header("etag").is_some());

    // A user PATCH answers with the user unless asked otherwise (Okta's deactivate).
    let upath = format!("/Users/{uid}");
    let deactivate = ops(json!([{"op": "replace", "value": {"active": false}}]));
    let r = app.patch(&upath, &deactivate).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let r = patch_with(&app, &upath, Some("return=minimal"), &deactivate).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.header("etag").is_some());

    // The setting switches the groups' default to the resource; the request still decides.
    app.directory
        .update_settings(
            &app.integration_id,
            SettingsChange {
                group_patch_answer: Some(PatchAnswer::Resource),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    let r = app.patch(&path, &rename("B1")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "B1");
    assert_eq!(member_ids(&r.body), HashSet::from([uid.clone()]));
    let r = patch_with(&app, &path, Some("return=minimal"), &rename("B2")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // And back.
    app.directory
        .update_settings(
            &app.integration_id,
            SettingsChange {
                group_patch_answer: Some(PatchAnswer::NoContent),
                ..SettingsChange::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        app.patch(&path, &rename("B3")).await.status,
        StatusCode::NO_CONTENT
    );
}

#[actix_web::test]
async fn the_admin_page_shows_and_changes_the_patch_answer() {
    let app = TestApp::spawn().await;
    let iid = app.integration_id.clone();
    let mut b = Browser::admin(&app).await;
    let page = b.get(&format!("/admin/provisioning/{iid}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("<option value=\"no_content\" selected>No content (204)</option>"),
        "{}",
        page.body
    );
    let csrf = page.csrf();
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/settings"),
            &[("csrf", &csrf), ("group_patch_answer", "resource")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(p.location.as_deref().unwrap()).await;
    assert!(
        page.body
            .contains("<option value=\"resource\" selected>The resource (200)</option>"),
        "{}",
        page.body
    );
    // It applies to the next SCIM request.
    let g = app.post("/Groups", &json!({"displayName": "Paged"})).await;
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "replace", "path": "displayName", "value": "Paged2"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A form without the field (from before the setting existed) keeps it.
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/settings"),
            &[("csrf", &csrf), ("read_all_users", "on")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let i = app.directory.integration(&iid).await.unwrap();
    assert_eq!(i.settings.group_patch_answer, PatchAnswer::Resource);
    assert!(i.settings.read_all_users);
    // An unknown value: the page again, the message beside the field, nothing saved.
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/settings"),
            &[("csrf", &csrf), ("group_patch_answer", "maybe")],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("id=\"patch-answer-error\""), "{}", p.body);
    assert!(p.body.contains("is not a PATCH answer"), "{}", p.body);
    assert!(
        app.directory
            .integration(&iid)
            .await
            .unwrap()
            .settings
            .read_all_users
    );
    // Back to 204.
    let p = b
        .post(
            &format!("/admin/provisioning/{iid}/settings"),
            &[("csrf", &csrf), ("group_patch_answer", "no_content")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "replace", "path": "displayName", "value": "Paged3"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

/// A group of 2,000 members: Okta's one-member remove and add, Entra's `Add`/`Remove` with a
/// value array, change exactly the members they name; the GET renders every member once.
#[actix_web::test]
async fn membership_patches_on_a_large_group_touch_only_the_named_members() {
    const N: usize = 2_000;
    let app = TestApp::spawn().await;
    let mut ids: Vec<String> = Vec::with_capacity(N + 4);
    for chunk in (0..N + 4).collect::<Vec<_>>().chunks(100) {
        let made = join_all(chunk.iter().map(|i| {
            let app = &app;
            async move { app.create_user(&format!("large{i}@example.com")).await }
        }))
        .await;
        ids.extend(made.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
    }
    let (members, outside) = ids.split_at(N);
    let value: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    let g = app
        .post(
            "/Groups",
            &json!({"displayName": "Everyone", "members": value}),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{gid}");
    let mut expected: HashSet<String> = members.iter().cloned().collect();

    // Okta: remove one member by filter, then add one, one PATCH each.
    let r = app
        .patch(
            &path,
            &ops(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", members[7])}]),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    expected.remove(&members[7]);
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "add", "path": "members", "value": [{"value": outside[0], "display": "large"}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    expected.insert(outside[0].clone());
    // Entra: Add two (one already a member), Remove two (one not a member).
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": outside[1]}, {"$ref": null, "value": members[0]}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    expected.insert(outside[1].clone());
    let r = app
        .patch(
            &path,
            &ops(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": members[1999]}, {"$ref": null, "value": outside[2]}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    expected.remove(&members[1999]);
    // An unknown member in an add changes nothing (all or nothing).
    app.patch(
        &path,
        &ops(json!([{"op": "add", "path": "members", "value": [{"value": outside[3]}, {"value": "ghost"}]}])),
    )
    .await
    .assert_error(400, Some("invalidValue"));

    let got = app.get(&path).await;
    assert_eq!(got.status, StatusCode::OK);
    let listed = got.body["members"].as_array().unwrap();
    assert_eq!(listed.len(), expected.len(), "each member once");
    assert_eq!(member_ids(&got.body), expected);
    assert_eq!(got.header("etag").as_deref(), Some("W/\"5\""));
    // Each member rendered in full, from its row.
    let m = listed
        .iter()
        .find(|m| m["value"] == outside[0].as_str())
        .unwrap();
    assert_eq!(
        m,
        &json!({"value": outside[0], "$ref": app.url(&format!("/Users/{}", outside[0])), "display": "Test User", "type": "User"})
    );
    // The users' side agrees.
    let u = app.get(&format!("/Users/{}", members[7])).await.body;
    assert!(u.get("groups").is_none(), "{u}");
    let u = app.get(&format!("/Users/{}", outside[1])).await.body;
    assert_eq!(u["groups"][0]["value"], gid.as_str());
}
