//! The discovery endpoints describe exactly what is supported.

use serde_json::Value;

use crate::support::*;

#[actix_web::test]
async fn discovery_documents() {
    let app = TestApp::spawn().await;
    let spc = app.get("/ServiceProviderConfig").await;
    assert_eq!(spc.status.as_u16(), 200);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["filter"]["supported"], true);
    assert_eq!(spc.body["filter"]["maxResults"], 1000);
    assert_eq!(spc.body["bulk"]["supported"], true);
    assert_eq!(spc.body["bulk"]["maxOperations"], 1000);
    assert_eq!(spc.body["bulk"]["maxPayloadSize"], 1024 * 1024);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let rts = app.get("/ResourceTypes").await;
    assert_eq!(rts.body["totalResults"], 2);
    let user_rt = &rts.body["Resources"][0];
    assert_eq!(user_rt["endpoint"], "/Users");
    assert_eq!(user_rt["schema"], USER_URN);
    assert_eq!(
        user_rt["schemaExtensions"][0]["schema"],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    );
    assert_eq!(app.get("/ResourceTypes/User").await.body["id"], "User");
    app.get("/ResourceTypes/Widget")
        .await
        .assert_error(404, None);

    let schemas = app.get("/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 7);
    let prov = app
        .get("/Schemas/urn:scimgate:params:scim:schemas:extension:2.0:Provisioning")
        .await
        .body;
    assert_eq!(prov["attributes"][0]["name"], "source");
    assert_eq!(prov["attributes"][0]["mutability"], "readOnly");
    let group = app
        .get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
        .await
        .body;
    assert_eq!(group["attributes"][0]["name"], "displayName");
    assert_eq!(
        app.get("/ResourceTypes/Group").await.body["endpoint"],
        "/Groups"
    );
    let user = app.get(&format!("/Schemas/{USER_URN}")).await.body;
    let attr = |name: &str| -> Value {
        user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(attr("userName")["uniqueness"], "server");
    assert_eq!(attr("userName")["caseExact"], false);
    assert_eq!(attr("userName")["required"], true);
    assert_eq!(attr("password")["returned"], "never");
    assert_eq!(attr("groups")["mutability"], "readOnly");
    let aliases = attr("aliases");
    assert_eq!(aliases["multiValued"], true);
    let subs: Vec<&str> = aliases["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "type", "primary"]);
    let ent = app
        .get("/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        .await;
    assert_eq!(ent.body["name"], "EnterpriseUser");
    app.get("/Schemas/urn:nope").await.assert_error(404, None);
    // Discovery needs the token too.
    send(app.client.get(app.url("/Schemas")), None)
        .await
        .assert_error(401, None);
}
