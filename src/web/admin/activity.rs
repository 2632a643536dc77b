//! Activity: every SCIM request, newest first, filterable by integration, status class and
//! resource, paged.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::integration::Integration;
use crate::store::activity::{ActivityFilter, Resource};
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{ActivityView, Chrome, Nav, PageError, Pager, enc, page_param, render};

pub const PER_PAGE: u64 = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/activity", web::get().to(list))
        .route("/activity/{seq}", web::get().to(show));
}

#[derive(Template)]
#[template(path = "admin/activity.html")]
struct ActivityPage {
    c: Chrome,
    integration: String,
    status: String,
    resource: String,
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
    /// `errors` (4xx and 5xx), `2xx`, `4xx`, `5xx` or empty for any.
    #[serde(default)]
    status: String,
    /// `users`, `groups`, `other` or empty for any.
    #[serde(default)]
    resource: String,
    /// The older form of `status=errors`, kept so bookmarked links still work.
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
    let status = if q.errors.as_deref().is_some_and(|e| !e.is_empty()) {
        "errors"
    } else {
        match q.status.as_str() {
            s @ ("errors" | "2xx" | "4xx" | "5xx") => s,
            _ => "",
        }
    };
    let resource = match q.resource.as_str() {
        "users" => Some(Resource::Users),
        "groups" => Some(Resource::Groups),
        "other" => Some(Resource::Other),
        _ => None,
    };
    let resource_param = if resource.is_some() {
        q.resource.as_str()
    } else {
        ""
    };
    let filter = ActivityFilter {
        integration_id: (!q.integration.is_empty()).then(|| q.integration.clone()),
        user_id: None,
        errors_only: status == "errors",
        status_class: match status {
            "2xx" => Some(2),
            "4xx" => Some(4),
            "5xx" => Some(5),
            _ => None,
        },
        resource,
    };
    let result = state
        .directory
        .activity(filter, (page - 1) * PER_PAGE, PER_PAGE)
        .await?;
    let keep = format!(
        "integration={}&status={status}&resource={resource_param}&",
        enc(&q.integration),
    );
    let pager = Pager::new(page, PER_PAGE, result.total, result.rows.len(), keep);
    render(
        StatusCode::OK,
        &ActivityPage {
            c: me.chrome(Nav::Activity),
            integration: q.integration.clone(),
            status: status.to_owned(),
            resource: resource_param.to_owned(),
            integrations,
            rows: result.rows.into_iter().map(ActivityView::from).collect(),
            pager,
            retention_days: state.config.activity.retention_days,
            max_entries: state.config.activity.max_entries,
        },
    )
}

#[derive(Template)]
#[template(path = "admin/activity_show.html")]
struct ShowPage {
    c: Chrome,
    r: ActivityView,
    integration_id: Option<String>,
    /// The kept body, pretty-printed when it is whole JSON.
    body: Option<String>,
    body_bytes: Option<i64>,
    body_note: Option<String>,
    /// The client address (`web::limits`), when recorded.
    client: Option<String>,
    /// How many refused requests this row counts (issue 14 item 2).
    refused: Option<i64>,
}

/// One request: what the list shows, and the body with secrets redacted.
async fn show(
    state: web::Data<AppState>,
    me: AdminSession,
    seq: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let seq: i64 = seq.parse().map_err(|_| PageError::NotFound)?;
    let row = state
        .directory
        .activity_entry(seq)
        .await?
        .ok_or(PageError::NotFound)?;
    let body = row.body.as_deref().map(|text| {
        serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_owned())
    });
    let (integration_id, body_bytes, body_note, client, refused) = (
        row.integration_id.clone(),
        row.body_bytes,
        row.body_note.clone(),
        row.client.clone(),
        row.refused,
    );
    render(
        StatusCode::OK,
        &ShowPage {
            c: me.chrome(Nav::Activity),
            r: ActivityView::from(row),
            integration_id,
            body,
            body_bytes,
            body_note,
            client,
            refused,
        },
    )
}
