//! The provisioning benchmark: starts scimgate in-process on port 0 with a fresh database file
//! and drives it over real HTTP (keep-alive connections) the way identity providers do, at
//! concurrency 1, 8 and 32. Each figure is printed with its ratio to two baselines measured in
//! the same run on the same machine: single-row SQLite commits with the same `synchronous`
//! setting (what one commit per request would give) and an actix-web handler returning a fixed
//! 600-byte JSON (the HTTP ceiling), so the numbers mean something on a noisy machine.
//!
//!     cargo bench --bench provisioning                 # N = 10,000
//!     cargo bench --bench provisioning -- --n 100000   # or 1000000
//!     options: --concurrency 1,8,32  --mixed-secs 10  --synchronous full|normal  --c1-max 2000
//!              --phases get,put,patch,groups,list,cursor,filters,lookup1,mixed,bulk  (okta-import
//!              always runs: the other phases read what it created; handy under a profiler;
//!              bulk runs at the last concurrency only)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App as ActixApp, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

use scimgate::app::{App, RunOptions};
use scimgate::config::Config;
use scimgate::store::Synchronous;

struct Opts {
    n: usize,
    concurrency: Vec<usize>,
    mixed_secs: u64,
    synchronous: Synchronous,
    c1_max: usize,
    /// The phases after okta-import to run (None: all).
    phases: Option<Vec<String>>,
}

impl Opts {
    fn wants(&self, phase: &str) -> bool {
        self.phases
            .as_ref()
            .is_none_or(|p| p.iter().any(|x| x == phase))
    }
}

fn opts() -> Opts {
    let mut o = Opts {
        n: 10_000,
        concurrency: vec![1, 8, 32],
        mixed_secs: 10,
        synchronous: Synchronous::Full,
        c1_max: 2_000,
        phases: None,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let val = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--n" => o.n = val.parse().expect("--n takes a number"),
            "--concurrency" => {
                o.concurrency = val
                    .split(',')
                    .map(|c| c.parse().expect("--concurrency takes 1,8,32"))
                    .collect()
            }
            "--mixed-secs" => o.mixed_secs = val.parse().expect("--mixed-secs takes a number"),
            "--c1-max" => o.c1_max = val.parse().expect("--c1-max takes a number"),
            "--phases" => {
                const KNOWN: [&str; 10] = [
                    "get", "put", "patch", "groups", "list", "cursor", "filters", "lookup1",
                    "mixed", "bulk",
                ];
                let p: Vec<String> = val
                    .split(',')
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(bad) = p.iter().find(|x| !KNOWN.contains(&x.as_str())) {
                    panic!("unknown phase {bad}; phases are {}", KNOWN.join(","));
                }
                o.phases = Some(p);
            }
            "--synchronous" => {
                o.synchronous = if val == "normal" {
                    Synchronous::Normal
                } else {
                    Synchronous::Full
                };
            }
            "--bench" => {
                i += 1;
                continue;
            }
            other => panic!("unknown option {other}"),
        }
        i += 2;
    }
    o
}

