//! Issue 15 item 1: every response validates against what the server publishes. A generic
//! checker (no expected bodies) reads the server's own `/Schemas` and `/ResourceTypes`, then
//! walks every endpoint and checks each document: its top-level keys are attributes of a
//! schema listed in its `schemas` (or the common attributes of RFC 7643 §3.1), every extension
//! is listed in `schemas` and declared for the resource type, values have their declared types
//! (sub-attributes of complex attributes too), `required` attributes are present and
//! `returned: never` ones are not. The message schemas of RFC 7644 (ListResponse §3.4.2 with
//! RFC 9865's cursors, Error §3.12, PatchOp §3.5.2, BulkResponse §3.7) are encoded here as the
//! RFC defines them, since a server does not publish them.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::support::*;

const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute definition in the JSON shape of `/Schemas` (RFC 7643 §7).
fn attr(name: &str, kind: &str, multi: bool, required: bool, subs: Vec<Value>) -> Value {
    json!({"name": name, "type": kind, "multiValued": multi, "required": required,
           "returned": "default", "subAttributes": subs})
}

/// `id`, `externalId` and `meta` (RFC 7643 §3.1), on every resource whatever its schema.
fn common_attributes() -> Vec<Value> {
    vec![
        attr("id", "string", false, false, vec![]),
        attr("externalId", "string", false, false, vec![]),
        attr(
            "meta",
            "complex",
            false,
            false,
            vec![
                attr("resourceType", "string", false, false, vec![]),
                attr("created", "dateTime", false, false, vec![]),
                attr("lastModified", "dateTime", false, false, vec![]),
                attr("location", "reference", false, false, vec![]),
                attr("version", "string", false, false, vec![]),
            ],
        ),
    ]
}

/// The message schemas of RFC 7644, which carry no common attributes.
fn message_schemas() -> HashMap<String, Vec<Value>> {
    let mut m = HashMap::new();
    // §3.4.2; `nextCursor`/`previousCursor` from RFC 9865 §2.2. Resources are checked as
    // documents of their own.
    m.insert(
        LIST_URN.to_owned(),
        vec![
            attr("totalResults", "integer", false, true, vec![]),
            attr("itemsPerPage", "integer", false, false, vec![]),
            attr("startIndex", "integer", false, false, vec![]),
            attr("nextCursor", "string", false, false, vec![]),
            attr("previousCursor", "string", false, false, vec![]),
            attr("Resources", "document", true, false, vec![]),
        ],
    );
    // §3.12.
    m.insert(
        ERROR_URN.to_owned(),
        vec![
            attr("status", "string", false, true, vec![]),
            attr("scimType", "string", false, false, vec![]),
            attr("detail", "string", false, false, vec![]),
        ],
    );
    // §3.5.2.
    m.insert(
        PATCH_URN.to_owned(),
        vec![attr(
            "Operations",
            "complex",
            true,
            true,
            vec![
                attr("op", "string", false, true, vec![]),
                attr("path", "string", false, false, vec![]),
                attr("value", "any", false, false, vec![]),
            ],
        )],
    );
    // §3.7.3: each operation's `response` is a document (an error, or the resource).
    m.insert(
        BULK_RESPONSE_URN.to_owned(),
        vec![attr(
            "Operations",
            "complex",
            true,
            true,
            vec![
                attr("method", "string", false, true, vec![]),
                attr("bulkId", "string", false, false, vec![]),
                attr("version", "string", false, false, vec![]),
                attr("location", "reference", false, false, vec![]),
                attr("status", "string", false, true, vec![]),
                attr("response", "document", false, false, vec![]),
            ],
        )],
    );
    m
}

/// What the server publishes: each schema's attributes, and each resource type's core schema
/// with its declared extensions.
struct Published {
    schemas: HashMap<String, Vec<Value>>,
    /// core schema URN -> extension URNs declared in `/ResourceTypes`.
    resource_types: HashMap<String, Vec<String>>,
    messages: HashMap<String, Vec<Value>>,
}

