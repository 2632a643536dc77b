//! Prometheus metrics (issue 16 item 2), through `prometheus-client`: every request counted and
//! timed (from the facts `web::observe` reads once), the verify outcomes, and `/metrics`, served on its
//! own listener (`metrics.listen`) with the database figures read at scrape time.
//!
//! Labels never carry a raw path: `route` is the matched route template
//! (`/scim/v2/{integration}/Users/{id}`), so ids, one-time link tokens and setup secrets stay
//! out, and the series count stays bounded. `integration` is the name of the integration
//! whose token was accepted (SCIM only), never the id from the path.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use time::OffsetDateTime;

use crate::directory::Directory;
use crate::tls::Tls;
use crate::web::observe::Facts;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    surface: &'static str,
    method: &'static str,
    route: String,
    status_class: &'static str,
    integration: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    surface: &'static str,
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VerifyLabels {
    result: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OwnerLabels {
    /// "integration" or "manual".
    source: &'static str,
    /// The integration's name; empty for manual entries.
    integration: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Latency buckets, in seconds: 1 ms to ~16 s (a SCIM write is a few ms; a bulk or a slow
/// disk can take seconds).
fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// The writer's counters (`store::writer`), read at each scrape: committed transactions,
/// jobs run (jobs / commits is the mean group-commit batch) and the time spent in batches
/// (over commits, the mean commit latency).
struct WriterCollector {
    directory: Arc<Directory>,
}

impl std::fmt::Debug for WriterCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterCollector")
    }
}

impl Collector for WriterCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let writer = self.directory.store().writer();
        let (commits, jobs) = writer.stats();
        for (name, help, value) in [
            (
                "scimgate_writer_commits",
                "Write transactions committed by the single writer",
                commits as f64,
            ),
            (
                "scimgate_writer_jobs",
                "Write jobs run by the writer (divided by commits: the mean group-commit batch)",
                jobs as f64,
            ),
            (
                "scimgate_writer_batch_seconds",
                "Seconds the writer spent running batches, BEGIN to COMMIT (divided by commits: the mean commit latency)",
                writer.batch_seconds(),
            ),
        ] {
            let counter = ConstCounter::new(value);
            let m = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(m)?;
        }
        Ok(())
    }
}

