//! Query benchmark (issue 3 item 7): a directory of N users (default 100,000) written straight
//! through the store, then the identity providers' filters, a `co` search, and a walk through
//! the whole directory with count=100 by startIndex and by cursor, each through
//! `Directory::list_users` (filter parsing, SQL compilation, the read pool, row decoding; no
//! HTTP). Prints figures; asserts nothing about speed.
//!
//! ```sh
//! cargo run --release --example query_bench            # 100,000 users
//! cargo run --release --example query_bench -- 20000   # another size
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use scimgate::directory::Directory;
use scimgate::scim::list::{ListQuery, parse_query};
use scimgate::scim::{resource, schema};
use scimgate::store::users::{self, NewUser};
use scimgate::store::{Store, StoreOptions, Synchronous};
use serde_json::json;

const BASE: &str = "https://mfa.example.com/scim/v2/x";

fn query(params: &[(&str, &str)]) -> ListQuery {
    let p: Vec<(String, String)> = params
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    parse_query(schema::user(), &p, 1000).unwrap()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let (store, writer) = Store::open(&StoreOptions {
        path: dir.path().join("bench.db"),
        synchronous: Synchronous::Normal,
        read_connections: 2,
    })
    .unwrap();
    let directory = Directory::new(
        store.clone(),
        scimgate::auth::seal::SecretsKey::generate().unwrap(),
    );
    let me = directory
        .create_integration("bench")
        .await
        .unwrap()
        .integration;

    let t = Instant::now();
    let source = me.id.as_str().to_owned();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let chunk = chunk.to_vec();
        let source = source.clone();
        store
            .write(move |conn| {
                for i in chunk {
                    let body = json!({
                        "userName": format!("user{i}@example.com"),
                        "externalId": format!("ext-{i}"),
                        "displayName": format!("User {i}"),
                        "name": {"givenName": "User", "familyName": format!("Number{i}")},
                        "emails": [
                            {"value": format!("user{i}@corp.example"), "type": "work", "primary": true},
                            {"value": format!("user{i}@home.example"), "type": "home"}
                        ],
                        "active": i % 10 != 0
                    });
                    let doc = resource::normalize(schema::user(), &body).unwrap();
                    users::insert(
                        conn,
                        NewUser {
                            id: &format!("{i:08}-0000-7000-8000-000000000000"),
                            source: Some(&source),
                            now: "2026-01-01T00:00:00.000Z",
                            doc: &doc,
                        },
                    )?;
                }
                Ok::<_, scimgate::store::StoreError>(())
            })
            .await
            .unwrap();
    }
    println!("inserted {n} users in {:.1} s", t.elapsed().as_secs_f64());

    // Query plans, as SQLite chooses them for these filters with an integration's scope.
    let k = n / 2;
    let id = format!("{k:08}-0000-7000-8000-000000000000");
    let filters = [
        format!(r#"userName eq "USER{k}@example.com""#),
        format!(r#"externalId eq "ext-{k}""#),
        format!(r#"emails[type eq "work"].value eq "user{k}@corp.example""#),
        format!(r#"displayName eq "user {k}""#),
        format!(r#"id eq "{id}""#),
        format!(r#"userName sw "user{k}""#),
        format!(r#"userName co "{k}@""#),
        format!(r#"name.familyName co "{k}""#),
    ];
    for f in &filters {
        let q = query(&[("filter", f), ("count", "10")]);
        let page = directory.list_users(&me, &q, BASE).await.unwrap();
        assert!(page.total >= 1, "{f}");
        // Run for about a second (at least 3 times).
        let t = Instant::now();
        let mut runs = 0u32;
        while runs < 3 || t.elapsed() < Duration::from_secs(1) {
            directory.list_users(&me, &q, BASE).await.unwrap();
            runs += 1;
        }
        let per = t.elapsed().as_secs_f64() / f64::from(runs);
        println!("{:>9.0} ops/s  {:>9.3} ms/op  {f}", 1.0 / per, per * 1000.0);
    }

    // Paging through everything, count=100.
    let page_times = |label: &str, times: &[f64], total: f64| {
        let first: f64 = times[..10].iter().sum::<f64>() / 10.0;
        let last: f64 = times[times.len() - 10..].iter().sum::<f64>() / 10.0;
        println!(
            "{label}: {} pages in {total:.2} s; first 10 pages {:.2} ms/page, last 10 {:.2} ms/page",
            times.len(),
            first * 1000.0,
            last * 1000.0
        );
    };
    let t = Instant::now();
    let (mut times, mut seen, mut start) = (Vec::new(), 0usize, 1usize);
    loop {
        let s = start.to_string();
        let q = query(&[("startIndex", &s), ("count", "100")]);
        let tp = Instant::now();
        let page = directory.list_users(&me, &q, BASE).await.unwrap();
        times.push(tp.elapsed().as_secs_f64());
        seen += page.users.len();
        start += 100;
        if page.users.is_empty() || start > n {
            break;
        }
    }
    assert_eq!(seen, n);
    page_times("startIndex paging", &times, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let (mut times, mut seen, mut cursor) = (Vec::new(), 0usize, String::new());
    loop {
        let q = query(&[("cursor", &cursor), ("count", "100")]);
        let tp = Instant::now();
        let page = directory.list_users(&me, &q, BASE).await.unwrap();
        times.push(tp.elapsed().as_secs_f64());
        seen += page.users.len();
        match page.next_cursor {
            Some(c) => cursor = c,
            None => break,
        }
    }
    assert_eq!(seen, n);
    page_times("cursor paging", &times, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let (mut times, mut cursor) = (Vec::new(), String::new());
    loop {
        let q = query(&[
            ("cursor", &cursor),
            ("count", "100"),
            ("sortBy", "userName"),
        ]);
        let tp = Instant::now();
        let page = directory.list_users(&me, &q, BASE).await.unwrap();
        times.push(tp.elapsed().as_secs_f64());
        match page.next_cursor {
            Some(c) => cursor = c,
            None => break,
        }
    }
    page_times(
        "cursor paging sortBy=userName",
        &times,
        t.elapsed().as_secs_f64(),
    );
    drop(directory);
    drop(store);
    writer.stop();
}
