//! Operational endpoints for load balancers and supervisors (issue 16 item 3):
//! - `/healthz`: liveness, the process answers HTTP and can read the database.
//! - `/readyz`: readiness, the database is readable, the writer commits (a no-op job goes
//!   through a whole batch: `BEGIN IMMEDIATE` … `COMMIT`), the schema is this binary's, and
//!   the email drainer runs (when `[smtp]` is configured).
//!
//! Plain text by default (`ok`, or one reason a line), JSON with `Accept: application/json`;
//! 503 when not ready.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde_json::json;

use crate::directory::Error;
use crate::web::AppState;

/// How long `/readyz` waits for the writer: longer means it is stuck behind a lock (SQLite's
/// busy timeout is 10 s), and a load balancer's probe should not wait that long.
const WRITER_DEADLINE: Duration = Duration::from_secs(2);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// One named check: `None` when it passed, else why not.
type Outcome = (&'static str, Option<String>);

fn respond(req: &HttpRequest, checks: &[Outcome]) -> HttpResponse {
    let ready = checks.iter().all(|(_, e)| e.is_none());
    let mut resp = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    resp.insert_header((header::CACHE_CONTROL, "no-store"));
    if wants_json(req) {
        let detail: serde_json::Map<String, serde_json::Value> = checks
            .iter()
            .map(|(name, e)| {
                let v = match e {
                    None => json!("ok"),
                    Some(e) => json!(e),
                };
                ((*name).to_owned(), v)
            })
            .collect();
        return resp
            .json(json!({"status": if ready { "ok" } else { "unavailable" }, "checks": detail}));
    }
    let body = if ready {
        "ok\n".to_owned()
    } else {
        checks
            .iter()
            .filter_map(|(name, e)| e.as_ref().map(|e| format!("{name}: {e}\n")))
            .collect()
    };
    resp.content_type("text/plain; charset=utf-8").body(body)
}

async fn read_check(state: &AppState) -> Result<i64, String> {
    state
        .directory
        .store()
        .read(|tx| crate::store::migrations::schema_version(tx).map_err(Error::from))
        .await
        .map_err(|e| e.to_string())
}

async fn healthz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let read = read_check(&state).await.err();
    if let Some(e) = &read {
        tracing::error!(error = %e, "health check failed");
    }
    respond(&req, &[("database", read)])
}

async fn readyz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let (read, schema) = match read_check(&state).await {
        Ok(v) if v == crate::store::migrations::LATEST => (None, None),
        Ok(v) => (
            None,
            Some(format!(
                "schema version {v}, this binary's is {}",
                crate::store::migrations::LATEST
            )),
        ),
        Err(e) => (Some(e), Some("not read".to_owned())),
    };
    let job = state.directory.store().write(|_| Ok::<_, Error>(()));
    let write = match tokio::time::timeout(WRITER_DEADLINE, job).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!(
            "the writer did not commit within {} s",
            WRITER_DEADLINE.as_secs()
        )),
    };
    let outbox = match &state.outbox_alive {
        Some(alive) if !alive.load(std::sync::atomic::Ordering::Acquire) => {
            Some("the email drainer has stopped".to_owned())
        }
        _ => None,
    };
    let checks = [
        ("database", read),
        ("writer", write),
        ("schema", schema),
        ("outbox", outbox),
    ];
    if checks.iter().any(|(_, e)| e.is_some()) {
        tracing::warn!(?checks, "not ready");
    }
    respond(&req, &checks)
}
