//! Activity: every SCIM request, newest first, filterable by integration and errors, paged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::integration::Integration;
use crate::store::activity::ActivityFilter;
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{ActivityView, Chrome, Nav, PageError, Pager, enc, page_param, render};

pub const PER_PAGE: u64 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/activity", web::get().to(list));
}

#[derive(Template)]
#[template(path = "admin/activity.html")]
struct ActivityPage {
    c: Chrome,
    integration: String,
    errors: bool,
    integrations: Vec<Integration>,
    rows: Vec<ActivityView>,
    pager: Pager,
    retention_days: u32,
    max_entries: u64,
}

#[derive(Deserialize)]
struct Query {
    #[serde(default)]
    integration: String,
    errors: Option<String>,
    page: Option<u64>,
}

async fn list(
    state: web::Data<AppState>,
    me: AdminSession,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let integrations = state.directory.list_integrations().await?;
    let page = page_param(q.page);
    let errors = q.errors.as_deref().is_some_and(|e| !e.is_empty());
    let filter = ActivityFilter {
        integration_id: (!q.integration.is_empty()).then(|| q.integration.clone()),
        user_id: None,
        errors_only: errors,
    };
    let result = state
        .directory
        .activity(filter, (page - 1) * PER_PAGE, PER_PAGE)
        .await?;
    let keep = format!(
        "integration={}&{}",
        enc(&q.integration),
        if errors { "errors=1&" } else { "" }
    );
    let pager = Pager::new(page, PER_PAGE, result.total, result.rows.len(), keep);
    render(
        StatusCode::OK,
        &ActivityPage {
            c: me.chrome(Nav::Activity),
            integration: q.integration.clone(),
            errors,
            integrations,
            rows: result.rows.into_iter().map(ActivityView::from).collect(),
            pager,
            retention_days: state.config.activity.retention_days,
            max_entries: state.config.activity.max_entries,
        },
    )
}
