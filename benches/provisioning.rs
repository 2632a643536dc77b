//! The provisioning benchmark: starts scimgate in-process on port 0 with a fresh database file
//! and drives it over real HTTP (keep-alive connections) the way identity providers do, at
//! concurrency 1, 8 and 32. Each figure is printed with its ratio to two baselines measured in
//! the same run on the same machine: single-row SQLite commits with the same `synchronous`
//! setting (what one commit per request would give) and an actix-web handler returning a fixed
//! 600-byte JSON (the HTTP ceiling), so the numbers mean something on a noisy machine, and
//! with the server's CPU time per request (its threads only: see `ServerCpu`), which is
//! steadier than a rate. Every request is sent as Okta or Entra sends it (method, path, query,
//! headers, body: scim-field-notes.md §1, §2); the few variants no identity provider sends are
//! labelled "not an IdP request" beside the exact one.
//!
//!     cargo bench --bench provisioning                 # N = 10,000
//!     cargo bench --bench provisioning -- --n 100000   # or 1000000
//!     options: --concurrency 1,8,32  --mixed-secs 10  --synchronous full|normal  --c1-max 2000
//!              --phases get,put,patch,groups,entra,list,cursor,filters,lookup1,mixed,bulk  (okta-import
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
                const KNOWN: [&str; 11] = [
                    "get", "put", "patch", "groups", "entra", "list", "cursor", "filters",
                    "lookup1", "mixed", "bulk",
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

/// Latencies of one phase, and the server's CPU time during it.
struct Run {
    ops: usize,
    elapsed: Duration,
    lat: Vec<Duration>,
    /// CPU time (user + system) of the server's threads while the phase ran: see [`ServerCpu`].
    cpu: Duration,
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

/// CPU time of the server's threads, read from `/proc`. The load generator runs on the main
/// thread (named `loadgen` at start): the server's threads (actix workers and their blocking
/// pools, the acceptor, the writer, the read pool, the mail and activity tasks) are everything
/// else. The process's total (`/proc/self/stat`, which keeps the time of threads that have
/// exited, such as idle blocking-pool threads) minus the main thread's
/// (`/proc/self/task/<pid>/stat`) is theirs.
struct ServerCpu(Duration);

impl ServerCpu {
    fn now() -> ServerCpu {
        let total = proc_cpu("/proc/self/stat");
        let main = proc_cpu(&format!("/proc/self/task/{}/stat", std::process::id()));
        ServerCpu(total.saturating_sub(main))
    }
    fn since(&self) -> Duration {
        ServerCpu::now().0.saturating_sub(self.0)
    }
}

/// utime + stime of a `/proc/…/stat` file. Clock ticks are 1/100 s on Linux (`USER_HZ`).
fn proc_cpu(path: &str) -> Duration {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the `(comm)`, which may hold spaces: state is field 3, utime 14, stime 15.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    Duration::from_millis(f.iter().sum::<u64>() * 10)
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
    let cpu = ServerCpu::now();
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
        cpu: cpu.since(),
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
    let cpu = ServerCpu::now();
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
        cpu: cpu.since(),
    }
}

/// Whose requests a client sends: the headers of each identity provider, as far as
/// scim-field-notes.md records them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idp {
    /// Okta's SCIM client (field notes §1.1: the sample headers of Okta's own documentation).
    Okta,
    /// Entra ID (field notes §2.1, §2.3): `Content-Type: application/scim+json`; the notes
    /// record no other request header.
    Entra,
}

