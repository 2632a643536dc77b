//! Ownership between integrations and manual users: the guide's three settings walked over
//! HTTP with two integrations ("okta" and "sailpoint") and manually provisioned users.

use serde_json::{Value, json};

use scimgate::directory::Settings;
use scimgate::directory::manage::ManualUser;

use crate::support::*;

const PROV: &str = "urn:scimgate:params:scim:schemas:extension:2.0:Provisioning";

struct Other {
    base: String,
    token: String,
    id: String,
}

impl Other {
    async fn new(app: &TestApp, name: &str) -> Other {
        let (base, token) = app.second_integration(name).await;
        let id = base.rsplit('/').next().unwrap().to_owned();
        Other { base, token, id }
    }
    async fn call(&self, app: &TestApp, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => app.client.get(url),
            "POST" => app.client.post(url),
            "PUT" => app.client.put(url),
            "PATCH" => app.client.patch(url),
            _ => app.client.delete(url),
        }
        .insert_header(("Authorization", format!("Bearer {}", self.token)));
        send(req, body).await
    }
}

async fn manual(app: &TestApp, user_name: &str) -> String {
    let u = app
        .directory
        .create_manual_user(&ManualUser {
            user_name: user_name.into(),
            given_name: "Manual".into(),
            family_name: "User".into(),
            email: user_name.into(),
            aliases: vec![],
        })
        .await
        .unwrap();
    u.meta.id
}

async fn settings(app: &TestApp, id: &str, include_manual: bool, read_all_users: bool) {
    let s = Settings {
        send_enrollment_emails: false,
        include_manual,
        read_all_users,
        ..Settings::default()
    };
    app.directory
        .save_integration_settings(id, s)
        .await
        .unwrap();
}

fn total(r: &Resp) -> u64 {
    r.body["totalResults"].as_u64().unwrap()
}

#[actix_web::test]
async fn the_guides_order_claims_manual_users_then_reads_all() {
    let app = TestApp::spawn().await;
    let m1 = manual(&app, "manual.one@example.com").await;
    let m2 = manual(&app, "manual.two@example.com").await;
    let by_name = |n: &str| format!("/Users?filter={}", enc(&format!("userName eq \"{n}\"")));

    // Neither setting: manual users do not exist for okta (404, absent from lists and filters),
    // yet their names are taken (409 that reveals nothing more).
    app.get(&format!("/Users/{m1}"))
        .await
        .assert_error(404, None);
    assert_eq!(total(&app.get("/Users").await), 0);
    assert_eq!(total(&app.get(&by_name("manual.one@example.com")).await), 0);
    let r = app
        .post("/Users", &okta_user("MANUAL.ONE@example.com"))
        .await;
    r.assert_error(409, Some("uniqueness"));
    assert!(!r.body.to_string().contains(&m1));
    app.put(
        &format!("/Users/{m1}"),
        &okta_user("manual.one@example.com"),
    )
    .await
    .assert_error(404, None);

    // Step 1 of the guide: Include Manually Provisioned Users. Okta sees them, reads claim
    // nothing, and any write claims the user (here: Okta's unchanged profile push).
    settings(&app, &app.integration_id, true, false).await;
    let read = app.get(&format!("/Users/{m1}")).await;
    assert_eq!(read.status.as_u16(), 200);
    assert_eq!(read.body[PROV]["source"]["type"], "manual");
    assert_eq!(total(&app.get("/Users").await), 2);
    assert_eq!(total(&app.get(&by_name("manual.one@example.com")).await), 1);
    let r = app.put(&format!("/Users/{m1}"), &read.body).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(r.body[PROV]["source"]["value"], app.integration_id.as_str());
    assert_eq!(r.body[PROV]["claimed"]["display"], "okta");
    assert_ne!(
        r.body["meta"]["version"], read.body["meta"]["version"],
        "the claim changed its source"
    );
    assert_eq!(r.body["name"], read.body["name"]);

    // Step 2: Read All Users as well. A write that changes nothing claims nothing; a change
    // claims.
    settings(&app, &app.integration_id, true, true).await;
    let m2_read = app.get(&format!("/Users/{m2}")).await.body;
    let r = app.put(&format!("/Users/{m2}"), &m2_read).await;
    assert_eq!(
        r.body[PROV]["source"]["type"], "manual",
        "unchanged write: no claim"
    );
    let r = app
        .patch(
            &format!("/Users/{m2}"),
            &json!({"Operations": [{"op": "replace", "path": "title", "value": "Claimed"}]}),
        )
        .await;
    assert_eq!(r.body[PROV]["source"]["value"], app.integration_id.as_str());
    assert!(r.body[PROV]["claimed"]["at"].is_string());

    // The claimed users stay okta's when the settings are turned off again.
    settings(&app, &app.integration_id, false, false).await;
    assert_eq!(total(&app.get("/Users").await), 2);
}