impl Published {
    async fn read(app: &TestApp) -> Published {
        let schemas = app.get("/Schemas").await;
        assert_eq!(schemas.status.as_u16(), 200);
        let schemas = schemas.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["id"].as_str().unwrap().to_owned(),
                    s["attributes"].as_array().unwrap().clone(),
                )
            })
            .collect();
        let rts = app.get("/ResourceTypes").await.body["Resources"].clone();
        let resource_types = rts
            .as_array()
            .unwrap()
            .iter()
            .map(|rt| {
                let ext = rt["schemaExtensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| e["schema"].as_str().unwrap().to_owned())
                    .collect();
                (rt["schema"].as_str().unwrap().to_owned(), ext)
            })
            .collect();
        Published {
            schemas,
            resource_types,
            messages: message_schemas(),
        }
    }

    /// Every violation in `doc`, each prefixed with `at` (where the document came from).
    fn check(&self, at: &str, doc: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.document(at, doc, &mut errs);
        errs
    }

    fn document(&self, at: &str, doc: &Value, errs: &mut Vec<String>) {
        let Some(obj) = doc.as_object() else {
            errs.push(format!("{at}: not a JSON object"));
            return;
        };
        let Some(listed) = obj.get("schemas").and_then(Value::as_array) else {
            errs.push(format!("{at}: no 'schemas' array"));
            return;
        };
        let listed: Vec<&str> = listed.iter().filter_map(Value::as_str).collect();
        // The core schemas listed (message or published, not an extension) and the extensions.
        let mut attrs: Vec<Value> = Vec::new();
        let mut is_message = false;
        let mut core: Option<&str> = None;
        for urn in &listed {
            if let Some(m) = self.messages.get(*urn) {
                is_message = true;
                attrs.extend(m.iter().cloned());
            } else if self.resource_types.values().flatten().any(|e| e == urn) {
                // An extension: checked below as an object under its own key.
            } else if let Some(s) = self.schemas.get(*urn) {
                core = Some(urn);
                attrs.extend(s.iter().cloned());
            } else {
                errs.push(format!(
                    "{at}: '{urn}' in schemas is not published in /Schemas"
                ));
            }
        }
        if core.is_none() && !is_message {
            errs.push(format!("{at}: no core or message schema in {listed:?}"));
        }
        if !is_message {
            attrs.extend(common_attributes());
        }
        let declared: &[String] = core
            .and_then(|c| self.resource_types.get(c))
            .map_or(&[], Vec::as_slice);
        for urn in listed.iter().filter(|u| {
            !self.messages.contains_key(**u)
                && self.resource_types.values().flatten().any(|e| e == *u)
        }) {
            if !declared.iter().any(|d| d == urn) {
                errs.push(format!(
                    "{at}: extension '{urn}' is not declared for {core:?} in /ResourceTypes schemaExtensions"
                ));
            }
            if !self.schemas.contains_key(*urn) {
                errs.push(format!(
                    "{at}: extension '{urn}' is not described in /Schemas"
                ));
            }
        }
        for (key, value) in obj {
            if key == "schemas" {
                continue;
            }
            if key.starts_with("urn:") {
                let ext_listed = listed.iter().any(|u| u == key);
                match (ext_listed, self.schemas.get(key)) {
                    (true, Some(ext)) if declared.iter().any(|d| d == key) => {
                        self.complex(&format!("{at}.{key}"), value, ext, errs);
                    }
                    (true, _) => {} // reported above
                    (false, _) => errs.push(format!(
                        "{at}: top-level '{key}' is not listed in schemas {listed:?}"
                    )),
                }
                continue;
            }
            match find(&attrs, key) {
                Some(a) => self.value(&format!("{at}.{key}"), value, a, errs),
                None => errs.push(format!(
                    "{at}: top-level '{key}' is an attribute of none of {listed:?}"
                )),
            }
        }
        required(at, obj, &attrs, errs);
    }

    /// A complex value (or an extension object) against its sub-attribute definitions.
    fn complex(&self, at: &str, value: &Value, subs: &[Value], errs: &mut Vec<String>) {
        let Some(obj) = value.as_object() else {
            errs.push(format!("{at}: expected an object, got {value}"));
            return;
        };
        for (k, v) in obj {
            match find(subs, k) {
                // RFC 7643 §7: `subAttributes` of an attribute definition is defined "in the
                // same way as attributes", recursively; §8.7.2 writes out one level of it.
                Some(a) if k == "subAttributes" && a["type"] == "complex" => {
                    let mut same = a.clone();
                    same["subAttributes"] = Value::Array(subs.to_vec());
                    self.value(&format!("{at}.{k}"), v, &same, errs);
                }
                Some(a) => self.value(&format!("{at}.{k}"), v, a, errs),
                None => errs.push(format!("{at}: '{k}' is not a declared sub-attribute")),
            }
        }
        required(at, obj, subs, errs);
    }

    fn value(&self, at: &str, value: &Value, a: &Value, errs: &mut Vec<String>) {
        if a["multiValued"] == true {
            match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.single(&format!("{at}[{i}]"), item, a, errs);
                    }
                }
                None => errs.push(format!(
                    "{at}: multi-valued, expected an array, got {value}"
                )),
            }
        } else {
            self.single(at, value, a, errs);
        }
    }

    fn single(&self, at: &str, v: &Value, a: &Value, errs: &mut Vec<String>) {
        let ok = match a["type"].as_str().unwrap_or("") {
            "string" | "binary" => v.is_string(),
            "reference" => v.as_str().is_some_and(|s| !s.is_empty()),
            "boolean" => v.is_boolean(),
            "integer" => v.is_i64() || v.is_u64(),
            "decimal" => v.is_number(),
            "dateTime" => v.as_str().is_some_and(|s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .is_ok()
            }),
            "complex" => {
                let subs = a["subAttributes"].as_array().cloned().unwrap_or_default();
                self.complex(at, v, &subs, errs);
                true
            }
            "document" => {
                self.document(at, v, errs);
                true
            }
            "any" => true,
            other => {
                errs.push(format!("{at}: unknown type '{other}'"));
                true
            }
        };
        if !ok {
            errs.push(format!("{at}: expected {}, got {v}", a["type"]));
        }
        if let (Some(c), Some(s)) = (a["canonicalValues"].as_array(), v.as_str())
            && !c.is_empty()
            && !c
                .iter()
                .any(|c| c.as_str().is_some_and(|c| c.eq_ignore_ascii_case(s)))
        {
            errs.push(format!("{at}: '{s}' is none of the canonical values {c:?}"));
        }
    }
}

