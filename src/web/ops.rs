//! Operational endpoints: `/healthz` (is the database readable).

use actix_web::{HttpResponse, web};

use crate::directory::Error;
use crate::web::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let ok: Result<i64, Error> = state
        .directory
        .store()
        .read(|c| {
            c.query_row("SELECT 1", [], |r| r.get(0))
                .map_err(|e| Error::Internal(e.to_string()))
        })
        .await;
    match ok {
        Ok(_) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ok\n"),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("database unavailable\n")
        }
    }
}