/// Every metric of the appliance, registered once; shared by the workers of both servers.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram, fn() -> Histogram>,
    verify: Family<VerifyLabels, Counter>,
    outbox_depth: Gauge,
    outbox_oldest_age: FloatGauge,
    outbox_messages: Family<StatusLabels, Gauge>,
    users: Family<OwnerLabels, Gauge>,
    groups: Family<OwnerLabels, Gauge>,
    /// Registered only when the appliance serves TLS itself.
    cert_expiry: Option<FloatGauge>,
    /// The last scheduled backup (`[backup]`): when one last succeeded, and whether the last
    /// one did.
    backup_last_success: FloatGauge,
    backup_last_ok: Gauge,
    scrape_errors: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// `tls`: whether the appliance serves a certificate (its expiry is exported then).
    pub fn new(directory: Arc<Directory>, tls: bool) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(WriterCollector { directory }));
        let requests = Family::<RequestLabels, Counter>::default();
        // The counter's name gets `_total` from the encoder (OpenMetrics).
        registry.register(
            "scimgate_http_requests",
            "HTTP requests answered, by surface, method, route template, status class and integration (SCIM only)",
            requests.clone(),
        );
        let latency: Family<LatencyLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "scimgate_http_request_duration_seconds",
            "Time to answer an HTTP request, in seconds",
            latency.clone(),
        );
        let verify = Family::<VerifyLabels, Counter>::default();
        registry.register(
            "scimgate_verify",
            "Code verifications on /api/v1/verify by result and deny reason",
            verify.clone(),
        );
        let outbox_depth = Gauge::default();
        registry.register(
            "scimgate_outbox_depth",
            "Enrollment emails waiting to be sent",
            outbox_depth.clone(),
        );
        let outbox_oldest_age = FloatGauge::default();
        registry.register(
            "scimgate_outbox_oldest_pending_age_seconds",
            "Age of the oldest email waiting to be sent, in seconds (0 when none waits)",
            outbox_oldest_age.clone(),
        );
        let outbox_messages = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "scimgate_outbox_messages",
            "Emails kept in the outbox by status (sent, failed); deleting a user removes its messages",
            outbox_messages.clone(),
        );
        let users = Family::<OwnerLabels, Gauge>::default();
        registry.register(
            "scimgate_users",
            "Users by owner: an integration (by name) or manual",
            users.clone(),
        );
        let groups = Family::<OwnerLabels, Gauge>::default();
        registry.register(
            "scimgate_groups",
            "Groups by owner: an integration (by name) or manual",
            groups.clone(),
        );
        let cert_expiry = tls.then(|| {
            let g = FloatGauge::default();
            registry.register(
                "scimgate_tls_certificate_expiry_timestamp_seconds",
                "When the served TLS certificate expires (Unix time)",
                g.clone(),
            );
            g
        });
        let backup_last_success = FloatGauge::default();
        registry.register(
            "scimgate_backup_last_success_timestamp_seconds",
            "When the last scheduled backup that succeeded finished (Unix time; 0: none yet)",
            backup_last_success.clone(),
        );
        let backup_last_ok = Gauge::default();
        registry.register(
            "scimgate_backup_last_ok",
            "Whether the last scheduled backup succeeded (1), failed (0); -1 before the first",
            backup_last_ok.clone(),
        );
        backup_last_ok.set(-1);
        let scrape_errors = Counter::default();
        registry.register(
            "scimgate_metrics_scrape_errors",
            "Scrapes whose database figures could not be read (the figures keep their last values)",
            scrape_errors.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            verify,
            outbox_depth,
            outbox_oldest_age,
            outbox_messages,
            users,
            groups,
            cert_expiry,
            backup_last_success,
            backup_last_ok,
            scrape_errors,
        }
    }

    /// Counts one answer of `/api/v1/verify` (a refusal before the verdict is not counted here:
    /// it shows in the request counter by its status).
    pub fn verify(&self, allow: bool, reason: &'static str) {
        let result = if allow { "allow" } else { "deny" };
        self.verify
            .get_or_create(&VerifyLabels { result, reason })
            .inc();
    }

    /// Counts and times one answered request (`web::observe` reads its facts once, for this
    /// and the access log).
    pub fn request(&self, facts: &Facts) {
        let status_class = match facts.status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                surface: facts.surface,
                method: facts.method,
                route: facts.route.clone(),
                status_class,
                integration: facts.integration.clone().unwrap_or_default(),
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                surface: facts.surface,
                method: facts.method,
                route: facts.route.clone(),
            })
            .observe(facts.latency_secs);
    }

    /// Refreshes the gauges from one database read and the TLS state, then encodes all.
    pub async fn render(
        &self,
        directory: &Directory,
        tls: Option<&Tls>,
        last_backup: Option<&crate::store::backup::LastBackup>,
    ) -> String {
        let now = OffsetDateTime::now_utc();
        if let Some(b) = last_backup {
            self.backup_last_ok.set(i64::from(b.ok));
            if b.ok {
                let at =
                    OffsetDateTime::parse(&b.at, &time::format_description::well_known::Rfc3339)
                        .map_or(0.0, |t| t.unix_timestamp() as f64);
                self.backup_last_success.set(at);
            }
        }
        match directory.stats().await {
            Ok(s) => {
                self.outbox_depth.set(s.outbox_pending);
                self.outbox_oldest_age.set(
                    s.oldest_pending
                        .map_or(0.0, |t| (now - t).as_seconds_f64().max(0.0)),
                );
                for (status, n) in [("sent", s.outbox_sent), ("failed", s.outbox_failed)] {
                    self.outbox_messages
                        .get_or_create(&StatusLabels { status })
                        .set(n);
                }
                for (family, rows) in [(&self.users, s.users), (&self.groups, s.groups)] {
                    // A deleted or renamed integration must not linger.
                    family.clear();
                    for (name, n) in rows {
                        let labels = match name {
                            Some(integration) => OwnerLabels {
                                source: "integration",
                                integration,
                            },
                            None => OwnerLabels {
                                source: "manual",
                                integration: String::new(),
                            },
                        };
                        family.get_or_create(&labels).set(n);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: could not read the database figures");
                self.scrape_errors.inc();
            }
        }
        if let (Some(tls), Some(g)) = (tls, &self.cert_expiry) {
            // After a reload (SIGHUP, Settings) this is the new certificate's.
            g.set(tls.status().not_after.unix_timestamp() as f64);
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        out
    }
}

/// What the metrics listener's workers share.
pub struct Scrape {
    pub metrics: Arc<Metrics>,
    pub directory: Arc<Directory>,
    pub tls: Option<Arc<Tls>>,
    /// The outcome of the last scheduled backup.
    pub last_backup: Arc<std::sync::Mutex<Option<crate::store::backup::LastBackup>>>,
}

pub fn configure_metrics_listener(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

async fn scrape(s: web::Data<Scrape>) -> HttpResponse {
    let last_backup = s
        .last_backup
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let body = s
        .metrics
        .render(&s.directory, s.tls.as_deref(), last_backup.as_ref())
        .await;
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}
