//! PATCH shapes Okta and Entra send for users.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

#[actix_web::test]
async fn entra_user_updates() {
    let app = TestApp::spawn().await;
    let u = app.create_user("entra.user@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let ops = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new.address@example.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Newname"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "mgr-1"},
        {"op": "replace", "value": {
            "displayName": "New Display",
            "name.givenName": "Newgiven",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "701984"
        }},
    ]});
    let r = app.patch(&path, &ops).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["emails"][0]["value"], "new.address@example.com");
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Newgiven", "familyName": "Newname"})
    );
    assert_eq!(r.body["displayName"], "New Display");
    let ext = &r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(ext["manager"]["value"], "mgr-1");
    assert_eq!(ext["employeeNumber"], "701984");
    assert!(r.body["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));
    // The new email is what filters find now.
    let f = app
        .get(&format!(
            "/Users?filter={}",
            enc("emails[type eq \"work\"].value eq \"new.address@example.com\"")
        ))
        .await;
    assert_eq!(f.body["totalResults"], 1);

    // Entra without its compliance flag: "False" as a string.
    let r = app.patch(&path, &json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})).await;
    assert_eq!(r.body["active"], false);
    let r = app.patch(&path, &json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": true}]})).await;
    assert_eq!(r.body["active"], true);

    // userName changes through PATCH, and the old name is free again.
    let r = app.patch(&path, &json!({"Operations": [{"op": "Replace", "path": "userName", "value": "renamed@example.com"}]})).await;
    assert_eq!(r.body["userName"], "renamed@example.com");
    app.create_user("entra.user@example.com").await;
    let clash = app.patch(&path, &json!({"Operations": [{"op": "Replace", "path": "userName", "value": "ENTRA.USER@example.com"}]})).await;
    clash.assert_error(409, Some("uniqueness"));
}

#[actix_web::test]
async fn patch_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let u = app.create_user("atomic@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let r = app
        .patch(
            &path,
            &json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "Should not stay"},
                {"op": "replace", "path": "emails[type eq \"fax\"].value", "value": "x"},
            ]}),
        )
        .await;
    r.assert_error(400, Some("noTarget"));
    let now = app.get(&path).await.body;
    assert_eq!(now["displayName"], "Test User");
    assert_eq!(now["meta"]["version"], u["meta"]["version"]);

    app.patch(
        &path,
        &json!({"Operations": [{"op": "replace", "path": "id", "value": "x"}]}),
    )
    .await
    .assert_error(400, Some("mutability"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}),
    )
    .await
    .assert_error(400, Some("invalidPath"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "jump", "path": "active"}]}),
    )
    .await
    .assert_error(400, Some("invalidSyntax"));
    app.patch(
        &path,
        &json!({"Operations": [{"op": "replace", "path": "active", "value": "perhaps"}]}),
    )
    .await
    .assert_error(400, Some("invalidValue"));
    app.patch(&path, &json!({"Operations": [{"op": "remove"}]}))
        .await
        .assert_error(400, Some("noTarget"));
    app.patch(
        "/Users/00000000-0000-0000-0000-000000000000",
        &json!({"Operations": [{"op": "replace", "value": {"active": false}}]}),
    )
    .await
    .assert_error(404, None);
}

