//! The public enrollment pages behind `{public_url}/enroll/{token}`: landing, then the QR
//! code and key with a code form, then done. Server-rendered, no JavaScript. Every page is
//! `Cache-Control: no-store` (the QR page carries a secret) and sends no Referer (the URL
//! carries the token).

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpResponse, Responder, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::auth::totp::TotpSecret;
use crate::directory::Error;
use crate::directory::enroll::Confirm;
use crate::web::AppState;

#[derive(Template, WebTemplate)]
#[template(path = "enroll/landing.html")]
struct Landing {
    user_name: String,
    action: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "enroll/setup.html")]
struct Setup {
    user_name: String,
    qr: QrView,
    action: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "enroll/done.html")]
struct Done {
    user_name: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "enroll/invalid.html")]
struct Invalid {
    /// The request id (`web::request_id`), for the person to quote to their IT department.
    request_id: String,
}

/// The page for a failure of ours (500) or a restart (503), with the request id.
#[derive(Template, WebTemplate)]
#[template(path = "enroll/failed.html")]
struct Failed {
    title: &'static str,
    message: &'static str,
    request_id: String,
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/enroll/{token}", web::get().to(landing))
        .route("/enroll/{token}", web::post().to(start))
        .route("/enroll/{token}/confirm", web::post().to(confirm));
}

fn no_store(mut r: HttpResponse) -> HttpResponse {
    r.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn page(
    t: impl Responder<Body = actix_web::body::BoxBody>,
    status: StatusCode,
    req: &actix_web::HttpRequest,
) -> HttpResponse {
    let mut r = t.respond_to(req);
    *r.status_mut() = status;
    no_store(r)
}

/// The page for a directory error: the same "no longer valid" page for every unusable link;
/// each page shows the request id.
fn error_page(e: Error, req: &actix_web::HttpRequest) -> HttpResponse {
    let request_id = crate::web::request_id::current().as_str().to_owned();
    match e {
        Error::NotFound => page(Invalid { request_id }, StatusCode::NOT_FOUND, req),
        Error::Unavailable => page(
            Failed {
                title: "Try again in a moment",
                message: "The service is restarting; try again in a moment.",
                request_id,
            },
            StatusCode::SERVICE_UNAVAILABLE,
            req,
        ),
        e => {
            tracing::error!(error = %e, "enrollment page failed");
            page(
                Failed {
                    title: "Something went wrong",
                    message: "The server could not complete this step; try again.",
                    request_id,
                },
                StatusCode::INTERNAL_SERVER_ERROR,
                req,
            )
        }
    }
}

/// What `templates/partials/qr.html` shows to register an authenticator: the QR code of the
/// `otpauth://` URL and the key to type by hand. Shared by user enrollment and the
/// administrators' own registration (`web/admin/account.rs`).
pub struct QrView {
    pub svg: String,
    pub key: String,
}

impl QrView {
    pub fn of(secret: &TotpSecret, account: &str) -> Option<QrView> {
        let (_, svg) = secret.provisioning(account)?;
        Some(QrView {
            svg,
            key: secret.expose().to_owned(),
        })
    }
}

fn setup_page(
    user_name: String,
    secret: &TotpSecret,
    token: &str,
    error: Option<String>,
) -> Option<Setup> {
    let qr = QrView::of(secret, &user_name)?;
    Some(Setup {
        user_name,
        qr,
        action: format!("/enroll/{token}/confirm"),
        error,
    })
}

async fn landing(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    match state.directory.enrollment_link(&token).await {
        Ok(user_name) => page(
            Landing {
                user_name,
                action: format!("/enroll/{token}"),
            },
            StatusCode::OK,
            &req,
        ),
        Err(e) => error_page(e, &req),
    }
}

async fn start(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    match state.directory.start_enrollment(&token).await {
        Ok((user_name, secret)) => match setup_page(user_name, &secret, &token, None) {
            Some(p) => page(p, StatusCode::OK, &req),
            None => error_page(Error::Internal("cannot render the QR code".into()), &req),
        },
        Err(e) => error_page(e, &req),
    }
}

async fn confirm(
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<CodeForm>,
    req: actix_web::HttpRequest,
) -> HttpResponse {
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match state.directory.confirm_enrollment(&token, &code).await {
        Ok(Confirm::Registered { user_name }) => page(Done { user_name }, StatusCode::OK, &req),
        Ok(Confirm::WrongCode { user_name, secret }) => {
            let msg = if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
                "That code is not right. Enter the code your app shows now (it changes every 30 seconds)."
            } else {
                "Enter the 6 digits your app shows."
            };
            match setup_page(user_name, &secret, &token, Some(msg.into())) {
                Some(p) => page(p, StatusCode::UNPROCESSABLE_ENTITY, &req),
                None => error_page(Error::Internal("cannot render the QR code".into()), &req),
            }
        }
        Err(e) => error_page(e, &req),
    }
}