fn find<'a>(attrs: &'a [Value], key: &str) -> Option<&'a Value> {
    attrs.iter().find(|a| {
        a["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(key))
    })
}

/// `required` attributes are present (unless never returned), `returned: never` ones absent.
fn required(
    at: &str,
    obj: &serde_json::Map<String, Value>,
    attrs: &[Value],
    errs: &mut Vec<String>,
) {
    for a in attrs {
        let name = a["name"].as_str().unwrap_or("");
        let present = obj.keys().any(|k| k.eq_ignore_ascii_case(name));
        if a["returned"] == "never" {
            if present {
                errs.push(format!("{at}: '{name}' is returned: never, yet present"));
            }
        } else if a["required"] == true && !present {
            errs.push(format!("{at}: required '{name}' is missing"));
        }
    }
}

/// The checker itself refuses what it should: a sanity check, so that an empty error list
/// below means something.
#[actix_web::test]
async fn the_checker_refuses_undeclared_keys_extensions_and_types() {
    let app = TestApp::spawn().await;
    let p = Published::read(&app).await;
    let user = app.create_user("checker@example.com").await;
    assert_eq!(p.check("user", &user), Vec::<String>::new());
    let bad = |edit: &dyn Fn(&mut Value)| {
        let mut u = user.clone();
        edit(&mut u);
        p.check("user", &u)
    };
    assert_eq!(bad(&|u| u["urn:x:limits"] = json!({"a": 1})).len(), 1);
    assert_eq!(bad(&|u| u["nonsense"] = json!(1)).len(), 1);
    assert_eq!(bad(&|u| u["active"] = json!("yes")).len(), 1);
    assert_eq!(bad(&|u| u["name"] = json!({"nickname": "x"})).len(), 1);
    assert_eq!(bad(&|u| u["emails"] = json!({"value": "a@b.c"})).len(), 1);
    assert_eq!(bad(&|u| u["meta"]["created"] = json!("yesterday")).len(), 1);
    assert_eq!(bad(&|u| u["password"] = json!("secret")).len(), 1);
    assert_eq!(
        bad(&|u| {
            u.as_object_mut().unwrap().remove("userName");
        })
        .len(),
        1
    );
    // An extension present but not listed; listed but not declared for the resource type.
    assert!(!bad(&|u| u[ENTERPRISE] = json!({"employeeNumber": "1"})).is_empty());
    let group = app
        .post("/Groups", &json!({"displayName": "Checker"}))
        .await
        .body;
    let mut g = group.clone();
    g["schemas"].as_array_mut().unwrap().push(json!(ENTERPRISE));
    g[ENTERPRISE] = json!({"employeeNumber": "1"});
    assert!(!p.check("group", &g).is_empty());
    assert_eq!(p.check("group", &group), Vec::<String>::new());
}