#[actix_web::test]
async fn if_match_guards_writes() {
    let app = TestApp::spawn().await;
    let u = app.create_user("etag@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    let etag = u["meta"]["version"].as_str().unwrap().to_owned();
    let deactivate = json!({"Operations": [{"op": "replace", "value": {"active": false}}]});
    let ok = send(
        app.client
            .patch(app.url(&path))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("If-Match", etag.as_str())),
        Some(&deactivate),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    let stale = send(
        app.client
            .patch(app.url(&path))
            .insert_header(("Authorization", format!("Bearer {}", app.token)))
            .insert_header(("If-Match", etag.as_str())),
        Some(&deactivate),
    )
    .await;
    stale.assert_error(412, None);
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PROVISIONING: &str = "urn:scimgate:params:scim:schemas:extension:2.0:Provisioning";

fn one_op(op: &str, path: &str, value: Option<Value>) -> Value {
    let mut o = json!({"op": op, "path": path});
    if let Some(v) = value {
        o["value"] = v;
    }
    json!({"schemas": [PATCH_URN], "Operations": [o]})
}

fn has_schema(body: &Value, urn: &str) -> bool {
    body["schemas"].as_array().unwrap().iter().any(|s| s == urn)
}

/// Issue 15 item 2: `add`, `replace` and `remove` of a whole extension, by its URN as the path.
#[actix_web::test]
async fn patch_addresses_a_whole_extension_on_users() {
    let app = TestApp::spawn().await;
    let u = app.create_user("whole.ext@example.com").await;
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    assert!(!has_schema(&u, ENTERPRISE));
    let version = |r: &Resp| r.body["meta"]["version"].clone();

    let r = app
        .patch(
            &path,
            &one_op(
                "add",
                ENTERPRISE,
                Some(json!({"employeeNumber": "42", "costCenter": "cc"})),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body[ENTERPRISE],
        json!({"employeeNumber": "42", "costCenter": "cc"})
    );
    assert!(has_schema(&r.body, ENTERPRISE));
    assert_ne!(version(&r), u["meta"]["version"]);

    // add merges; the URN is matched case-insensitively.
    let r = app
        .patch(
            &path,
            &one_op(
                "Add",
                &ENTERPRISE.to_uppercase(),
                Some(json!({"department": "R&D"})),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body[ENTERPRISE],
        json!({"employeeNumber": "42", "costCenter": "cc", "department": "R&D"})
    );
    // Sub-paths inside the extension keep working.
    let r = app
        .patch(
            &path,
            &one_op(
                "add",
                &format!("{ENTERPRISE}:manager.value"),
                Some(json!("mgr-7")),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "mgr-7");

    // replace makes the extension exactly the value.
    let r = app
        .patch(
            &path,
            &one_op("replace", ENTERPRISE, Some(json!({"costCenter": "c2"}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[ENTERPRISE], json!({"costCenter": "c2"}));
    let before = version(&r);
    // The same replace again changes nothing, and the version stays.
    let r = app
        .patch(
            &path,
            &one_op("replace", ENTERPRISE, Some(json!({"costCenter": "c2"}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(version(&r), before);

    // remove removes it, and its URN from schemas.
    let r = app.patch(&path, &one_op("remove", ENTERPRISE, None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get(ENTERPRISE).is_none(), "{}", r.body);
    assert!(!has_schema(&r.body, ENTERPRISE));
    assert_ne!(version(&r), before);
    let stored = app.get(&path).await;
    assert!(stored.body.get(ENTERPRISE).is_none());

    // replace creates it too; a value that is not an object is refused.
    let r = app
        .patch(
            &path,
            &one_op("replace", ENTERPRISE, Some(json!({"division": "d"}))),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE], json!({"division": "d"}));
    assert!(has_schema(&r.body, ENTERPRISE));
    app.patch(&path, &one_op("add", ENTERPRISE, Some(json!("42"))))
        .await
        .assert_error(400, Some("invalidValue"));

    // The provisioning extension is read-only, whatever the op.
    for (op, value) in [
        ("add", Some(json!({"source": {"type": "manual"}}))),
        ("replace", Some(json!({}))),
        ("remove", None),
    ] {
        app.patch(&path, &one_op(op, PROVISIONING, value))
            .await
            .assert_error(400, Some("mutability"));
    }
    let after = app.get(&path).await;
    assert_eq!(after.body[ENTERPRISE], json!({"division": "d"}));
    assert_eq!(after.body[PROVISIONING]["source"]["type"], "integration");
}

/// Groups: the provisioning extension is read-only; the enterprise extension is no schema of
/// a Group (RFC 7644 §3.5.2: invalidPath), as a whole or as a prefix.
#[actix_web::test]
async fn patch_of_a_whole_extension_on_groups() {
    let app = TestApp::spawn().await;
    let g = app.post("/Groups", &json!({"displayName": "Whole"})).await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let path = format!("/Groups/{}", g.body["id"].as_str().unwrap());
    for (op, value) in [
        ("add", Some(json!({"employeeNumber": "1"}))),
        ("replace", Some(json!({"employeeNumber": "1"}))),
        ("remove", None),
    ] {
        app.patch(&path, &one_op(op, ENTERPRISE, value.clone()))
            .await
            .assert_error(400, Some("invalidPath"));
        app.patch(
            &path,
            &one_op(
                op,
                &format!("{ENTERPRISE}:employeeNumber"),
                value.map(|_| json!("1")),
            ),
        )
        .await
        .assert_error(400, Some("invalidPath"));
        app.patch(&path, &one_op(op, PROVISIONING, Some(json!({}))))
            .await
            .assert_error(400, Some("mutability"));
    }
    // The core schema as the path: add and replace take the value as a path-less op would.
    // (`excludedAttributes` asks for the group in the answer: a group PATCH answers 204 else.)
    let r = app
        .patch(
            &format!("{path}?excludedAttributes=members"),
            &one_op(
                "replace",
                "urn:ietf:params:scim:schemas:core:2.0:Group",
                Some(json!({"displayName": "Renamed"})),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Renamed");
    assert_ne!(r.body["meta"]["version"], g.body["meta"]["version"]);
    app.patch(
        &path,
        &one_op(
            "remove",
            "urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
        ),
    )
    .await
    .assert_error(400, Some("invalidPath"));
}

/// A sample value for attribute `a` (from the server's own `/Schemas`), different for each `n`.
/// `parent` is the complex attribute `a` belongs to ("" at the top).
fn sample(a: &Value, parent: &str, n: u32, member: &str) -> Value {
    let name = a["name"].as_str().unwrap();
    let one = |n: u32| -> Value {
        match a["type"].as_str().unwrap() {
            "complex" => Value::Object(
                a["subAttributes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s["mutability"] == "readWrite")
                    .map(|s| {
                        (
                            s["name"].as_str().unwrap().to_owned(),
                            sample(s, name, n, member),
                        )
                    })
                    .collect(),
            ),
            "boolean" => json!(n.is_multiple_of(2)),
            "integer" => json!(n),
            "decimal" => json!(f64::from(n) + 0.5),
            "dateTime" => json!(format!("2026-01-{:02}T00:00:00Z", n % 28 + 1)),
            "binary" => json!(["QUJD", "REVG"][n as usize % 2]),
            "reference" => json!(format!("https://example.com/r{n}")),
            _ => match a["canonicalValues"].as_array() {
                Some(c) if !c.is_empty() => c[n as usize % c.len()].clone(),
                _ if parent == "members" && name == "value" => json!(member),
                _ if parent.contains("email") || name.contains("email") => {
                    json!(format!("p{n}@example.com"))
                }
                _ => json!(format!("v{n}")),
            },
        }
    };
    if a["multiValued"] == true && parent.is_empty() {
        json!([one(n)])
    } else {
        one(n)
    }
}

/// Whether `before` already holds `value` (so an add or replace of it may change nothing).
fn covers(before: &Value, value: &Value) -> bool {
    match (before, value) {
        (Value::Object(b), Value::Object(v)) => v.iter().all(|(k, v)| {
            b.iter()
                .find(|(bk, _)| bk.eq_ignore_ascii_case(k))
                .is_some_and(|(_, bv)| covers(bv, v))
        }),
        (Value::Array(b), Value::Array(v)) => v.iter().all(|v| b.iter().any(|b| covers(b, v))),
        (Value::String(b), Value::String(v)) => b.eq_ignore_ascii_case(v),
        (b, v) => b == v,
    }
}

/// The value `path` addresses in `body` (`attr`, `attr.sub`, `urn`, `urn:attr`, `urn:attr.sub`).
fn target(body: &Value, urns: &[String], path: &str) -> Value {
    let (holder, rest) = match urns.iter().find(|u| path.starts_with(u.as_str())) {
        Some(u) if path.len() == u.len() => return body[u.as_str()].clone(),
        Some(u) => (&body[u.as_str()], &path[u.len() + 1..]),
        None => (body, path),
    };
    // `attr[type eq "work"].sub`: the sub-attribute of each value the filter selects.
    if let Some((name, filtered)) = rest.split_once("[type eq \"") {
        let (kind, sub) = filtered.split_once("\"].").unwrap();
        let found: Vec<Value> = holder[name]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["type"] == kind && !v[sub].is_null())
            .map(|v| v[sub].clone())
            .collect();
        return if found.is_empty() {
            Value::Null
        } else {
            Value::Array(found)
        };
    }
    rest.split('.').fold(holder.clone(), |v, k| v[k].clone())
}

fn without_meta(body: &Value) -> Value {
    let mut b = body.clone();
    b.as_object_mut().unwrap().remove("meta");
    b
}

/// Issue 15 item 2, a rule over the whole engine: for every writable attribute path of every
/// resource type the server publishes (and each writable extension as a whole), `add`,
/// `replace` and `remove` either fail with a SCIM error or change the target they address —
/// unless it already held that value; and `meta.version` changes exactly when the resource did.
#[actix_web::test]
async fn no_patch_answers_2xx_leaving_its_target_unchanged() {
    let app = TestApp::spawn().await;
    let member = app.create_user("rule.member@example.com").await;
    let member = member["id"].as_str().unwrap().to_owned();
    let schemas = app.get("/Schemas").await.body["Resources"].clone();
    let schema = |urn: &str| {
        schemas
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == urn)
            .unwrap_or_else(|| panic!("{urn} is not in /Schemas"))
            .clone()
    };
    let types = app.get("/ResourceTypes").await.body["Resources"].clone();
    let (mut n, mut changed, mut refused) = (0u32, 0u32, 0u32);
    let mut failures = Vec::new();
    for rt in types.as_array().unwrap() {
        let endpoint = rt["endpoint"].as_str().unwrap();
        let created = match endpoint {
            "/Users" => app.create_user("rule.subject@example.com").await,
            _ => {
                app.post(endpoint, &json!({"displayName": "Rule subject"}))
                    .await
                    .body
            }
        };
        let res = format!("{endpoint}/{}", created["id"].as_str().unwrap());
        let extensions: Vec<String> = rt["schemaExtensions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["schema"].as_str().unwrap().to_owned())
            .collect();
        let mut paths: Vec<(String, Value)> = Vec::new();
        for (urn, core) in std::iter::once((rt["schema"].as_str().unwrap().to_owned(), true))
            .chain(extensions.iter().map(|u| (u.clone(), false)))
        {
            let s = schema(&urn);
            let prefix = if core {
                String::new()
            } else {
                format!("{urn}:")
            };
            let writable: Vec<&Value> = s["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["mutability"] == "readWrite")
                .collect();
            if !core && !writable.is_empty() {
                let attrs: Vec<Value> = writable.iter().map(|a| (*a).clone()).collect();
                paths.push((
                    urn.clone(),
                    json!({"name": "", "type": "complex", "multiValued": false, "subAttributes": attrs}),
                ));
            }
            for a in writable {
                let name = a["name"].as_str().unwrap();
                paths.push((format!("{prefix}{name}"), a.clone()));
                // A value path (`emails[type eq "work"].value`) for each writable
                // sub-attribute of a multi-valued attribute with canonical types.
                let kinds = a["subAttributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["name"] == "type")
                    .and_then(|t| t["canonicalValues"].as_array())
                    .and_then(|c| c.first())
                    .and_then(Value::as_str);
                if let (Some(kind), true) = (kinds, a["multiValued"] == true) {
                    for sub in a["subAttributes"].as_array().unwrap() {
                        if sub["mutability"] == "readWrite" && sub["name"] != "type" {
                            let mut sub = sub.clone();
                            sub["parent"] = json!(name);
                            paths.push((
                                format!(
                                    "{prefix}{name}[type eq \"{kind}\"].{}",
                                    sub["name"].as_str().unwrap()
                                ),
                                sub,
                            ));
                        }
                    }
                }
                if a["type"] == "complex" && a["multiValued"] == false {
                    for sub in a["subAttributes"].as_array().unwrap() {
                        if sub["mutability"] == "readWrite" {
                            let mut sub = sub.clone();
                            sub["parent"] = json!(name);
                            paths.push((
                                format!("{prefix}{name}.{}", sub["name"].as_str().unwrap()),
                                sub,
                            ));
                        }
                    }
                }
            }
        }
        for (path, attr) in &paths {
            let parent = attr["parent"].as_str().unwrap_or("");
            n += 2;
            let (v1, v2) = (
                sample(attr, parent, n, &member),
                sample(attr, parent, n + 1, &member),
            );
            for (op, value) in [
                ("remove", None),
                ("add", Some(&v1)),
                ("add", Some(&v1)),
                ("replace", Some(&v2)),
                ("replace", Some(&v2)),
                ("remove", None),
                ("remove", None),
            ] {
                let before = app.get(&res).await.body;
                let r = app.patch(&res, &one_op(op, path, value.cloned())).await;
                if !r.status.is_success() {
                    let t = r.body["scimType"].as_str().map(str::to_owned);
                    r.assert_error(r.status.as_u16(), t.as_deref());
                    assert_eq!(r.status.as_u16(), 400, "{op} {path}: {}", r.body);
                    refused += 1;
                    continue;
                }
                let after = app.get(&res).await.body;
                assert_eq!(
                    before["meta"]["version"] != after["meta"]["version"],
                    without_meta(&before) != without_meta(&after),
                    "{op} {path}: meta.version must change exactly when the resource does"
                );
                let (tb, ta) = (
                    target(&before, &extensions, path),
                    target(&after, &extensions, path),
                );
                if ta != tb {
                    changed += 1;
                    continue;
                }
                let already = match value {
                    // A group with no members shows `"members": []`.
                    None => tb.is_null() || tb == json!([]),
                    Some(v) if path.contains('[') => tb
                        .as_array()
                        .is_some_and(|a| a.iter().all(|t| covers(t, v))),
                    Some(v) => covers(&tb, v),
                };
                if !already {
                    failures.push(format!(
                        "{res} {op} {path} {value:?}: 2xx, target stays {tb}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "silent no-ops:\n{}",
        failures.join("\n")
    );
    eprintln!("{changed} operations changed their target, {refused} were refused");
    assert!(changed > refused, "{changed} changed, {refused} refused");
}