/// Latencies of one phase.
struct Run {
    ops: usize,
    elapsed: Duration,
    lat: Vec<Duration>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
    fn pct(&self, p: f64) -> f64 {
        if self.lat.is_empty() {
            return 0.0;
        }
        let mut l = self.lat.clone();
        l.sort();
        let i = ((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1;
        l[i].as_secs_f64() * 1000.0
    }
}

/// Runs `count` operations `op(i)` with `c` in flight at once (keep-alive connections).
async fn drive<F, Fut>(c: usize, count: usize, op: F) -> Run
where
    F: Fn(usize) -> Fut + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let next = Rc::new(AtomicUsize::new(0));
    let lat = Rc::new(RefCell::new(Vec::with_capacity(count)));
    let op = Rc::new(op);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (next, lat, op) = (next.clone(), lat.clone(), op.clone());
        tasks.push(actix_web::rt::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let t = Instant::now();
                op(i).await;
                lat.borrow_mut().push(t.elapsed());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let lat = lat.take();
    Run {
        ops: lat.len(),
        elapsed,
        lat,
    }
}

/// Runs operations for `secs` seconds with `c` in flight.
async fn drive_for<F, Fut>(c: usize, secs: u64, op: F) -> Run
where
    F: Fn(usize) -> Fut + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let next = Rc::new(AtomicUsize::new(0));
    let lat = Rc::new(RefCell::new(Vec::new()));
    let op = Rc::new(op);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (next, lat, op) = (next.clone(), lat.clone(), op.clone());
        tasks.push(actix_web::rt::spawn(async move {
            while Instant::now() < deadline {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                op(i).await;
                lat.borrow_mut().push(t.elapsed());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let lat = lat.take();
    Run {
        ops: lat.len(),
        elapsed,
        lat,
    }
}

#[derive(Clone)]
struct Client {
    http: awc::Client,
    base: Rc<String>,
    auth: Rc<String>,
}

impl Client {
    fn new(base: String, token: &str, c: usize) -> Client {
        let http = awc::Client::builder()
            .timeout(Duration::from_secs(120))
            .connector(awc::Connector::new().limit(c.max(1)))
            .finish();
        Client {
            http,
            base: Rc::new(base),
            auth: Rc::new(format!("Bearer {token}")),
        }
    }

    /// Sends a request and checks its status. The body is returned unparsed: a real identity
    /// provider's parsing does not run on this machine, so the load generator reads only what
    /// it needs (`Reply::get`) and leaves the cores to the server.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>, expect: u16) -> Reply {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            "PATCH" => self.http.patch(url),
            _ => self.http.delete(url),
        }
        .insert_header(("Authorization", self.auth.as_str()))
        .insert_header(("Content-Type", "application/scim+json"));
        let mut res = match body {
            Some(b) => req.send_body(b.to_string()).await.unwrap(),
            None => req.send().await.unwrap(),
        };
        let bytes = res.body().limit(256 * 1024 * 1024).await.unwrap();
        assert_eq!(
            res.status().as_u16(),
            expect,
            "{method} {path}: {}",
            String::from_utf8_lossy(&bytes)
        );
        Reply(bytes)
    }
}

struct Reply(actix_web::web::Bytes);

impl Reply {
    /// The fields of `T`, skipping the rest of the body without building it.
    fn get<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.0).unwrap()
    }
}

#[derive(serde::Deserialize)]
struct Created {
    id: String,
}

#[derive(serde::Deserialize)]
struct Listed {
    #[serde(rename = "totalResults")]
    total: u64,
    #[serde(rename = "itemsPerPage", default)]
    per_page: u64,
    #[serde(rename = "Resources", default)]
    resources: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "nextCursor")]
    next_cursor: Option<String>,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn okta_user(i: usize, tag: &str) -> Value {
    let name = format!("{tag}.user{i}@example.com");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": format!("Given{i}"), "familyName": format!("Family{i}")},
        "emails": [{"primary": true, "value": name, "type": "work"}],
        "displayName": format!("Given{i} Family{i}"),
        "locale": "en-US",
        "externalId": format!("00u{tag}{i:08}"),
        "aliases": [{"value": format!("{tag}.alias{i}@example.com"), "type": "email"}],
        "groups": [],
        "password": format!("pw{i}xQ9!"),
        "active": true
    })
}

/// Baseline 1: single-row SQLite commits per second with the same synchronous setting.
fn commit_baseline(dir: &std::path::Path, sync: Synchronous) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("baseline.db")).unwrap();
    conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
        .unwrap();
    conn.pragma_update(
        None,
        "synchronous",
        if sync == Synchronous::Full {
            "FULL"
        } else {
            "NORMAL"
        },
    )
    .unwrap();
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)")
        .unwrap();
    let doc = "x".repeat(600);
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < Duration::from_secs(3) {
        conn.execute("INSERT INTO t (doc) VALUES (?1)", [&doc])
            .unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Baseline 2: an actix-web handler returning a fixed 600-byte JSON, at concurrency `c`.
async fn http_ceiling(c: usize, workers: usize) -> f64 {
    let body: &'static str = Box::leak(
        format!(
            "{{\"schemas\":[\"urn:x\"],\"pad\":\"{}\"}}",
            "x".repeat(600 - 27)
        )
        .into_boxed_str(),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = HttpServer::new(move || {
        ActixApp::new().route(
            "/x",
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .content_type("application/scim+json")
                    .body(body)
            }),
        )
    })
    .workers(workers)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let client = Client::new(format!("http://{addr}"), "x", c);
    let count = 20_000;
    let run = drive(c, count, move |_| {
        let client = client.clone();
        async move {
            client.call("GET", "/x", None, 200).await;
        }
    })
    .await;
    handle.stop(true).await;
    run.rate()
}

