//! Email outbox: every queued email (enrollment and test), its status, attempts, next attempt
//! and the SMTP server's last answer; Retry for a failed message, Resend for a user's
//! enrollment email.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::outbox::OutboxMessage;
use crate::web::AppState;
use crate::web::admin::session::AdminSession;
use crate::web::admin::{Chrome, CsrfOnly, Nav, PageError, redirect, render, show_time};

/// The most messages the page lists.
const SHOWN: i64 = 200;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/outbox", web::get().to(list))
        .route("/outbox/{id}/retry", web::post().to(retry))
        .route("/users/{id}/resend-enrollment", web::post().to(resend));
}

pub struct MessageView {
    pub id: i64,
    pub to: String,
    pub subject: &'static str,
    pub status: String,
    pub attempts: i64,
    pub next: String,
    pub error: String,
    pub created: String,
    pub sent: String,
    pub user_id: Option<String>,
    pub retryable: bool,
}

pub fn view(m: &OutboxMessage) -> MessageView {
    MessageView {
        id: m.id,
        to: m.recipient.clone(),
        subject: if m.kind == "enrollment" {
            "Enroll your authenticator"
        } else {
            "Test email"
        },
        status: m.status.clone(),
        attempts: m.attempts,
        next: if m.status == "pending" {
            show_time(&m.next_attempt)
        } else {
            String::new()
        },
        error: m.last_error.clone().unwrap_or_default(),
        created: show_time(&m.created),
        sent: m.sent.as_deref().map(show_time).unwrap_or_default(),
        user_id: m.user_id.clone(),
        retryable: m.status == "failed" || m.status == "cancelled",
    }
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    c: Chrome,
    status: String,
    counts: (i64, i64, i64),
    messages: Vec<MessageView>,
    smtp: bool,
    notice: Option<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: String,
    retried: Option<i64>,
}

async fn list(
    state: web::Data<AppState>,
    me: AdminSession,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, PageError> {
    let status = (!q.status.is_empty()).then_some(q.status.as_str());
    let messages = state.directory.list_outbox(status, SHOWN).await?;
    let counts = state.directory.outbox_counts().await?;
    render(
        StatusCode::OK,
        &OutboxPage {
            c: me.chrome(Nav::Outbox),
            status: q.status.clone(),
            counts,
            messages: messages.iter().map(view).collect(),
            smtp: !state.config.smtp.host.is_empty(),
            notice: q
                .retried
                .map(|id| format!("Message {id} is queued again and will be sent now.")),
        },
    )
}

async fn retry(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<i64>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    state.directory.retry_message(*id).await?;
    Ok(redirect(&format!("/admin/outbox?retried={}", *id)))
}

async fn resend(
    state: web::Data<AppState>,
    me: AdminSession,
    id: web::Path<String>,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    state.directory.resend_enrollment(&id).await?;
    Ok(redirect(&format!(
        "/admin/users/{}?resent=1",
        crate::web::admin::enc(&id)
    )))
}