/// Every endpoint, each response checked against the server's own `/Schemas`.
#[actix_web::test]
async fn every_response_validates_against_the_published_schemas() {
    let app = TestApp::spawn().await;
    let p = Published::read(&app).await;
    let mut errs = Vec::new();
    let mut checked = 0;
    let mut check = |at: &str, r: &Resp, status: u16| {
        assert_eq!(r.status.as_u16(), status, "{at}: {}", r.body);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/scim+json"),
            "{at}"
        );
        errs.extend(p.check(at, &r.body));
        checked += 1;
    };

    // Discovery.
    check(
        "ServiceProviderConfig",
        &app.get("/ServiceProviderConfig").await,
        200,
    );
    check("ResourceTypes", &app.get("/ResourceTypes").await, 200);
    for rt in ["User", "Group"] {
        check(rt, &app.get(&format!("/ResourceTypes/{rt}")).await, 200);
    }
    let schemas = app.get("/Schemas").await;
    check("Schemas", &schemas, 200);
    for s in schemas.body["Resources"].as_array().unwrap() {
        let id = s["id"].as_str().unwrap();
        check(id, &app.get(&format!("/Schemas/{id}")).await, 200);
    }

    // Users, with the enterprise extension, through every verb.
    let mut body = okta_user("walk@example.com");
    body["schemas"]
        .as_array_mut()
        .unwrap()
        .push(json!(ENTERPRISE));
    body[ENTERPRISE] = json!({"employeeNumber": "7", "manager": {"value": "m-1"}});
    body["aliases"] = json!([{"value": "walker", "type": "email", "primary": true}]);
    let created = app.post("/Users", &body).await;
    check("POST /Users", &created, 201);
    let uid = created.body["id"].as_str().unwrap().to_owned();
    let user = format!("/Users/{uid}");
    check("GET /Users/{id}", &app.get(&user).await, 200);
    check("GET /Users", &app.get("/Users").await, 200);
    check(
        "GET /Users?filter",
        &app.get(&format!(
            "/Users?filter={}",
            enc("userName eq \"walk@example.com\"")
        ))
        .await,
        200,
    );
    check(
        "GET /Users?cursor",
        &app.get("/Users?cursor=&count=1").await,
        200,
    );
    check(
        "POST /Users/.search",
        &app.post(
            "/Users/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"walk\""}),
        )
        .await,
        200,
    );
    body["displayName"] = json!("Walked");
    check("PUT /Users/{id}", &app.put(&user, &body).await, 200);
    let patch = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": "Walker"},
        {"op": "add", "path": ENTERPRISE, "value": {"department": "QA"}},
    ]});
    check("PATCH /Users/{id}", &app.patch(&user, &patch).await, 200);

    // Groups, with a member.
    let g = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Walkers", "members": [{"value": uid}]});
    let created = app.post("/Groups", &g).await;
    check("POST /Groups", &created, 201);
    let group = format!("/Groups/{}", created.body["id"].as_str().unwrap());
    check("GET /Groups/{id}", &app.get(&group).await, 200);
    check("GET /Groups", &app.get("/Groups").await, 200);
    check(
        "POST /Groups/.search",
        &app.post(
            "/Groups/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName pr"}),
        )
        .await,
        200,
    );
    check("PUT /Groups/{id}", &app.put(&group, &g).await, 200);
    let patch = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Walkers 2"},
    ]});
    // A group PATCH answers 204 unless asked for the group (docs/api.md, PATCH answers).
    let r = send(
        app.client
            .patch(app.url(&group))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("Prefer", "return=representation")),
        Some(&patch),
    )
    .await;
    check("PATCH /Groups/{id}", &r, 200);
    check("GET /User (user's groups)", &app.get(&user).await, 200);
    check(
        "POST /.search",
        &app.post(
            "/.search",
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName pr"}),
        )
        .await,
        200,
    );

    // Bulk: a success and a failure in one response.
    let bulk = json!({"schemas": [BULK_REQUEST_URN], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b1", "data": okta_user("bulk.walk@example.com")},
        {"method": "PATCH", "path": "/Users/bulkId:b1", "data": {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]}},
        {"method": "DELETE", "path": "/Users/no-such-user"},
    ]});
    check("POST /Bulk", &app.post("/Bulk", &bulk).await, 200);

    // Errors.
    check("404", &app.get("/Users/no-such-user").await, 404);
    check(
        "400 invalidFilter",
        &app.get(&format!("/Users?filter={}", enc("userName eq")))
            .await,
        400,
    );
    check(
        "409",
        &app.post("/Users", &okta_user("walk@example.com")).await,
        409,
    );
    check(
        "400 mutability",
        &app.patch(&user, &json!({"Operations": [{"op": "add", "path": "urn:scimgate:params:scim:schemas:extension:2.0:Provisioning", "value": {}}]}))
            .await,
        400,
    );
    check(
        "401",
        &send(app.client.get(app.url("/Users")), None).await,
        401,
    );
    let stale = send(
        app.client
            .delete(app.url(&user))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("If-Match", "W/\"stale\"")),
        None,
    )
    .await;
    check("412", &stale, 412);
    check("404 schema", &app.get("/Schemas/urn:nope").await, 404);
    // Bodies refused before any handler reads them: not JSON, the wrong media type, too big.
    let raw = |content_type: &'static str, body: String| {
        let req = app
            .client
            .post(app.url("/Users"))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("Content-Type", content_type));
        async move {
            let mut res = req.send_body(body).await.unwrap();
            let bytes = res.body().await.unwrap();
            Resp {
                status: res.status(),
                headers: res.headers().clone(),
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            }
        }
    };
    check(
        "400 not JSON",
        &raw("application/scim+json", "{".into()).await,
        400,
    );
    check(
        "415",
        &raw("text/plain", okta_user("x@example.com").to_string()).await,
        415,
    );
    check(
        "413",
        &raw(
            "application/scim+json",
            format!("{{\"userName\": \"{}\"}}", "x".repeat(2 << 20)),
        )
        .await,
        413,
    );

    // Deletion answers no body; the user is then gone (an error document).
    let gone = app.delete(&user).await;
    assert_eq!(gone.status.as_u16(), 204);
    check("GET deleted", &app.get(&user).await, 404);

    assert!(checked > 30, "{checked}");
    assert!(
        errs.is_empty(),
        "{} violations:\n{}",
        errs.len(),
        errs.join("\n")
    );
}
