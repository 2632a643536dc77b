//! The query language over HTTP (issue 3): the filters identity providers and admins send,
//! sorting, `.search` on /Users and at the root, cursor paging (RFC 9865), and their errors.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

const SEARCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn user_names(body: &Value) -> Vec<String> {
    body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

async fn seed(app: &TestApp) {
    for (user, given, family, title, work, dept) in [
        (
            "jo.smith@example.com",
            "Jo",
            "Smith",
            "Engineer",
            "jo@corp.example",
            "R&D",
        ),
        (
            "Ann.Lee@example.com",
            "Ann",
            "Lee",
            "Manager",
            "ann@corp.example",
            "Sales",
        ),
        (
            "straße@example.com",
            "Björn",
            "Straße",
            "engineer",
            "bjorn@corp.example",
            "R&D",
        ),
        (
            "zed@example.com",
            "Zed",
            "Ångström",
            "",
            "zed@other.example",
            "Ops",
        ),
    ] {
        let body = json!({
            "schemas": [USER_URN, ENTERPRISE],
            "userName": user,
            "name": {"givenName": given, "familyName": family},
            "displayName": format!("{given} {family}"),
            "title": title,
            "emails": [
                {"value": work, "type": "work", "primary": true},
                {"value": format!("{given}@home.example"), "type": "home"}
            ],
            ENTERPRISE: {"department": dept},
            "active": true
        });
        let r = app.post("/Users", &body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
}

async fn filter(app: &TestApp, f: &str) -> Vec<String> {
    let r = app.get(&format!("/Users?filter={}", enc(f))).await;
    assert_eq!(r.status, StatusCode::OK, "{f}: {}", r.body);
    let mut names = user_names(&r.body);
    names.sort();
    names
}

#[actix_web::test]
async fn idp_and_admin_filters() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    // Entra's value path with a sub-attribute comparison.
    assert_eq!(
        filter(
            &app,
            r#"emails[type eq "work"].value eq "ANN@corp.example""#
        )
        .await,
        ["Ann.Lee@example.com"]
    );
    assert!(
        filter(
            &app,
            r#"emails[type eq "home"].value eq "ann@corp.example""#
        )
        .await
        .is_empty()
    );
    // SailPoint and admins: prefix and substring searches, case-insensitive with full folding.
    assert_eq!(
        filter(&app, r#"userName sw "ann.""#).await,
        ["Ann.Lee@example.com"]
    );
    assert_eq!(
        filter(&app, r#"userName sw "STRASSE""#).await,
        ["straße@example.com"]
    );
    assert_eq!(
        filter(&app, r#"displayName co "ångs""#).await,
        ["zed@example.com"]
    );
    assert_eq!(
        filter(&app, r#"name.familyName co "SS" or title eq "manager""#).await,
        ["Ann.Lee@example.com", "straße@example.com"]
    );
    assert_eq!(
        filter(
            &app,
            r#"title eq "engineer" and not (userName ew "example.com")"#
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        filter(&app, r#"title pr and title ne "Engineer""#).await,
        ["Ann.Lee@example.com"]
    );
    assert_eq!(
        filter(&app, &format!(r#"{ENTERPRISE}:department eq "r&d""#)).await,
        ["jo.smith@example.com", "straße@example.com"]
    );
    assert_eq!(
        filter(&app, r#"emails[type eq "work" and value ew "@corp.example"] and meta.created gt "2000-01-01T00:00:00+01:00""#).await.len(),
        3
    );
    assert_eq!(
        filter(&app, r#"meta.resourceType eq "User""#).await.len(),
        4
    );
}

#[actix_web::test]
async fn sorting() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let r = app.get("/Users?sortBy=userName").await;
    assert_eq!(
        user_names(&r.body),
        [
            "Ann.Lee@example.com",
            "jo.smith@example.com",
            "straße@example.com",
            "zed@example.com"
        ]
    );
    let r = app
        .get("/Users?sortBy=name.familyName&sortOrder=descending")
        .await;
    // Folded: "straße" > "smith" > "lee"; "Ångström" folds to "ångström", after "z".
    assert_eq!(
        user_names(&r.body),
        [
            "zed@example.com",
            "straße@example.com",
            "jo.smith@example.com",
            "Ann.Lee@example.com"
        ]
    );
    // Multi-valued: the primary email; ties broken by creation order; no data sorts last.
    let r = app
        .get(&format!(
            "/Users?sortBy={}",
            enc(&format!("{ENTERPRISE}:department"))
        ))
        .await;
    assert_eq!(
        user_names(&r.body),
        [
            "zed@example.com",
            "jo.smith@example.com",
            "straße@example.com",
            "Ann.Lee@example.com"
        ]
    );
    let r = app.get("/Users?sortBy=emails&count=2&startIndex=2").await;
    assert_eq!(
        user_names(&r.body),
        ["straße@example.com", "jo.smith@example.com"]
    );
    app.get("/Users?sortBy=name")
        .await
        .assert_error(400, Some("invalidValue"));
    app.get("/Users?sortBy=nope")
        .await
        .assert_error(400, Some("invalidValue"));
    app.get("/Users?sortBy=userName&sortOrder=sideways")
        .await
        .assert_error(400, Some("invalidValue"));
}

#[actix_web::test]
async fn search_endpoints() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let body = json!({
        "schemas": [SEARCH_URN],
        "filter": "emails.value co \"@corp.example\"",
        "sortBy": "userName",
        "sortOrder": "descending",
        "attributes": ["userName", "name.givenName"],
        "startIndex": 1,
        "count": 2
    });
    let r = app.post("/Users/.search", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(
        user_names(&r.body),
        ["straße@example.com", "jo.smith@example.com"]
    );
    let first = &r.body["Resources"][0];
    assert_eq!(first["name"], json!({"givenName": "Björn"}));
    assert!(first.get("emails").is_none() && first["id"].is_string());

    // The root .search covers every resource type.
    let r = app.post("/.search", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(user_names(&r.body).len(), 2);
    let r = app
        .post(
            "/.search",
            &json!({"schemas": [SEARCH_URN], "startIndex": 4}),
        )
        .await;
    assert_eq!(r.body["totalResults"], 4);
    assert_eq!(user_names(&r.body).len(), 1);

    // Errors.
    app.post("/Users/.search", &json!({"schemas": ["urn:x"]}))
        .await
        .assert_error(400, Some("invalidSyntax"));
    app.post("/Users/.search", &json!({"filter": "userName eq"}))
        .await
        .assert_error(400, Some("invalidFilter"));
    app.post("/Users/.search", &json!({"count": "ten"}))
        .await
        .assert_error(400, Some("invalidValue"));
    app.post("/.search", &json!({"cursor": ""}))
        .await
        .assert_error(400, Some("invalidValue"));
    let r = app.get("/Users/.search").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A list page and a GET write each stored document out without parsing it; what they show
/// must be exactly what the parsing path (a PUT's answer) shows: extension, groups,
/// provenance, meta. With a
/// projection, the page is rendered the parsing way and shows only what was asked for.
#[actix_web::test]
async fn list_pages_show_what_a_read_shows() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let jo = filter_one(&app, "jo.smith@example.com").await;
    let r = app
        .post(
            "/Groups",
            &json!({"displayName": "Eng \"core\"", "members": [{"value": jo["id"]}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for path in ["/Users", "/Users?count=2&startIndex=2", "/Users?cursor="] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let listed = page.body["Resources"].as_array().unwrap();
        assert!(!listed.is_empty());
        for l in listed {
            let at = format!("/Users/{}", l["id"].as_str().unwrap());
            let read = app.get(&at).await;
            assert_eq!(*l, read.body, "{path}");
            // A PUT of what was read changes nothing, and its answer is rendered from the
            // parsed document: the spliced text must say the same.
            let put = app.put(&at, &read.body).await;
            assert_eq!(put.status, StatusCode::OK, "{}", put.body);
            assert_eq!(put.body, read.body, "{path}");
        }
    }
    let listed = app.get("/Users").await.body;
    let jo_listed = listed["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == jo["id"])
        .unwrap()
        .clone();
    assert_eq!(jo_listed["groups"][0]["display"], "Eng \"core\"");
    assert_eq!(jo_listed[ENTERPRISE]["department"], "R&D");
    assert!(
        jo_listed["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE))
    );
    // Projections on a list.
    let r = app.get("/Users?attributes=userName").await;
    for u in r.body["Resources"].as_array().unwrap() {
        let mut keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["id", "schemas", "userName"], "{u}");
    }
    let r = app
        .get(&format!(
            "/Users?excludedAttributes=groups,emails,{ENTERPRISE}:department"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for u in r.body["Resources"].as_array().unwrap() {
        assert!(
            u.get("groups").is_none() && u.get("emails").is_none() && u.get(ENTERPRISE).is_none(),
            "{u}"
        );
        assert!(
            !u["schemas"]
                .as_array()
                .unwrap()
                .contains(&json!(ENTERPRISE))
        );
        assert!(u["meta"]["location"].is_string());
    }
}

async fn filter_one(app: &TestApp, user_name: &str) -> Value {
    let r = app
        .get(&format!(
            "/Users?filter={}",
            enc(&format!("userName eq \"{user_name}\""))
        ))
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
    r.body["Resources"][0].clone()
}

/// Every user in the order `query` lists them, as one fresh read (startIndex 1).
async fn all(app: &TestApp, query: &str) -> Vec<String> {
    user_names(
        &app.get(&format!("/Users?startIndex=1&count=25{query}"))
            .await
            .body,
    )
}

/// A page of 10 by startIndex: (totalResults, userNames).
async fn page(app: &TestApp, query: &str, start: usize) -> (u64, Vec<String>) {
    let r = app
        .get(&format!("/Users?startIndex={start}&count=10{query}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (
        r.body["totalResults"].as_u64().unwrap(),
        user_names(&r.body),
    )
}

/// An index-paged walk (Okta's import) resumes each page where the previous one ended instead
/// of skipping its offset; the pages are exactly those `OFFSET` gives: with nothing changed,
/// after changes between pages, with a filter and a sort, and for a page asked out of order.
#[actix_web::test]
async fn index_walks_give_the_offset_pages() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(app.create_user(&format!("walker{i:02}@example.com")).await["id"].clone());
    }
    for query in [
        "",
        "&sortBy=userName&sortOrder=descending",
        "&filter=userName%20sw%20%22walker1%22",
    ] {
        let expected = all(&app, query).await;
        let mut walked = Vec::new();
        let mut start = 1;
        loop {
            let (total, names) = page(&app, query, start).await;
            assert_eq!(total as usize, expected.len(), "{query}");
            if names.is_empty() {
                break;
            }
            start += names.len();
            walked.extend(names);
        }
        assert_eq!(walked, expected, "{query}");
    }
    // Changes between pages: each page is what OFFSET gives on the directory as it is then.
    let (_, first) = page(&app, "", 1).await;
    assert_eq!(first.len(), 10);
    app.delete(&format!("/Users/{}", ids[3].as_str().unwrap()))
        .await;
    let now = all(&app, "").await;
    assert_eq!(page(&app, "", 11).await, (24, now[10..20].to_vec()));
    app.create_user("walker-new@example.com").await;
    app.delete(&format!("/Users/{}", ids[0].as_str().unwrap()))
        .await;
    let now = all(&app, "").await;
    assert_eq!(page(&app, "", 21).await, (24, now[20..].to_vec()));
    // Out of order and repeated pages.
    assert_eq!(page(&app, "", 11).await, (24, now[10..20].to_vec()));
    assert_eq!(page(&app, "", 11).await, (24, now[10..20].to_vec()));
    assert_eq!(page(&app, "", 2).await, (24, now[1..11].to_vec()));
}

#[actix_web::test]
async fn cursor_paging_is_stable_under_changes() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(app.create_user(&format!("user{i:02}@example.com")).await["id"].clone());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let r = app
            .get(&format!("/Users?count=10&cursor={}", enc(&cursor)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.get("startIndex").is_none());
        seen.extend(user_names(&r.body));
        pages += 1;
        if pages == 1 {
            // Between pages: a user not yet seen is deleted, one already seen too, and a new
            // one is created.
            let r = app
                .delete(&format!("/Users/{}", ids[15].as_str().unwrap()))
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT);
            app.delete(&format!("/Users/{}", ids[0].as_str().unwrap()))
                .await;
            app.create_user("user99@example.com").await;
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    let mut want: Vec<String> = (0..25)
        .filter(|i| *i != 15)
        .map(|i| format!("user{i:02}@example.com"))
        .collect();
    want.push("user99@example.com".into());
    assert_eq!(seen, want);
    assert_eq!(pages, 3);

    // Sorted cursor paging, descending, over the whole directory.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app
            .get(&format!(
                "/Users?count=7&sortBy=userName&sortOrder=descending&cursor={}",
                enc(&cursor)
            ))
            .await;
        seen.extend(user_names(&r.body));
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    // user00 was deleted after the first pass saw it.
    let mut sorted: Vec<String> = want[1..].to_vec();
    sorted.reverse();
    assert_eq!(seen, sorted);

    // A cursor used with another query, forged, or altered is invalidCursor.
    let r = app.get("/Users?count=5&cursor=").await;
    let next = r.body["nextCursor"].as_str().unwrap().to_owned();
    app.get(&format!(
        "/Users?count=5&cursor={}&filter={}",
        enc(&next),
        enc("userName pr")
    ))
    .await
    .assert_error(400, Some("invalidCursor"));
    app.get("/Users?cursor=bm90LWEtY3Vyc29y.AAAAAAAAAAAAAAAAAAAAAA")
        .await
        .assert_error(400, Some("invalidCursor"));
    let mut altered = next.clone().into_bytes();
    altered[3] ^= 1;
    app.get(&format!(
        "/Users?cursor={}",
        enc(&String::from_utf8(altered).unwrap())
    ))
    .await
    .assert_error(400, Some("invalidCursor"));
    app.get(&format!("/Users?cursor={}&startIndex=2", enc(&next)))
        .await
        .assert_error(400, Some("invalidValue"));
    // Another integration cannot use this one's cursor.
    let (base2, token2) = app.second_integration("entra").await;
    let r = send(
        app.client
            .get(format!("{base2}/Users?count=5&cursor={}", enc(&next)))
            .insert_header(("Authorization", format!("Bearer {token2}"))),
        None,
    )
    .await;
    r.assert_error(400, Some("invalidCursor"));
    // The same cursor with its own query works.
    let r = app
        .get(&format!("/Users?count=5&cursor={}", enc(&next)))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["itemsPerPage"], 5);
}

#[actix_web::test]
async fn service_provider_config_advertises_sort_and_pagination() {
    let app = TestApp::spawn().await;
    let spc = app.get("/ServiceProviderConfig").await.body;
    assert_eq!(spc["sort"]["supported"], true);
    let p = &spc["pagination"];
    assert_eq!(p["cursor"], true);
    assert_eq!(p["index"], true);
    assert_eq!(p["defaultPaginationMethod"], "index");
    assert_eq!(p["maxPageSize"], 1000);
    assert_eq!(p["cursorTimeout"], 3600);
}