#[derive(Clone)]
struct Client {
    http: awc::Client,
    base: Rc<String>,
    auth: Rc<String>,
    idp: Idp,
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
            idp: Idp::Okta,
        }
    }

    /// The same connections, sending another identity provider's headers.
    fn as_idp(&self, idp: Idp) -> Client {
        Client {
            idp,
            ..self.clone()
        }
    }

    /// Sends a request with the identity provider's headers and checks its status. The body
    /// is returned unparsed: a real identity provider's parsing does not run on this machine,
    /// so the load generator reads only what it needs (`Reply::get`) and leaves the cores to
    /// the server.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>, expect: u16) -> Reply {
        self.call_with(method, path, body, expect, None).await
    }

    /// [`Client::call`] with one more header: for the variants no identity provider sends,
    /// which the report labels so.
    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        expect: u16,
        extra: Option<(&str, &str)>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            "POST" => self.http.post(url),
            "PUT" => self.http.put(url),
            "PATCH" => self.http.patch(url),
            _ => self.http.delete(url),
        }
        .insert_header(("Authorization", self.auth.as_str()));
        req = match self.idp {
            Idp::Okta => req
                .insert_header(("User-Agent", "Okta SCIM Client 1.0.0"))
                .insert_header(("Accept", "application/scim+json"))
                .insert_header(("Accept-Charset", "utf-8"))
                .insert_header(("Accept-Encoding", "gzip,deflate"))
                .insert_header(("Content-Type", "application/scim+json; charset=utf-8")),
            Idp::Entra => req.insert_header(("Content-Type", "application/scim+json")),
        };
        if let Some(h) = extra {
            req = req.insert_header(h);
        }
        let mut res = match body {
            Some(b) => req.send_body(b.to_string()).await.unwrap(),
            None => req.send().await.unwrap(),
        };
        let bytes = res.body().limit(256 * 1024 * 1024).await.unwrap();
        // Okta accepts gzip, so the server compresses; the load generator inflates only what it
        // reads (`Reply::get`).
        let gzip = res
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let reply = Reply { bytes, gzip };
        if res.status().as_u16() != expect {
            panic!(
                "{method} {path}: {} {}",
                res.status(),
                String::from_utf8_lossy(&reply.text())
            );
        }
        reply
    }
}

struct Reply {
    bytes: actix_web::web::Bytes,
    gzip: bool,
}

impl Reply {
    /// The body, inflated.
    fn text(&self) -> std::borrow::Cow<'_, [u8]> {
        if !self.gzip {
            return std::borrow::Cow::Borrowed(&self.bytes);
        }
        let mut out = Vec::with_capacity(self.bytes.len() * 4);
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&self.bytes[..]), &mut out)
            .unwrap();
        std::borrow::Cow::Owned(out)
    }

    /// The fields of `T`, skipping the rest of the body without building it.
    fn get<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.text()).unwrap()
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

/// Entra's create-user body (field notes §2.1): core and enterprise schemas, externalId,
/// userName, active, a work email, meta.resourceType, name with formatted, roles `[]`.
fn entra_user(i: usize, tag: &str) -> Value {
    let name = format!("{tag}.entra{i}@example.com");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": format!("{tag}-entra-{i:08}"),
        "userName": name,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("Given{i} Family{i}"), "familyName": format!("Family{i}"), "givenName": format!("Given{i}")},
        "roles": []
    })
}

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Okta's group membership changes (field notes §1.2): add with a `members` list (no `type`),
/// remove one member per operation by filter.
fn okta_add(ids: &[String]) -> Value {
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": members}]})
}

fn okta_remove(id: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
}

/// Entra's (field notes §2.1): capitalised ops, a value array with `$ref: null`, `Remove` by
/// value without a filter.
fn entra_member(op: &str, id: &str) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": [{"op": op, "path": "members", "value": [{"$ref": null, "value": id}]}]})
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

/// Baseline 2: an actix-web handler returning a fixed 600-byte JSON, at concurrency `c`
/// (Okta's headers; this handler does not compress).
async fn http_ceiling(c: usize, workers: usize) -> Run {
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
    run
}

struct Report {
    rows: Vec<String>,
}