struct Report {
    rows: Vec<String>,
}

impl Report {
    fn line(
        &mut self,
        phase: &str,
        c: usize,
        run: &Run,
        unit_per_op: f64,
        commit: Option<f64>,
        ceiling: f64,
    ) {
        let rate = run.rate();
        let commit_ratio = commit.map_or("—".to_owned(), |b| format!("{:.1}×", rate / b));
        // An infinite ceiling: no comparable baseline (the ceiling is measured at `c`).
        let http_ratio = if ceiling.is_finite() {
            format!("{:.0}%", rate / ceiling * 100.0)
        } else {
            "—".to_owned()
        };
        let row = format!(
            "| {phase:<34} | {c:>3} | {:>9} | {:>10.0} | {:>10.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>9} | {:>7} |",
            run.ops,
            rate,
            rate * unit_per_op,
            run.pct(0.50),
            run.pct(0.95),
            run.pct(0.99),
            commit_ratio,
            http_ratio
        );
        println!("{row}");
        self.rows.push(row);
    }
}

#[derive(serde::Deserialize)]
struct BulkReply {
    #[serde(rename = "Operations")]
    ops: Vec<BulkResult>,
}

#[derive(serde::Deserialize)]
struct BulkResult {
    status: String,
}

/// Issue 14's stall: integration A sends eight concurrent Bulk requests, each 1,000
/// `POST /Groups` chained by bulkId (operation i's member is `bulkId:c<i+1>`, the last has
/// none), while integration B reads `GET /Users?count=1` one request after the other. Prints
/// B's latency while A runs, and how long A took.
async fn bulk_phase(a_base: &str, a_token: &str, b_base: &str, b_token: &str) {
    const REQUESTS: usize = 8;
    const OPS: usize = 1_000;
    let a = Client::new(a_base.to_owned(), a_token, REQUESTS);
    let b = Client::new(b_base.to_owned(), b_token, 1);
    let bodies: Vec<Value> = (0..REQUESTS)
        .map(|r| {
            let ops: Vec<Value> = (0..OPS)
                .map(|i| {
                    let mut data = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": format!("bulk{r}-c{i}"),
                    });
                    if i + 1 < OPS {
                        data["members"] = json!([{"value": format!("bulkId:c{}", i + 1)}]);
                    }
                    json!({"method": "POST", "path": "/Groups", "bulkId": format!("c{i}"), "data": data})
                })
                .collect();
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
        })
        .collect();
    let done = Rc::new(std::cell::Cell::new(false));
    let (b2, done2) = (b.clone(), done.clone());
    let reader = actix_web::rt::spawn(async move {
        let mut lat = Vec::new();
        let start = Instant::now();
        while !done2.get() {
            let t = Instant::now();
            b2.call("GET", "/Users?count=1", None, 200).await;
            lat.push(t.elapsed());
        }
        Run {
            ops: lat.len(),
            elapsed: start.elapsed(),
            lat,
        }
    });
    let start = Instant::now();
    let mut tasks = Vec::new();
    for body in bodies {
        let a = a.clone();
        tasks.push(actix_web::rt::spawn(async move {
            let t = Instant::now();
            let reply: BulkReply = a.call("POST", "/Bulk", Some(&body), 200).await.get();
            let created = reply.ops.iter().filter(|o| o.status == "201").count();
            (t.elapsed(), created, reply.ops.len())
        }));
    }
    let mut slowest = Duration::ZERO;
    let (mut created, mut results) = (0, 0);
    for t in tasks {
        let (d, c, n) = t.await.unwrap();
        slowest = slowest.max(d);
        created += c;
        results += n;
    }
    let a_elapsed = start.elapsed();
    done.set(true);
    let b_run = reader.await.unwrap();
    println!(
        "| bulk: A {REQUESTS} concurrent chained {OPS}-op Bulk requests: all done in {:.0} ms (slowest request {:.0} ms; {results} results, {created} created: a group is no member, so each chain ends after its last group, with 400 and then 409 for the operations that refer to a failed one)",
        a_elapsed.as_secs_f64() * 1000.0,
        slowest.as_secs_f64() * 1000.0
    );
    println!(
        "| bulk: B GET /Users?count=1 meanwhile: {} requests, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target p99 < 50 ms)",
        b_run.ops,
        b_run.pct(0.50),
        b_run.pct(0.99),
        b_run.pct(1.0)
    );
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let o = opts();
    actix_web::rt::System::new().block_on(run(o));
}

