//! The admin pages under `/admin`: sign-in and first-admin setup, User Provisioning (the
//! integrations), Users, Activity and Settings. Server-rendered askama templates sharing one
//! layout; every page works without JavaScript. Every page except sign-in, setup, the code step
//! of sign-in and the administrator's own account pages takes an
//! [`AdminSession`](session::AdminSession), which also enforces the second factor; every form
//! carries a CSRF token ([`session`] checks it together with `Origin` / `Sec-Fetch-Site`).

mod account;
mod activity;
mod groups;
mod login;
pub(crate) mod outbox;
mod provisioning;
pub mod reveal;
pub mod session;
mod settings;
mod users;
pub mod verifier_keys;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use askama::Template;

use crate::directory::Error;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| async { redirect("/admin/provisioning") }),
    );
    cfg.service(
        web::scope("/admin")
            .wrap(actix_web::middleware::from_fn(session::refuse_cross_site))
            .route(
                "",
                web::get().to(|| async { redirect("/admin/provisioning") }),
            )
            .route(
                "/",
                web::get().to(|| async { redirect("/admin/provisioning") }),
            )
            .configure(login::configure)
            .configure(account::configure)
            .configure(provisioning::configure)
            .configure(users::configure)
            .configure(groups::configure)
            .configure(outbox::configure)
            .configure(activity::configure)
            .configure(settings::configure)
            .configure(verifier_keys::configure)
            .default_service(web::to(not_found)),
    );
}

/// What the shared layout needs: who is signed in, the CSRF token for the sign-out form, and
/// which navigation entry is current.
pub struct Chrome {
    pub username: String,
    pub csrf: String,
    pub nav: Nav,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Provisioning,
    Users,
    Groups,
    Activity,
    Outbox,
    Settings,
    Account,
}

impl Chrome {
    pub fn is(&self, n: Nav) -> bool {
        self.nav == n
    }
}

/// An activity row as the pages show it.
pub struct ActivityView {
    pub seq: i64,
    pub at: String,
    pub integration: String,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub latency_ms: i64,
    pub summary: String,
    pub user_id: Option<String>,
}

impl From<crate::store::activity::ActivityRow> for ActivityView {
    fn from(r: crate::store::activity::ActivityRow) -> Self {
        ActivityView {
            seq: r.seq,
            // The column header says UTC.
            at: show_time(&r.at).trim_end_matches(" UTC").to_owned(),
            integration: match (r.integration_name, r.integration_id) {
                (Some(name), _) => name,
                (None, Some(id)) => format!("token refused ({}…)", id.get(..8).unwrap_or(&id)),
                (None, None) => "unknown Base URL".to_owned(),
            },
            method: r.method,
            path: r.path,
            status: r.status,
            latency_ms: r.latency_ms,
            summary: r.summary,
            user_id: r.user_id,
        }
    }
}