impl Report {
    /// One row. `reqs_per_op`: HTTP requests per operation (the server CPU column is per
    /// request); `items_per_op`: users or members per operation (items/s, CPU per item).
    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        phase: &str,
        c: usize,
        run: &Run,
        reqs_per_op: f64,
        items_per_op: f64,
        commit: Option<f64>,
        ceiling: f64,
    ) {
        let rate = run.rate();
        let commit_ratio = commit.map_or("—".to_owned(), |b| format!("{:.1}×", rate / b));
        // An infinite ceiling: no comparable baseline (the ceiling is measured at `c`).
        let http_ratio = if ceiling.is_finite() {
            format!("{:.0}%", rate * reqs_per_op / ceiling * 100.0)
        } else {
            "—".to_owned()
        };
        let cpu_us = run.cpu.as_secs_f64() * 1e6;
        let requests = (run.ops as f64 * reqs_per_op).max(1.0);
        let per_item = if items_per_op != reqs_per_op {
            format!("{:.1}", cpu_us / (run.ops as f64 * items_per_op).max(1.0))
        } else {
            String::new()
        };
        let row = format!(
            "| {phase:<62} | {c:>3} | {:>7} | {:>8.0} | {:>9.0} | {:>7.2} | {:>7.2} | {:>7.2} | {:>8.0} | {:>8} | {:>9} | {:>7} |",
            run.ops,
            rate,
            rate * items_per_op,
            run.pct(0.50),
            run.pct(0.95),
            run.pct(0.99),
            cpu_us / requests,
            per_item,
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
        let cpu = ServerCpu::now();
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
            cpu: cpu.since(),
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
    // The load generator runs on this thread; ServerCpu counts every other thread as the
    // server's. The name shows it apart in `top -H` and `perf report`.
    let _ = std::fs::write("/proc/thread-self/comm", "loadgen");
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
        let run = http_ceiling(c, workers).await;
        let ceiling = run.rate();
        println!(
            "baseline: actix-web fixed 600-byte JSON at concurrency {c}: {ceiling:.0} req/s, server CPU {:.0} µs per request",
            run.cpu.as_secs_f64() * 1e6 / run.ops.max(1) as f64
        );
        ceilings.push((c, ceiling));
    }
    println!();
    println!(
        "(IdP: each request as that identity provider sends it; 'not an IdP request': a variant no identity provider sends, beside the exact one. CPU: the server's threads, per request and per item)"
    );
    println!(
        "| {:<62} |   c |     ops |    ops/s |   items/s | p50 ms  | p95 ms  | p99 ms  | CPU µs/req | µs/item | vs commit | vs HTTP |",
        "phase"
    );
    println!(
        "|{}|-----|---------|----------|-----------|---------|---------|---------|----------|----------|-----------|---------|",
        "-".repeat(64)
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
            "Okta import (filter GET + POST)",
            c,
            &run,
            2.0,
            1.0,
            Some(commit),
            ceiling,
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
            report.line("Okta GET /Users/{id}", c, &run, 1.0, 1.0, None, ceiling);
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
                "Okta PUT /Users/{id} (full replace)",
                c,
                &run,
                1.0,
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
            report.line(
                "Okta PATCH deactivate",
                c,
                &run,
                1.0,
                1.0,
                Some(commit),
                ceiling,
            );
        }
        if o.wants("groups") {
            // Okta's group push (field notes §1.2) on groups of up to 10,000 members.
            let per_group = n.min(10_000);
            let groups = n.div_ceil(per_group);
            let mut gids = Vec::new();
            for g in 0..groups {
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("{tag} group {g}"), "members": []});
                let r = client
                    .call("POST", "/Groups", Some(&body), 201)
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
                    let body = okta_add(&ids[b * 100..((b + 1) * 100).min(ids.len())]);
                    let gid = &gids[(b * 100) / per_group];
                    cl.call("PATCH", &format!("/Groups/{gid}"), Some(&body), 204)
                        .await;
                }
            })
            .await;
            report.line(
                &format!("Okta PATCH add 100 members (groups to {per_group})"),
                c,
                &run,
                1.0,
                100.0,
                Some(commit),
                ceiling,
            );

            // Okta removes a member with one PATCH, and adds one with another: each member is
            // taken out and put back, so the group stays at its size while it is measured.
            let (cl, ids2, g2) = (client.clone(), ids.clone(), gids.clone());
            let run = drive(c, n, move |i| {
                let (cl, ids, gids) = (cl.clone(), ids2.clone(), g2.clone());
                async move {
                    let path = format!("/Groups/{}", gids[i / per_group]);
                    cl.call("PATCH", &path, Some(&okta_remove(&ids[i])), 204)
                        .await;
                    cl.call("PATCH", &path, Some(&okta_add(&ids[i..=i])), 204)
                        .await;
                }
            })
            .await;
            report.line(
                &format!("Okta PATCH remove 1, add 1 member (group of {per_group})"),
                c,
                &run,
                2.0,
                2.0,
                Some(commit),
                ceiling,
            );
            // The same asking for the group in the answer: what every one of them cost when
            // a group PATCH answered 200 with the whole group.
            let reps = (c * 4).min(n);
            let (cl, ids2, g2) = (client.clone(), ids.clone(), gids.clone());
            let run = drive(c, reps, move |i| {
                let (cl, ids, gids) = (cl.clone(), ids2.clone(), g2.clone());
                async move {
                    let path = format!("/Groups/{}", gids[i / per_group]);
                    let full = Some(("Prefer", "return=representation"));
                    cl.call_with("PATCH", &path, Some(&okta_remove(&ids[i])), 200, full)
                        .await;
                    cl.call_with("PATCH", &path, Some(&okta_add(&ids[i..=i])), 200, full)
                        .await;
                }
            })
            .await;
            report.line(
                "  same, answered with the group (Prefer: not an IdP request)",
                c,
                &run,
                2.0,
                2.0,
                Some(commit),
                ceiling,
            );

            // A GET of a whole large group: no identity provider's push does it (Okta's
            // headers, so the answer is gzipped as Okta would get it).
            let (cl, g2) = (client.clone(), gids.clone());
            let run = drive(c, (c * 8).max(32), move |g| {
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
                &format!("GET /Groups/{{id}}, {per_group} members (not an IdP request)"),
                c,
                &run,
                1.0,
                1.0,
                None,
                ceiling,
            );
            // The same without Accept-Encoding: rendering alone, no gzip.
            let (cl, g2) = (client.as_idp(Idp::Entra), gids.clone());
            let run = drive(c, (c * 8).max(32), move |g| {
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
                "  same, uncompressed (not an IdP request)",
                c,
                &run,
                1.0,
                1.0,
                None,
                ceiling,
            );
            // The rows above are served from the kept answer (`group_cache`) after their first
            // request. Here every GET follows a membership change, so none is: Okta's remove,
            // the GET (Okta's headers), Okta's add back. The CPU per item is one GET rendered,
            // read and gzipped afresh (plus two PATCHes, about 70 µs each).
            let (cl, ids2, g2) = (client.clone(), ids.clone(), gids.clone());
            let run = drive(c, (c * 8).min(n), move |i| {
                let (cl, ids, gids) = (cl.clone(), ids2.clone(), g2.clone());
                async move {
                    let path = format!("/Groups/{}", gids[i / per_group]);
                    cl.call("PATCH", &path, Some(&okta_remove(&ids[i])), 204)
                        .await;
                    cl.call("GET", &path, None, 200).await;
                    cl.call("PATCH", &path, Some(&okta_add(&ids[i..=i])), 204)
                        .await;
                }
            })
            .await;
            report.line(
                "  same, each after a change: remove 1, GET, add 1 (not an IdP request)",
                c,
                &run,
                3.0,
                1.0,
                None,
                ceiling,
            );
        }
        if o.wants("entra") {
            // Entra's user requests (field notes §2.1): the `userName eq` lookup (no paging
            // parameters), POST, PATCH Replace of a name, disable with the string "False".
            let entra = client.as_idp(Idp::Entra);
            let eids = Rc::new(RefCell::new(vec![String::new(); n]));
            let (cl, t, e2) = (entra.clone(), tag.clone(), eids.clone());
            let run = drive(c, n, move |i| {
                let (cl, t, eids) = (cl.clone(), t.clone(), e2.clone());
                async move {
                    let body = entra_user(i, &t);
                    let f = enc(&format!(
                        "userName eq \"{}\"",
                        body["userName"].as_str().unwrap()
                    ));
                    let found: Listed = cl
                        .call("GET", &format!("/Users?filter={f}"), None, 200)
                        .await
                        .get();
                    assert_eq!(found.total, 0);
                    let u: Created = cl.call("POST", "/Users", Some(&body), 201).await.get();
                    eids.borrow_mut()[i] = u.id;
                }
            })
            .await;
            report.line(
                "Entra create (filter GET + POST)",
                c,
                &run,
                2.0,
                1.0,
                Some(commit),
                ceiling,
            );
            let eids: Rc<Vec<String>> = Rc::new(eids.take());
            let (cl, e2) = (entra.clone(), eids.clone());
            let run = drive(c, n, move |i| {
                let (cl, eids) = (cl.clone(), e2.clone());
                async move {
                    let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "name.familyName", "value": format!("Renamed{i}")}]});
                    cl.call("PATCH", &format!("/Users/{}", eids[i]), Some(&body), 200)
                        .await;
                }
            })
            .await;
            report.line(
                "Entra PATCH Replace name.familyName",
                c,
                &run,
                1.0,
                1.0,
                Some(commit),
                ceiling,
            );
            let (cl, e2) = (entra.clone(), eids.clone());
            let run = drive(c, n, move |i| {
                let (cl, eids) = (cl.clone(), e2.clone());
                async move {
                    let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
                    cl.call("PATCH", &format!("/Users/{}", eids[i]), Some(&body), 200)
                        .await;
                }
            })
            .await;
            report.line(
                "Entra PATCH Replace active \"False\"",
                c,
                &run,
                1.0,
                1.0,
                Some(commit),
                ceiling,
            );

            // Entra's group: created without members (its extra schema URN, externalId), filled
            // to 10,000 members (Okta's batches of 100, not measured), then each member
            // `Remove`d and `Add`ed back, one PATCH each, so it stays at its size.
            let per_group = n.min(10_000);
            let body = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": format!("{tag}-entra-group"),
                "displayName": format!("{tag} entra group"),
            });
            let gid: Rc<String> = Rc::new(
                entra
                    .call("POST", "/Groups", Some(&body), 201)
                    .await
                    .get::<Created>()
                    .id,
            );
            let members: Rc<Vec<String>> = Rc::new(ids[..per_group].to_vec());
            let (cl, m2, g2) = (client.clone(), members.clone(), gid.clone());
            drive(c, per_group.div_ceil(100), move |b| {
                let (cl, m, gid) = (cl.clone(), m2.clone(), g2.clone());
                async move {
                    let body = okta_add(&m[b * 100..((b + 1) * 100).min(m.len())]);
                    cl.call("PATCH", &format!("/Groups/{gid}"), Some(&body), 204)
                        .await;
                }
            })
            .await;
            let (cl, m2, g2) = (entra.clone(), members.clone(), gid.clone());
            let run = drive(c, per_group, move |i| {
                let (cl, m, gid) = (cl.clone(), m2.clone(), g2.clone());
                async move {
                    let path = format!("/Groups/{gid}");
                    cl.call("PATCH", &path, Some(&entra_member("Remove", &m[i])), 204)
                        .await;
                    cl.call("PATCH", &path, Some(&entra_member("Add", &m[i])), 204)
                        .await;
                }
            })
            .await;
            report.line(
                &format!("Entra PATCH Remove 1, Add 1 member (group of {per_group})"),
                c,
                &run,
                2.0,
                2.0,
                Some(commit),
                ceiling,
            );
            // Entra's group lookup and read, members excluded (field notes §2.1).
            let (cl, g2, t) = (entra.clone(), gid.clone(), tag.clone());
            let run = drive(c, n, move |i| {
                let (cl, gid, t) = (cl.clone(), g2.clone(), t.clone());
                async move {
                    if i % 2 == 0 {
                        let f = enc(&format!("displayName eq \"{t} entra group\""));
                        let r: Listed = cl
                            .call(
                                "GET",
                                &format!("/Groups?excludedAttributes=members&filter={f}"),
                                None,
                                200,
                            )
                            .await
                            .get();
                        assert_eq!(r.total, 1);
                    } else {
                        cl.call(
                            "GET",
                            &format!("/Groups/{gid}?excludedAttributes=members"),
                            None,
                            200,
                        )
                        .await;
                    }
                }
            })
            .await;
            report.line(
                "Entra GET group by displayName eq / by id, excludedAttributes=members",
                c,
                &run,
                1.0,
                1.0,
                None,
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
                "list by startIndex, pages at once (not an IdP request)",
                c,
                &run,
                1.0,
                100.0,
                None,
                ceiling,
            );
        }
        if o.wants("cursor") {
            // The whole directory by startIndex, one page after the other, as Okta's import
            // reads it: each page resumes where the previous one ended.
            let cpu = ServerCpu::now();
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
                cpu: cpu.since(),
            };
            report.line(
                "Okta import walk: startIndex, count=100, one page after another",
                1,
                &run,
                1.0,
                100.0,
                None,
                f64::INFINITY,
            );
            // The whole directory by cursor (RFC 9865): each page needs the previous one's cursor,
            // so this walk is sequential whatever the concurrency.
            let cpu = ServerCpu::now();
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
                cpu: cpu.since(),
            };
            report.line(
                "list by cursor, count=100 (RFC 9865; no IdP sends it yet)",
                1,
                &run,
                1.0,
                100.0,
                None,
                f64::INFINITY,
            );
        }
        if o.wants("filters") {
            // Okta looks a user up by userName with paging parameters; Entra matches on
            // userName, externalId or the work email without them (field notes §1.2, §2.1).
            type MakeFilter = Box<dyn Fn(usize, &str) -> String>;
            let okta_paging = "&startIndex=1&count=100";
            for (label, idp, paging, make) in [
                (
                    "Okta filter userName eq",
                    Idp::Okta,
                    okta_paging,
                    Box::new(|i: usize, t: &str| format!("userName eq \"{t}.USER{i}@example.com\""))
                        as MakeFilter,
                ),
                (
                    "Entra filter externalId eq",
                    Idp::Entra,
                    "",
                    Box::new(|i: usize, t: &str| format!("externalId eq \"00u{t}{i:08}\"")),
                ),
                (
                    "Entra filter emails[type eq work].value eq",
                    Idp::Entra,
                    "",
                    Box::new(|i: usize, t: &str| {
                        format!("emails[type eq \"work\"].value eq \"{t}.user{i}@example.com\"")
                    }),
                ),
            ] {
                let (cl, t) = (client.as_idp(idp), tag.clone());
                let make = Rc::new(make);
                let run = drive(c, n, move |i| {
                    let (cl, t, make) = (cl.clone(), t.clone(), make.clone());
                    async move {
                        let r = cl
                            .call(
                                "GET",
                                &format!("/Users?filter={}{paging}", enc(&make(i, &t))),
                                None,
                                200,
                            )
                            .await
                            .get::<Listed>();
                        assert_eq!(r.total, 1);
                    }
                })
                .await;
                report.line(label, c, &run, 1.0, 1.0, None, ceiling);
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
                            .call(
                                "GET",
                                &format!("/Users?filter={f}&startIndex=1&count=100"),
                                None,
                                200,
                            )
                            .await
                            .get::<Listed>();
                        assert_eq!(r.total, 1);
                    }
                })
                .await;
                report.line(
                    "Okta filter userName eq, one at a time",
                    1,
                    &run,
                    1.0,
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
                        // Okta's deactivate and reactivate, in turn.
                        let body = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": i % 20 == 1}}]});
                        cl.call("PATCH", &format!("/Users/{}", ids[pick]), Some(&body), 200).await;
                    }
                    2 => {
                        let k = fresh.fetch_add(1, Ordering::Relaxed);
                        cl.call("POST", "/Users", Some(&okta_user(k, &t)), 201).await;
                    }
                    _ => {
                        let f = enc(&format!("userName eq \"{t}.user{pick}@example.com\""));
                        cl.call("GET", &format!("/Users?filter={f}&startIndex=1&count=100"), None, 200).await;
                    }
                }
            }
        })
        .await;
            report.line(
                "Okta mixed 70/10/10/10 filter/GET/PATCH/POST",
                c,
                &run,
                1.0,
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
        "\n('vs HTTP': HTTP requests per second against the ceiling; an import, or a remove and an add, is two requests an operation)"
    );
}
