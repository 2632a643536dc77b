//! The signed-in administrator's own account page (`/admin/account`): registering, replacing
//! or removing a TOTP authenticator (the same QR page as users' enrollment) and the one-time
//! recovery codes, shown once after a POST -> redirect -> GET and never again. These pages take
//! an [`AccountSession`], so they stay reachable while `admin.require_second_factor` sends an
//! unregistered administrator here.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::directory::Error;
use crate::directory::admin_mfa::CodeField;
use crate::directory::admins::SignInError;
use crate::web::AppState;
use crate::web::admin::session::AccountSession;
use crate::web::admin::{Chrome, Nav, PageError, redirect, render, show_time};
use crate::web::enroll::QrView;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/account", web::get().to(account))
        .route("/account/register", web::get().to(register_form))
        .route("/account/register", web::post().to(register))
        .route("/account/recovery-codes", web::get().to(recovery_codes))
        .route("/account/recovery-codes", web::post().to(regenerate))
        .route("/account/remove", web::post().to(remove));
}

/// The label authenticator apps show for an administrator (`:` separates issuer and account in
/// an `otpauth://` label, so it cannot appear in the account name).
fn app_label(username: &str) -> String {
    format!("admin {}", username.replace(':', "_"))
}

/// A refused code as the message shown next to the field.
fn code_message(e: Error) -> Result<(String, StatusCode), PageError> {
    match e {
        Error::SignIn(SignInError::WrongCode) => Ok((
            "That code is not right. Enter the 6 digits your app shows now.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Error::SignIn(SignInError::CodeUsed) => Ok((
            "This code was already used. Wait for the next code in your app.".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Error::SignIn(e @ SignInError::Throttled(_)) => {
            let m = e.to_string();
            let mut c = m.chars();
            let first = c.next().map(|f| f.to_uppercase().collect::<String>());
            Ok((
                format!("{}{}.", first.unwrap_or_default(), c.as_str()),
                StatusCode::TOO_MANY_REQUESTS,
            ))
        }
        Error::Invalid(m) => Ok((format!("{m}."), StatusCode::UNPROCESSABLE_ENTITY)),
        e => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    c: Chrome,
    registered_at: Option<String>,
    recovery_codes_left: i64,
    required: bool,
    notice: Option<String>,
    /// (form, message): `regenerate` or `remove`.
    error: Option<(&'static str, String)>,
}

impl AccountPage {
    fn error_for(&self, form: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == form)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Deserialize)]
struct AccountQuery {
    recovery_used: Option<String>,
    removed: Option<String>,
}

async fn account_page(
    state: &AppState,
    me: &AccountSession,
    notice: Option<String>,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let s = state
        .directory
        .second_factor_status(me.0.session.admin_id)
        .await?;
    let page = AccountPage {
        c: me.0.chrome(Nav::Account),
        registered_at: s.registered_at.as_deref().map(show_time),
        recovery_codes_left: s.recovery_codes_left,
        required: state.config.admin.require_second_factor,
        notice,
        error,
    };
    render(status, &page)
}

async fn account(
    state: web::Data<AppState>,
    me: AccountSession,
    q: web::Query<AccountQuery>,
) -> Result<HttpResponse, PageError> {
    let notice = if q.recovery_used.is_some() {
        Some("You signed in with a recovery code; it cannot be used again.".to_owned())
    } else if q.removed.is_some() {
        Some("Your authenticator and recovery codes were removed.".to_owned())
    } else {
        None
    };
    account_page(&state, &me, notice, None, StatusCode::OK).await
}

#[derive(Template)]
#[template(path = "admin/account_register.html")]
struct RegisterPage {
    c: Chrome,
    qr: QrView,
    replacing: bool,
    required: bool,
    /// (field, message): `code` or `current`.
    error: Option<(&'static str, String)>,
}

impl RegisterPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn register_page(
    state: &AppState,
    me: &AccountSession,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let s = &me.0.session;
    let secret = state.directory.registration_secret(s.admin_id);
    let qr = QrView::of(&secret, &app_label(&s.username))
        .ok_or_else(|| PageError::Internal("cannot render the QR code".into()))?;
    let page = RegisterPage {
        c: me.0.chrome(Nav::Account),
        qr,
        replacing: s.has_second_factor,
        required: state.config.admin.require_second_factor && !s.has_second_factor,
        error,
    };
    render(status, &page)
}

async fn register_form(
    state: web::Data<AppState>,
    me: AccountSession,
) -> Result<HttpResponse, PageError> {
    register_page(&state, &me, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    current: String,
}

async fn register(
    state: web::Data<AppState>,
    me: AccountSession,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, PageError> {
    me.0.check_csrf(&form.csrf)?;
    let s = &me.0.session;
    let current = s.has_second_factor.then_some(form.current.as_str());
    match state
        .directory
        .register_second_factor(s.admin_id, &s.username, &form.code, current)
        .await
    {
        Ok(codes) => {
            state.recovery_reveal.put(&me.0.cookie, "", codes);
            Ok(redirect("/admin/account/recovery-codes"))
        }
        Err((field, e)) => {
            let field = match field {
                CodeField::Code => "code",
                CodeField::Current => "current",
            };
            let (m, status) = code_message(e)?;
            register_page(&state, &me, Some((field, m)), status).await
        }
    }
}

#[derive(Template)]
#[template(path = "admin/account_recovery.html")]
struct RecoveryPage {
    c: Chrome,
    codes: Option<Vec<String>>,
}

/// Shows freshly issued recovery codes once: the codes are taken from memory as the page is
/// rendered, so a reload shows that they were already shown.
async fn recovery_codes(
    state: web::Data<AppState>,
    me: AccountSession,
) -> Result<HttpResponse, PageError> {
    let codes = state
        .recovery_reveal
        .take(&me.0.cookie, None)
        .map(|(_, cs)| cs.iter().map(|c| c.expose().to_owned()).collect());
    let page = RecoveryPage {
        c: me.0.chrome(Nav::Account),
        codes,
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

async fn regenerate(
    state: web::Data<AppState>,
    me: AccountSession,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    me.0.check_csrf(&form.csrf)?;
    let s = &me.0.session;
    match state
        .directory
        .regenerate_recovery_codes(s.admin_id, &s.username, &form.code)
        .await
    {
        Ok(codes) => {
            state.recovery_reveal.put(&me.0.cookie, "", codes);
            Ok(redirect("/admin/account/recovery-codes"))
        }
        Err(e) => {
            let (m, status) = code_message(e)?;
            account_page(&state, &me, None, Some(("regenerate", m)), status).await
        }
    }
}

async fn remove(
    state: web::Data<AppState>,
    me: AccountSession,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    me.0.check_csrf(&form.csrf)?;
    if state.config.admin.require_second_factor {
        let m = "This appliance requires a second factor for administrators (admin.require_second_factor): replace the authenticator instead.".to_owned();
        return account_page(
            &state,
            &me,
            None,
            Some(("remove", m)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let s = &me.0.session;
    match state
        .directory
        .remove_second_factor(s.admin_id, &s.username, &form.code)
        .await
    {
        Ok(()) => Ok(redirect("/admin/account?removed=1")),
        Err(e) => {
            let (m, status) = code_message(e)?;
            account_page(&state, &me, None, Some(("remove", m)), status).await
        }
    }
}
