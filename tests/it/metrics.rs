//! Metrics (issue 16 item 2): `/metrics` on its own listener (off by default) answers the
//! Prometheus/OpenMetrics text format, which a strict parser here reads; the request counters,
//! latency histograms and verify outcomes move with the requests made; labels hold route
//! templates and integration names, never ids or tokens; the database gauges are right; the
//! sample Grafana dashboard is valid JSON that queries only metrics the appliance exports.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::support::*;

/// One sample line: metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed exposition: the TYPE of each family and the samples.
#[derive(Debug, Default)]
struct Exposition {
    types: HashMap<String, String>,
    samples: Vec<Sample>,
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The suffixes a sample may add to its family's name, by family type (OpenMetrics 1.0).
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "histogram" => &["_bucket", "_count", "_sum", "_created"],
        "summary" => &["_count", "_sum", "_created", ""],
        "info" => &["_info"],
        _ => &[""],
    }
}

/// Parses `{a="x",b="y\"z"}` (after the name) and returns the labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = s.strip_prefix('{') else {
        return Ok((labels, s));
    };
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without '='")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err(format!("expected ',' or '}}' at {rest:?}"));
        }
    }
}

/// A strict reader of the text exposition format: every line is a HELP, TYPE or UNIT
/// comment, a sample, or the final `# EOF`; names are valid; each sample belongs to a family
/// with a TYPE declared before it; values are floats.
fn parse(text: &str) -> Result<Exposition, String> {
    let mut e = Exposition::default();
    let mut eof = false;
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}: {line:?}", n + 1);
        if eof {
            return Err(at("content after # EOF".into()));
        }
        if line == "# EOF" {
            eof = true;
            continue;
        }
        if let Some(c) = line.strip_prefix("# ") {
            let mut parts = c.splitn(3, ' ');
            let (kw, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if !valid_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            match kw {
                "HELP" | "UNIT" => {}
                "TYPE" => {
                    let kind = parts.next().unwrap_or("");
                    if ![
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ]
                    .contains(&kind)
                    {
                        return Err(at(format!("unknown type {kind:?}")));
                    }
                    if e.types.insert(name.to_owned(), kind.to_owned()).is_some() {
                        return Err(at("TYPE twice".into()));
                    }
                }
                _ => return Err(at(format!("unknown comment {kw:?}"))),
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            return Err(at("blank or malformed comment line".into()));
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = parse_labels(&line[name_end..]).map_err(at)?;
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("no space before the value".into()))?
            .split(' ');
        let value = fields.next().unwrap_or("");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .map_err(|_| at(format!("value {v:?} is not a float")))?,
        };
        if let Some(ts) = fields.next() {
            ts.parse::<f64>()
                .map_err(|_| at(format!("timestamp {ts:?} is not a number")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let typed = e.types.iter().any(|(family, kind)| {
            suffixes(kind)
                .iter()
                .any(|s| name.strip_suffix(s) == Some(family.as_str()))
        });
        if !typed {
            return Err(at(format!("sample {name} has no TYPE")));
        }
        e.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    if !eof {
        return Err("no # EOF".into());
    }
    Ok(e)
}

impl Exposition {
    /// The sum of the samples named `name` whose labels include every pair of `with`.
    fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                with.iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

async fn scrape(app: &TestApp) -> (String, Exposition) {
    let addr = app.metrics_addr.expect("metrics.listen is set");
    let mut r = awc::Client::default()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let ct = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ct.starts_with("application/openmetrics-text"), "{ct}");
    let text = String::from_utf8(r.body().await.unwrap().to_vec()).unwrap();
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, parsed)
}

async fn app_with_metrics() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    TestApp::spawn_with(dir, config).await
}

#[test]
fn the_parser_is_strict() {
    let ok = "# HELP a_total x\n# TYPE a counter\na_total{k=\"v\\\"w\"} 1\n# EOF\n";
    let e = parse(ok).unwrap();
    assert_eq!(e.samples[0].labels["k"], "v\"w");
    for bad in [
        "a_total 1\n# EOF\n",                            // no TYPE
        "# TYPE a counter\na_total one\n# EOF\n",        // not a float
        "# TYPE a counter\na_total 1\n",                 // no EOF
        "# TYPE 1a gauge\n1a 1\n# EOF\n",                // bad name
        "# TYPE a gauge\na{k=v} 1\n# EOF\n",             // unquoted
        "# TYPE a gauge\na{k=\"v\"} 1\n# EOF\nb 2\n",    // after EOF
        "# TYPE a gauge\na{k=\"v\",k=\"w\"} 1\n# EOF\n", // label twice
        "# TYPE a gauge\na 1 2 3\n# EOF\n",              // trailing
        "# TYPE a gauge\nb 1\n# EOF\n",                  // other family
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}

#[actix_web::test]
async fn metrics_are_off_by_default_and_never_on_the_main_listener() {
    let app = TestApp::spawn().await;
    assert_eq!(app.metrics_addr, None);
    let r = awc::Client::default()
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[actix_web::test]
async fn requests_move_the_counters_with_templates_not_ids() {
    let app = app_with_metrics().await;
    let (_, before) = scrape(&app).await;
    let scim_users = [
        ("surface", "scim"),
        ("route", "/scim/v2/{iid}/Users"),
        ("method", "POST"),
        ("status_class", "2xx"),
        ("integration", "okta"),
    ];
    assert_eq!(before.sum("scimgate_http_requests_total", &scim_users), 0.0);

    let user = app.create_user("metrics.user@example.test").await;
    let id = user["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let r = app.get(&format!("/Users/{id}")).await;
        assert_eq!(r.status.as_u16(), 200);
    }
    let missing = app.get("/Users/no-such-user-0123456789").await;
    assert_eq!(missing.status.as_u16(), 404);
    // A secret-bearing page with a made-up token, and a path that matches no route.
    let secret = "ZmFrZS1lbnJvbGwtdG9rZW4tdGhhdC1tdXN0LW5vdC1sZWFr";
    for path in [format!("/enroll/{secret}"), format!("/nowhere/{secret}")] {
        awc::Client::default()
            .get(format!("http://{}{path}", app.addr))
            .send()
            .await
            .unwrap();
    }
    // A made-up method is not a label value of its own.
    awc::Client::default()
        .request(
            awc::http::Method::from_bytes(b"BREW").unwrap(),
            format!("http://{}/healthz", app.addr),
        )
        .send()
        .await
        .unwrap();
    // A wrong token on SCIM: counted with no integration name.
    let r = awc::Client::default()
        .get(app.url("/Users"))
        .bearer_auth("scg_not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // Verify: an unknown user is denied with a reason.
    let key = app.directory.create_verifier_key("mfa").await.unwrap();
    let mut r = awc::Client::default()
        .post(format!("http://{}/api/v1/verify", app.addr))
        .bearer_auth(key.secret.expose())
        .send_json(&json!({"user": "nobody@example.test", "code": "123456"}))
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"], "deny");
    let reason = v["reason"].as_str().unwrap().to_owned();

    let (text, after) = scrape(&app).await;
    let total = "scimgate_http_requests_total";
    assert_eq!(after.sum(total, &scim_users), 1.0, "{text}");
    let item = [
        ("surface", "scim"),
        ("route", "/scim/v2/{iid}/Users/{id}"),
        ("method", "GET"),
        ("integration", "okta"),
    ];
    assert_eq!(
        after.sum(total, &[&item[..], &[("status_class", "2xx")]].concat()),
        2.0,
        "{text}"
    );
    assert_eq!(
        after.sum(total, &[&item[..], &[("status_class", "4xx")]].concat()),
        1.0,
        "{text}"
    );
    assert_eq!(
        after.sum(
            total,
            &[
                ("surface", "scim"),
                ("route", "/scim/v2/{iid}/Users"),
                ("method", "GET"),
                ("status_class", "4xx"),
                ("integration", ""),
            ]
        ),
        1.0,
        "{text}"
    );
    assert!(
        after.sum(total, &[("surface", "enroll"), ("status_class", "4xx")]) >= 1.0,
        "{text}"
    );
    assert!(
        after.sum(total, &[("route", "unmatched"), ("surface", "other")]) >= 1.0,
        "{text}"
    );
    assert_eq!(
        after.sum(
            total,
            &[
                ("surface", "verify"),
                ("route", "/api/v1/verify"),
                ("status_class", "2xx"),
                ("integration", "")
            ]
        ),
        1.0,
        "{text}"
    );
    assert!(after.sum(total, &[("method", "OTHER")]) >= 1.0, "{text}");
    // The latency histogram counted the same requests.
    let latency = [
        ("surface", "scim"),
        ("route", "/scim/v2/{iid}/Users/{id}"),
        ("method", "GET"),
    ];
    assert_eq!(
        after.sum("scimgate_http_request_duration_seconds_count", &latency),
        3.0,
        "{text}"
    );
    assert_eq!(
        after.sum(
            "scimgate_http_request_duration_seconds_bucket",
            &[&latency[..], &[("le", "+Inf")]].concat()
        ),
        3.0,
        "{text}"
    );
    assert!(after.sum("scimgate_http_request_duration_seconds_sum", &latency) > 0.0);
    // Verify outcomes.
    assert_eq!(
        after.sum(
            "scimgate_verify_total",
            &[("result", "deny"), ("reason", &reason)]
        ),
        1.0,
        "{text}"
    );
    // The directory's figures, read at scrape time.
    assert_eq!(
        after.sum(
            "scimgate_users",
            &[("source", "integration"), ("integration", "okta")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(after.sum("scimgate_users", &[("source", "manual")]), 0.0);
    assert_eq!(
        after.sum("scimgate_groups", &[("integration", "okta")]),
        0.0
    );
    assert_eq!(after.sum("scimgate_outbox_depth", &[]), 0.0, "{text}");
    assert_eq!(
        after.sum("scimgate_outbox_oldest_pending_age_seconds", &[]),
        0.0
    );
    assert_eq!(after.types["scimgate_outbox_depth"], "gauge");
    assert_eq!(after.types["scimgate_http_requests"], "counter");
    assert_eq!(
        after.types["scimgate_http_request_duration_seconds"],
        "histogram"
    );
    // The writer committed the user and the verifier key at least.
    let commits = after.sum("scimgate_writer_commits_total", &[]);
    assert!(
        commits > before.sum("scimgate_writer_commits_total", &[]),
        "{text}"
    );
    assert!(after.sum("scimgate_writer_jobs_total", &[]) >= commits);
    assert!(after.sum("scimgate_writer_batch_seconds_total", &[]) > 0.0);
    assert_eq!(after.types["scimgate_writer_commits"], "counter");
    // No id, token or secret anywhere in the exposition.
    for leak in [
        id.as_str(),
        app.integration_id.as_str(),
        app.token.as_str(),
        key.secret.expose(),
        secret,
        "no-such-user",
        "nobody@example.test",
        "metrics.user",
        "BREW",
    ] {
        assert!(!text.contains(leak), "{leak} leaked into /metrics:\n{text}");
    }
    // Without [tls] there is no certificate expiry sample.
    assert!(
        !after
            .samples
            .iter()
            .any(|s| s.name == "scimgate_tls_certificate_expiry_timestamp_seconds")
    );
}

#[actix_web::test]
async fn the_metrics_listener_stops_with_the_app() {
    let mut app = app_with_metrics().await;
    let addr = app.metrics_addr.unwrap();
    scrape(&app).await;
    app.stop().await;
    let gone = awc::Client::default()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await;
    assert!(gone.is_err(), "still answering after stop: {gone:?}");
}

#[actix_web::test]
async fn the_certificate_expiry_is_exported_with_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = scimgate::tls::self_signed::generate(&["localhost".into()], 90).unwrap();
    let (cp, kp) = (dir.path().join("m.crt"), dir.path().join("m.key"));
    std::fs::write(&cp, cert).unwrap();
    std::fs::write(&kp, key).unwrap();
    let mut config = config_in(dir.path());
    config.tls.certificate = cp;
    config.tls.private_key = kp;
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    let app = TestApp::spawn_with(dir, config).await;
    let (text, e) = scrape(&app).await;
    let not_after = app
        .tls
        .as_ref()
        .unwrap()
        .status()
        .not_after
        .unix_timestamp() as f64;
    assert_eq!(
        e.types["scimgate_tls_certificate_expiry_timestamp_seconds"],
        "gauge"
    );
    assert_eq!(
        e.sum("scimgate_tls_certificate_expiry_timestamp_seconds", &[]),
        not_after,
        "{text}"
    );
}

/// Metric names a PromQL expression uses (identifiers starting with `scimgate_`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("scimgate_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[actix_web::test]
async fn the_grafana_dashboard_queries_exported_metrics() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/grafana-dashboard.json"
    ))
    .unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let exprs: Vec<String> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    for wanted in [
        "scimgate_http_requests_total",
        "scimgate_http_request_duration_seconds_bucket",
        "scimgate_outbox_depth",
        "scimgate_verify_total",
    ] {
        assert!(
            exprs.iter().any(|e| e.contains(wanted)),
            "no panel queries {wanted}"
        );
    }
    // Every metric the dashboard names is one the appliance exports.
    let app = app_with_metrics().await;
    app.create_user("dash@example.test").await;
    let key = app.directory.create_verifier_key("mfa").await.unwrap();
    awc::Client::default()
        .post(format!("http://{}/api/v1/verify", app.addr))
        .bearer_auth(key.secret.expose())
        .send_json(&json!({"user": "nobody@example.test", "code": "123456"}))
        .await
        .unwrap();
    let (_, exposition) = scrape(&app).await;
    for name in exprs.iter().flat_map(|e| metric_names(e)) {
        assert!(
            exposition.samples.iter().any(|s| s.name == name),
            "the dashboard queries {name}, which /metrics does not export"
        );
    }
}

/// Issue 16 item 1: the last scheduled backup's outcome and time are in the metrics.
#[actix_web::test]
async fn the_last_backup_is_in_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_in(dir.path());
    config.metrics.listen = Some("127.0.0.1:0".parse().unwrap());
    config.backup.dir = dir.path().join("backups");
    let started = time::OffsetDateTime::now_utc().unix_timestamp() as f64;
    let mut app = TestApp::spawn_with(dir, config).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, m) = scrape(&app).await;
        if m.sum("scimgate_backup_last_ok", &[]) == 1.0 {
            let at = m.sum("scimgate_backup_last_success_timestamp_seconds", &[]);
            assert!(
                at >= started - 1.0 && at < started + 60.0,
                "{at} vs {started}"
            );
            break;
        }
        assert_eq!(
            m.sum("scimgate_backup_last_ok", &[]),
            -1.0,
            "not yet, not failed"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no backup in the metrics"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
}