async fn run(o: Opts) {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let tmp = tempfile::tempdir().unwrap();
    println!(
        "scimgate provisioning benchmark: N={}, concurrency {:?}, synchronous={:?}, {} server workers, {} cores",
        o.n, o.concurrency, o.synchronous, workers, workers
    );
    let commit = commit_baseline(tmp.path(), o.synchronous);
    println!(
        "baseline: single-row SQLite commits (synchronous={:?}): {commit:.0}/s",
        o.synchronous
    );
    let mut ceilings = Vec::new();
    for &c in &o.concurrency {
        let ceiling = http_ceiling(c, workers).await;
        println!("baseline: actix-web fixed 600-byte JSON at concurrency {c}: {ceiling:.0} req/s");
        ceilings.push((c, ceiling));
    }
    println!();
    println!(
        "| phase                              |   c |       ops |      ops/s |    items/s | p50 ms  | p95 ms  | p99 ms  | vs commit | vs HTTP |"
    );
    println!(
        "|------------------------------------|-----|-----------|------------|------------|---------|---------|---------|-----------|---------|"
    );
    let mut report = Report { rows: Vec::new() };
    for (c, ceiling) in ceilings {
        let n = if c == 1 { o.n.min(o.c1_max) } else { o.n };
        let dir = tmp.path().join(format!("c{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().unwrap();
        config.server.workers = workers;
        config.database.path = dir.join("scimgate.db");
        config.database.synchronous = o.synchronous;
        config.log.level = "error".into();
        // The benchmark measures throughput, far above the per-integration rate limit.
        config.limits.scim_per_second = 1_000_000;
        config.limits.scim_burst = 1_000_000;
        let app = App::build(
            &config,
            RunOptions {
                handle_signals: false,
            },
        )
        .unwrap();
        let created = app.directory.create_integration("bench").await.unwrap();
        let base = format!("{}/scim/v2/{}", app.public_url, created.integration.id);
        // A second integration, B, for the bulk phase: its reads must not wait on A's Bulk.
        let b_created = app.directory.create_integration("bench-b").await.unwrap();
        let b_base = format!("{}/scim/v2/{}", app.public_url, b_created.integration.id);
        let handle = app.handle();
        let writer = app.directory.store().writer().clone();
        let task = actix_web::rt::spawn(app.run());
        let client = Client::new(base.clone(), created.token.expose(), c);
        let tag = format!("c{c}");

        // okta-import: filter GET then POST, per user.
        let (commits0, jobs0) = writer.stats();
        let ids = Rc::new(RefCell::new(vec![String::new(); n]));
        let (cl, t, ids2) = (client.clone(), tag.clone(), ids.clone());
        let run = drive(c, n, move |i| {
            let (cl, t, ids) = (cl.clone(), t.clone(), ids2.clone());
            async move {
                let body = okta_user(i, &t);
                let q = format!(
                    "/Users?filter={}&startIndex=1&count=100",
                    enc(&format!(
                        "userName eq \"{}\"",
                        body["userName"].as_str().unwrap()
                    ))
                );
                let found: Listed = cl.call("GET", &q, None, 200).await.get();
                assert_eq!(found.total, 0);
                let u: Created = cl.call("POST", "/Users", Some(&body), 201).await.get();
                ids.borrow_mut()[i] = u.id;
            }
        })
        .await;
        report.line(
            "okta-import (filter GET + POST)",
            c,
            &run,
            1.0,
            Some(commit),
            ceiling / 2.0,
        );
        // Group commit at work: how many write jobs (each POST is one; the Activity log adds
        // one per flush) shared each commit, i.e. each fsync.
        let (commits1, jobs1) = writer.stats();
        println!(
            "|   (writer during okta-import: {} write jobs in {} commits, {:.1} jobs per commit)",
            jobs1 - jobs0,
            commits1 - commits0,
            (jobs1 - jobs0) as f64 / (commits1 - commits0).max(1) as f64
        );
        let ids: Rc<Vec<String>> = Rc::new(ids.take());

        if o.wants("get") {
            let (cl, ids2) = (client.clone(), ids.clone());
            let run = drive(c, n, move |i| {
                let (cl, ids) = (cl.clone(), ids2.clone());
                async move {
                    cl.call("GET", &format!("/Users/{}", ids[i]), None, 200)
                        .await;
                }
            })
            .await;
            report.line("GET /Users/{id}", c, &run, 1.0, None, ceiling);
        }
        if o.wants("put") {
            let (cl, ids2, t) = (client.clone(), ids.clone(), tag.clone());
            let run = drive(c, n, move |i| {
                let (cl, ids, t) = (cl.clone(), ids2.clone(), t.clone());
                async move {
                    let mut body = okta_user(i, &t);
                    body["id"] = json!(ids[i]);
                    body["title"] = json!("Engineer");
                    cl.call("PUT", &format!("/Users/{}", ids[i]), Some(&body), 200)
                        .await;
                }
            })
            .await;
            report.line(
                "PUT /Users/{id} (full replace)",
                c,
                &run,
                1.0,
                Some(commit),
                ceiling,
            );
        }
        if o.wants("patch") {
            let (cl, ids2) = (client.clone(), ids.clone());
            let run = drive(c, n, move |i| {
            let (cl, ids) = (cl.clone(), ids2.clone());
            async move {
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
                cl.call("PATCH", &format!("/Users/{}", ids[i]), Some(&body), 200).await;
            }
        })
        .await;
            report.line("PATCH deactivate", c, &run, 1.0, Some(commit), ceiling);
        }
        if o.wants("groups") {
            // group-push: groups of up to 10,000 members; adds in batches of 100, removes one by one.
            let per_group = n.min(10_000);
            let groups = n.div_ceil(per_group);
            let mut gids = Vec::new();
            for g in 0..groups {
                let r = client
                    .call(
                        "POST",
                        "/Groups",
                        Some(&json!({"displayName": format!("{tag} group {g}"), "members": []})),
                        201,
                    )
                    .await
                    .get::<Created>();
                gids.push(r.id);
            }
            let gids = Rc::new(gids);
            let batches = n.div_ceil(100);
            let (cl, ids2, g2) = (client.clone(), ids.clone(), gids.clone());
            let run = drive(c, batches, move |b| {
            let (cl, ids, gids) = (cl.clone(), ids2.clone(), g2.clone());
            async move {
                let members: Vec<Value> = (b * 100..((b + 1) * 100).min(ids.len())).map(|i| json!({"value": ids[i]})).collect();
                let gid = &gids[(b * 100) / per_group];
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": members}]});
                cl.call("PATCH", &format!("/Groups/{gid}?excludedAttributes=members"), Some(&body), 200).await;
            }
        })
        .await;
            report.line(
                "group PATCH add 100 members",
                c,
                &run,
                100.0,
                Some(commit),
                ceiling,
            );

            let (cl, g2) = (client.clone(), gids.clone());
            let run = drive(c, groups.min(c.max(1) * 4), move |g| {
                let (cl, gids) = (cl.clone(), g2.clone());
                async move {
                    cl.call(
                        "GET",
                        &format!("/Groups/{}", gids[g % gids.len()]),
                        None,
                        200,
                    )
                    .await;
                }
            })
            .await;
            report.line(
                &format!("GET group with {per_group} members"),
                c,
                &run,
                1.0,
                None,
                ceiling,
            );

            let (cl, ids2) = (client.clone(), ids.clone());
            let run = drive(c, 200, move |_| {
                let cl = cl.clone();
                let _ = &ids2;
                async move {
                    cl.call(
                        "GET",
                        "/Groups?excludedAttributes=members&count=100",
                        None,
                        200,
                    )
                    .await;
                }
            })
            .await;
            report.line(
                "GET /Groups?excludedAttributes=members",
                c,
                &run,
                1.0,
                None,
                ceiling,
            );

            let (cl, ids2, g2) = (client.clone(), ids.clone(), gids.clone());
            let run = drive(c, n, move |i| {
            let (cl, ids, gids) = (cl.clone(), ids2.clone(), g2.clone());
            async move {
                let gid = &gids[i / per_group];
                let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[i])}]});
                cl.call("PATCH", &format!("/Groups/{gid}?excludedAttributes=members"), Some(&body), 200).await;
            }
        })
        .await;
            report.line(
                "group PATCH remove 1 member",
                c,
                &run,
                1.0,
                Some(commit),
                ceiling,
            );
        }
        if o.wants("list") {
            // directory-read: page through everyone by startIndex; the IdP filters.
            let pages = n.div_ceil(100);
            let cl = client.clone();
            let run = drive(c, pages, move |p| {
                let cl = cl.clone();
                async move {
                    let r = cl
                        .call(
                            "GET",
                            &format!("/Users?startIndex={}&count=100", p * 100 + 1),
                            None,
                            200,
                        )
                        .await
                        .get::<Listed>();
                    assert!(r.per_page > 0 && r.per_page as usize == r.resources.len());
                }
            })
            .await;
            report.line(
                "list users by startIndex (100/page)",
                c,
                &run,
                100.0,
                None,
                ceiling,
            );
        }
        if o.wants("cursor") {
            // The whole directory by startIndex, one page after the other, as Okta's import
            // reads it: each page resumes where the previous one ended.
            let started = Instant::now();
            let mut lat = Vec::new();
            let mut start = 1usize;
            loop {
                let path = format!("/Users?startIndex={start}&count=100");
                let t = Instant::now();
                let r: Listed = client.call("GET", &path, None, 200).await.get();
                lat.push(t.elapsed());
                start += r.resources.len();
                // Okta stops when it has read totalResults users.
                if r.resources.is_empty() || start > r.total as usize {
                    break;
                }
            }
            assert!(
                start > n,
                "the startIndex walk saw {} of {n} users",
                start - 1
            );
            let run = Run {
                ops: lat.len(),
                elapsed: started.elapsed(),
                lat,
            };
            report.line(
                "list users by startIndex, one walk",
                1,
                &run,
                100.0,
                None,
                f64::INFINITY,
            );
            // The whole directory by cursor (RFC 9865): each page needs the previous one's cursor,
            // so this walk is sequential whatever the concurrency.
            let started = Instant::now();
            let mut lat = Vec::new();
            let mut next: Option<String> = None;
            let mut seen = 0usize;
            loop {
                let path = match &next {
                    None => "/Users?cursor&count=100".to_owned(),
                    Some(cur) => format!("/Users?cursor={}&count=100", enc(cur)),
                };
                let t = Instant::now();
                let r: Listed = client.call("GET", &path, None, 200).await.get();
                lat.push(t.elapsed());
                seen += r.resources.len();
                match r.next_cursor {
                    Some(cur) => next = Some(cur),
                    None => break,
                }
            }
            assert!(seen >= n, "the cursor walk saw {seen} of {n} users");
            let run = Run {
                ops: lat.len(),
                elapsed: started.elapsed(),
                lat,
            };
            report.line(
                "list users by cursor (100/page)",
                1,
                &run,
                100.0,
                None,
                f64::INFINITY,
            );
        }
        if o.wants("filters") {
            for (label, make) in [
                (
                    "filter userName eq",
                    Box::new(|i: usize, t: &str| format!("userName eq \"{t}.USER{i}@example.com\""))
                        as Box<dyn Fn(usize, &str) -> String>,
                ),
                (
                    "filter externalId eq",
                    Box::new(|i: usize, t: &str| format!("externalId eq \"00u{t}{i:08}\"")),
                ),
                (
                    "filter emails[type eq work].value eq",
                    Box::new(|i: usize, t: &str| {
                        format!("emails[type eq \"work\"].value eq \"{t}.user{i}@example.com\"")
                    }),
                ),
            ] {
                let (cl, t) = (client.clone(), tag.clone());
                let make = Rc::new(make);
                let run = drive(c, n, move |i| {
                    let (cl, t, make) = (cl.clone(), t.clone(), make.clone());
                    async move {
                        let r = cl
                            .call(
                                "GET",
                                &format!("/Users?filter={}", enc(&make(i, &t))),
                                None,
                                200,
                            )
                            .await
                            .get::<Listed>();
                        assert_eq!(r.total, 1);
                    }
                })
                .await;
                report.line(label, c, &run, 1.0, None, ceiling);
            }
        }
        if o.wants("lookup1") {
            // The `userName eq` lookup one at a time: its latency without the queueing that 32 requests
            // in flight on two cores add (at c=32, p50 is mostly waiting for a core).
            if c > 1 {
                let (cl, t) = (client.clone(), tag.clone());
                let run = drive(1, n.min(20_000), move |i| {
                    let (cl, t) = (cl.clone(), t.clone());
                    async move {
                        let f = enc(&format!("userName eq \"{t}.USER{i}@example.com\""));
                        let r = cl
                            .call("GET", &format!("/Users?filter={f}"), None, 200)
                            .await
                            .get::<Listed>();
                        assert_eq!(r.total, 1);
                    }
                })
                .await;
                report.line(
                    "filter userName eq, one at a time",
                    1,
                    &run,
                    1.0,
                    None,
                    f64::INFINITY,
                );
            }
        }
        if o.wants("mixed") {
            // mixed: 70% filter, 10% GET, 10% PATCH, 10% POST.
            let (cl, ids2, t) = (client.clone(), ids.clone(), tag.clone());
            let fresh = Rc::new(AtomicUsize::new(n));
            let run = drive_for(c, o.mixed_secs, move |i| {
            let (cl, ids, t, fresh) = (cl.clone(), ids2.clone(), t.clone(), fresh.clone());
            async move {
                let pick = (i.wrapping_mul(2654435761)) % ids.len();
                match i % 10 {
                    0 => {
                        cl.call("GET", &format!("/Users/{}", ids[pick]), None, 200).await;
                    }
                    1 => {
                        let body = json!({"Operations": [{"op": "replace", "path": "title", "value": format!("T{i}")}]});
                        cl.call("PATCH", &format!("/Users/{}", ids[pick]), Some(&body), 200).await;
                    }
                    2 => {
                        let k = fresh.fetch_add(1, Ordering::Relaxed);
                        cl.call("POST", "/Users", Some(&okta_user(k, &t)), 201).await;
                    }
                    _ => {
                        let f = enc(&format!("userName eq \"{t}.user{pick}@example.com\""));
                        cl.call("GET", &format!("/Users?filter={f}"), None, 200).await;
                    }
                }
            }
        })
        .await;
            report.line(
                "mixed 70/10/10/10 filter/GET/PATCH/POST",
                c,
                &run,
                1.0,
                None,
                ceiling,
            );
        }
        if o.wants("bulk") && c == *o.concurrency.last().unwrap() {
            bulk_phase(
                &base,
                created.token.expose(),
                &b_base,
                b_created.token.expose(),
            )
            .await;
        }
        println!(
            "|   (process resident memory after c={c}: {:.0} MB)",
            rss_mb()
        );

        handle.stop(true).await;
        task.await.unwrap().unwrap();
        if c == *o.concurrency.last().unwrap() {
            let t = Instant::now();
            let app = App::build(
                &config,
                RunOptions {
                    handle_signals: false,
                },
            )
            .unwrap();
            let startup = t.elapsed();
            drop(app);
            println!(
                "start-up on the {n}-user database: {:.0} ms",
                startup.as_secs_f64() * 1000.0
            );
        }
    }
    println!(
        "\n(okta-import's 'vs HTTP' compares with half the ceiling: each user is two requests)"
    );
}