#[actix_web::test]
async fn read_all_users_is_read_only_and_other_integrations_are_invisible() {
    let app = TestApp::spawn().await;
    let sail = Other::new(&app, "sailpoint").await;
    let okta_user_id = app.create_user("okta.owned@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = manual(&app, "manual.three@example.com").await;
    let g = app
        .post("/Groups", &json!({"displayName": "Okta group"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Without settings, SailPoint sees nothing of okta's or manual users, and cannot touch them.
    assert_eq!(total(&sail.call(&app, "GET", "/Users", None).await), 0);
    sail.call(&app, "GET", &format!("/Users/{okta_user_id}"), None)
        .await
        .assert_error(404, None);
    let patch = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    sail.call(
        &app,
        "PATCH",
        &format!("/Users/{okta_user_id}"),
        Some(&patch),
    )
    .await
    .assert_error(404, None);

    // Read All Users: SailPoint reads everyone (lists, filters, GET) and writes nothing it does
    // not own: 403 with a SCIM error body.
    settings(&app, &sail.id, false, true).await;
    let all = sail.call(&app, "GET", "/Users?count=100", None).await;
    assert_eq!(total(&all), 2);
    let f = sail
        .call(
            &app,
            "GET",
            &format!(
                "/Users?filter={}",
                enc("userName eq \"okta.owned@example.com\"")
            ),
            None,
        )
        .await;
    assert_eq!(total(&f), 1);
    assert_eq!(f.body["Resources"][0][PROV]["source"]["display"], "okta");
    for (method, body) in [
        ("PATCH", Some(&patch)),
        ("PUT", Some(&okta_user("okta.owned@example.com"))),
        ("DELETE", None),
    ] {
        sail.call(&app, method, &format!("/Users/{okta_user_id}"), body)
            .await
            .assert_error(403, None);
        sail.call(&app, method, &format!("/Users/{m}"), body)
            .await
            .assert_error(403, None);
    }
    assert_eq!(
        app.get(&format!("/Users/{okta_user_id}")).await.body["active"],
        true,
        "nothing changed"
    );
    // Read All Users is about users: okta's groups stay invisible to SailPoint.
    sail.call(&app, "GET", &format!("/Groups/{g}"), None)
        .await
        .assert_error(404, None);
    assert_eq!(total(&sail.call(&app, "GET", "/Groups", None).await), 0);
    // SailPoint's own users are its own.
    let r = sail
        .call(
            &app,
            "POST",
            "/Users",
            Some(&okta_user("sail.owned@example.com")),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201);
    assert_eq!(r.body[PROV]["source"]["display"], "sailpoint");
    app.get(&format!("/Users/{}", r.body["id"].as_str().unwrap()))
        .await
        .assert_error(404, None);

    // With both settings, another integration's user is still read-only.
    settings(&app, &sail.id, true, true).await;
    sail.call(
        &app,
        "PATCH",
        &format!("/Users/{okta_user_id}"),
        Some(&patch),
    )
    .await
    .assert_error(403, None);
}

#[actix_web::test]
async fn deleting_an_integration_returns_its_users_to_manual() {
    let app = TestApp::spawn().await;
    let sail = Other::new(&app, "sailpoint").await;
    let u = sail
        .call(
            &app,
            "POST",
            "/Users",
            Some(&okta_user("returns@example.com")),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let released = app.directory.delete_integration(&sail.id).await.unwrap();
    assert_eq!(released, 1);
    // Manual now: okta claims it back after enabling Include Manually Provisioned Users.
    settings(&app, &app.integration_id, true, false).await;
    let r = app.get(&format!("/Users/{u}")).await;
    assert_eq!(r.body[PROV]["source"]["type"], "manual");
    let r = app
        .patch(
            &format!("/Users/{u}"),
            &json!({"Operations": [{"op": "replace", "path": "title", "value": "Back"}]}),
        )
        .await;
    assert_eq!(r.body[PROV]["source"]["display"], "okta");
    // Its old token no longer opens anything.
    sail.call(&app, "GET", "/Users", None)
        .await
        .assert_error(401, None);
}