/// Renders a page: HTML, never cached (pages can show tokens), no referrer leaks.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Result<HttpResponse, PageError> {
    let body = t
        .render()
        .map_err(|e| PageError::Internal(format!("template: {e}")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// A form that carries nothing but its CSRF token (sign-out, confirmations, retries).
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    pub csrf: String,
}

/// A page failure, rendered as a friendly error page (with a request id for the log).
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    /// No valid session: go to the sign-in page, saying whether a session just ended, and come
    /// back to `next` (the page asked for, a GET) after signing in.
    #[error("sign-in required")]
    SignInRequired { ended: bool, next: Option<String> },
    /// The session may not see this page yet: go to the second step of sign-in or to
    /// registration of an authenticator.
    #[error("redirect to {0}")]
    Redirect(&'static str),
    /// A refused form: missing or wrong CSRF token, or a cross-site request.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    /// Over a rate limit (issue 14 item 1): 429 with `Retry-After`.
    #[error("{}", .0.limit)]
    TooManyRequests(crate::web::limits::Refused),
    /// A request refused for what it asked (an invalid value, a name taken, a stale version)
    /// that no form of the page reports next to a field: the client's fault, so a 4xx page and
    /// no ERROR line (issue 14 item 4).
    #[error("{1}")]
    Refused(StatusCode, String),
    #[error("{0}")]
    Internal(String),
}

impl From<Error> for PageError {
    fn from(e: Error) -> Self {
        let refused = |status: StatusCode, e: &Error| PageError::Refused(status, e.to_string());
        match e {
            Error::NotFound => PageError::NotFound,
            Error::Forbidden(m) => PageError::Forbidden(m),
            Error::Unavailable => PageError::Unavailable("the service is shutting down".into()),
            Error::Invalid(_) => refused(StatusCode::BAD_REQUEST, &e),
            Error::Conflict { .. } => refused(StatusCode::CONFLICT, &e),
            Error::PreconditionFailed { .. } => refused(StatusCode::PRECONDITION_FAILED, &e),
            Error::Scim(ref s) if s.status() < 500 => refused(
                StatusCode::from_u16(s.status()).unwrap_or(StatusCode::BAD_REQUEST),
                &e,
            ),
            other => PageError::Internal(other.to_string()),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    message: String,
    request_id: String,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::NotFound => StatusCode::NOT_FOUND,
            PageError::SignInRequired { .. } | PageError::Redirect(_) => StatusCode::SEE_OTHER,
            PageError::Forbidden(_) => StatusCode::FORBIDDEN,
            PageError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            PageError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            PageError::Refused(status, _) => *status,
            PageError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignInRequired { ended, next } => {
                let mut to = "/admin/login".to_owned();
                let mut sep = '?';
                if *ended {
                    to.push_str("?ended=1");
                    sep = '&';
                }
                if let Some(n) = next {
                    to.push(sep);
                    to.push_str("next=");
                    to.push_str(&enc(n));
                }
                return redirect(&to);
            }
            PageError::Redirect(to) => return redirect(to),
            _ => {}
        }
        let request_id = crate::web::request_id::current().as_str().to_owned();
        let (title, message) = match self {
            PageError::NotFound => (
                "Page not found",
                "There is nothing at this address. It may have been deleted, or the link is mistyped."
                    .to_owned(),
            ),
            PageError::Forbidden(m) => ("Request refused", m.clone()),
            PageError::Unavailable(m) => ("Service unavailable", m.clone()),
            PageError::TooManyRequests(r) => ("Too many attempts", too_many_message(r)),
            PageError::Refused(status, m) => {
                tracing::debug!(status = status.as_u16(), reason = %m, "admin request refused");
                ("Request refused", m.clone())
            }
            PageError::Internal(m) => {
                tracing::error!(error = %m, "admin page failed");
                (
                    "Something went wrong",
                    "The server could not complete this request. The server log has the details under the request id below."
                        .to_owned(),
                )
            }
            PageError::SignInRequired { .. } | PageError::Redirect(_) => ("", String::new()),
        };
        if let PageError::Forbidden(m) = self {
            tracing::warn!(reason = %m, "admin request refused");
        }
        let page = ErrorPage {
            status: self.status_code().as_u16(),
            title: title.to_owned(),
            message,
            request_id,
        };
        let mut res = render(self.status_code(), &page).unwrap_or_else(|_| {
            HttpResponse::build(self.status_code())
                .content_type("text/plain; charset=utf-8")
                .body(self.to_string())
        });
        if let PageError::TooManyRequests(r) = self {
            retry_after(&mut res, r);
        }
        res
    }
}

/// What an admin page says when a rate limit refused the request.
pub fn too_many_message(r: &crate::web::limits::Refused) -> String {
    format!(
        "Too many failed attempts: over the limit of {}. Try again in {} seconds.",
        r.limit, r.retry_after
    )
}

/// Sets `Retry-After` (whole seconds) on a 429 page.
pub fn retry_after(res: &mut HttpResponse, r: &crate::web::limits::Refused) {
    if let Ok(v) = header::HeaderValue::from_str(&r.retry_after.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

pub async fn not_found() -> Result<HttpResponse, PageError> {
    Err(PageError::NotFound)
}

/// A confirmation page: one POST button (and Cancel), so that nothing needs JavaScript.
#[derive(Template)]
#[template(path = "admin/confirm.html")]
pub struct ConfirmPage {
    pub c: Chrome,
    pub crumb: (&'static str, &'static str),
    pub title: String,
    pub lines: Vec<String>,
    pub action: String,
    pub button: String,
    pub cancel: String,
}

/// A stored time (`2026-11-29T02:34:18.123Z`) as shown: `2026-11-29 02:34:18 UTC`.
pub fn show_time(t: &str) -> String {
    match (t.get(..10), t.get(11..19)) {
        (Some(d), Some(h)) => format!("{d} {h} UTC"),
        _ => t.to_owned(),
    }
}

/// `next` if it is a page of these admin pages to come back to after signing in: a path on
/// this site only (never `//host` or a URL, which would make the sign-in page an open
/// redirect), and not the sign-in pages themselves.
pub fn safe_next(next: &str) -> Option<&str> {
    let ok = next.starts_with("/admin/")
        && !next.starts_with("/admin/login")
        && !next.starts_with("/admin/logout")
        && !next.starts_with("/admin/setup")
        && next.len() <= 2048
        && !next.contains(['\\', '\r', '\n'])
        && !next.contains("/../")
        && !next.chars().any(char::is_control);
    ok.then_some(next)
}

/// A "last used" time at the granularity it is stored with: uses are written at most once a
/// minute (a write per request would cost a disk sync each), so a recent one reads "within the
/// last minute" and an older one is given to the minute. `None` is "never".
pub fn show_last_used(t: Option<&str>, now: time::OffsetDateTime) -> String {
    let Some(t) = t else {
        return "never".to_owned();
    };
    match time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        Ok(at) if now - at < time::Duration::minutes(1) => "within the last minute".to_owned(),
        _ => match (t.get(..10), t.get(11..16)) {
            (Some(d), Some(hm)) => format!("{d} {hm} UTC"),
            _ => t.to_owned(),
        },
    }
}

/// Adds `Referrer-Policy`, a content security policy and framing protection to admin responses.
pub fn harden(h: &mut header::HeaderMap) {
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: with it Chromium sends `Origin: null` on the pages' own form posts.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// Paging: 1-based page numbers over `total` items, `per` a page.
pub struct Pager {
    pub page: u64,
    pub pages: u64,
    pub total: u64,
    pub first: u64,
    pub last: u64,
    /// The query string without `page`, ending in `&` when not empty.
    pub keep: String,
}

impl Pager {
    pub fn new(page: u64, per: u64, total: u64, shown: usize, keep: String) -> Pager {
        let pages = total.div_ceil(per).max(1);
        let first = if shown == 0 { 0 } else { (page - 1) * per + 1 };
        Pager {
            page,
            pages,
            total,
            first,
            last: first + shown as u64 - u64::from(shown > 0),
            keep,
        }
    }
    pub fn prev(&self) -> Option<u64> {
        (self.page > 1).then(|| self.page - 1)
    }
    pub fn next(&self) -> Option<u64> {
        (self.page < self.pages).then(|| self.page + 1)
    }
}

/// Percent-encodes a query-string value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `page` query parameter (1-based), bounded.
pub fn page_param(p: Option<u64>) -> u64 {
    p.unwrap_or(1).clamp(1, 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimError;

    /// Issue 14 item 4: what a request got wrong is a 4xx page, not a 500 with an ERROR line.
    #[test]
    fn refusals_are_client_errors_and_faults_server_errors() {
        let status = |e: Error| PageError::from(e).status_code().as_u16();
        assert_eq!(status(Error::Invalid("bad name".into())), 400);
        assert_eq!(
            status(Error::Scim(ScimError::InvalidValue("too long".into()))),
            400
        );
        assert_eq!(
            status(Error::Conflict {
                attribute: "userName",
                value: "ana".into()
            }),
            409
        );
        assert_eq!(
            status(Error::PreconditionFailed {
                current: "W/\"2\"".into()
            }),
            412
        );
        assert_eq!(status(Error::Internal("disk full".into())), 500);
        assert_eq!(status(Error::Scim(ScimError::Internal("bug".into()))), 500);
    }
}

#[cfg(test)]
mod next_tests {
    use super::safe_next;

    #[test]
    fn only_admin_pages_of_this_site() {
        assert_eq!(safe_next("/admin/users?q=ann"), Some("/admin/users?q=ann"));
        for bad in [
            "//evil.example/admin/",
            "https://evil.example/admin/users",
            "/admin/login",
            "/admin/logout",
            "/admin/setup/x",
            "/admin/../x",
            "/enroll/x",
            "/admin/\\evil",
            "",
        ] {
            assert_eq!(safe_next(bad), None, "{bad}");
        }
    }
}

#[cfg(test)]
mod last_used_tests {
    use super::show_last_used;
    use time::macros::datetime;

    #[test]
    fn to_the_minute_or_within_the_last_one() {
        let now = datetime!(2026-12-02 14:03:30 UTC);
        assert_eq!(show_last_used(None, now), "never");
        assert_eq!(
            show_last_used(Some("2026-12-02T14:02:45.120Z"), now),
            "within the last minute"
        );
        assert_eq!(
            show_last_used(Some("2026-12-02T14:01:59.999Z"), now),
            "2026-12-02 14:01 UTC"
        );
    }
}
