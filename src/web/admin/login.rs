//! Sign-in (password, then the second factor's code when the administrator registered one),
//! sign-out and the first-admin setup link.

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::password::MIN_PASSWORD_CHARS;
use crate::directory::Error;
use crate::directory::admin_mfa::Accepted;
use crate::directory::admins::SignInError;
use crate::web::AppState;
use crate::web::admin::session::{
    AnySession, CODE_PATH, PendingSignIn, REGISTER_PATH, check_form_token, clear_session_cookie,
    form_token, session_cookie,
};
use crate::web::admin::{
    CsrfOnly, PageError, redirect, render, retry_after, safe_next, too_many_message,
};
use crate::web::limits::{Refused, Surface};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/login/code", web::get().to(code_form))
        .route("/login/code", web::post().to(code))
        .route("/logout", web::post().to(logout))
        .route("/setup/{token}", web::get().to(setup_form))
        .route("/setup/{token}", web::post().to(setup));
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf: String,
    username: String,
    error: Option<String>,
    notice: Option<String>,
    /// The page to go to after signing in (checked by `safe_next`; empty for the default).
    next: String,
}

impl LoginPage {
    /// After a wrong password the cursor goes to the password, the username being kept.
    fn focus_password(&self) -> bool {
        self.error.is_some() && !self.username.is_empty()
    }
}

/// Where a signed-in administrator goes: the page asked for, else User Provisioning.
fn landing(next: &str) -> String {
    safe_next(next).unwrap_or("/admin/provisioning").to_owned()
}

fn with_cookie(mut res: HttpResponse, c: Option<Cookie<'static>>) -> HttpResponse {
    if let Some(c) = c {
        let _ = res.add_cookie(&c);
    }
    res
}

#[derive(Deserialize)]
struct LoginQuery {
    signed_out: Option<String>,
    expired: Option<String>,
    /// The session ended (idle or maximum age) while the administrator was away.
    ended: Option<String>,
    #[serde(default)]
    next: String,
}

async fn login_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    let (csrf, cookie) = form_token(&req)?;
    let page = LoginPage {
        csrf,
        username: String::new(),
        error: None,
        notice: match (&q.signed_out, &q.expired, &q.ended) {
            (Some(_), _, _) => Some("You are signed out.".to_owned()),
            (None, Some(_), _) => Some(
                "The sign-in expired before the code was entered. Enter your password again."
                    .to_owned(),
            ),
            (None, None, Some(_)) => Some(format!(
                "Your session ended: sessions end after {} minutes without activity, and {} hours after signing in. Sign in again to continue.",
                state.config.admin.session_idle_minutes, state.config.admin.session_max_hours
            )),
            (None, None, None) => None,
        },
        next: safe_next(&q.next).unwrap_or_default().to_owned(),
    };
    Ok(with_cookie(render(StatusCode::OK, &page)?, cookie))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    check_form_token(&req, &form.csrf)?;
    let (csrf, cookie) = form_token(&req)?;
    let again = |error: String, status: StatusCode| -> Result<HttpResponse, PageError> {
        let page = LoginPage {
            csrf: csrf.clone(),
            username: form.username.clone(),
            error: Some(error),
            notice: None,
            next: safe_next(&form.next).unwrap_or_default().to_owned(),
        };
        Ok(with_cookie(render(status, &page)?, cookie.clone()))
    };
    let over = |r: Refused| -> Result<HttpResponse, PageError> {
        let mut res = again(too_many_message(&r), StatusCode::TOO_MANY_REQUESTS)?;
        retry_after(&mut res, &r);
        Ok(res)
    };
    // An address over its failure limit is refused before its password is hashed; the
    // per-username throttle (directory::admins) still applies below it.
    let client = state.limits.client_of(&req);
    if let Err(r) = state.limits.sign_in_blocked(client) {
        return over(r);
    }
    match state
        .directory
        .sign_in(&form.username, &form.password, state.sessions)
        .await
    {
        Ok(new) => {
            // A pending session (second factor registered) grants only the code page.
            let mut res = redirect(&match (new.session.pending, safe_next(&form.next)) {
                (true, Some(n)) => format!("{CODE_PATH}?next={}", super::enc(n)),
                (true, None) => CODE_PATH.to_owned(),
                (false, _) => landing(&form.next),
            });
            let _ = res.add_cookie(&session_cookie(&state, new.cookie));
            Ok(res)
        }
        Err(Error::SignIn(SignInError::Wrong)) => {
            match state.limits.failed(Surface::SignIn, client) {
                Ok(()) => again(
                    "The username or password is wrong.".into(),
                    StatusCode::UNAUTHORIZED,
                ),
                Err(r) => over(r),
            }
        }
        Err(Error::SignIn(e @ SignInError::Throttled(_))) => again(
            format!("{}.", capitalise(&e.to_string())),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => Err(e.into()),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

async fn logout(
    state: web::Data<AppState>,
    AnySession(me): AnySession,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    state.directory.sign_out(&me.cookie).await?;
    tracing::info!(username = %me.session.username, "admin signed out");
    let mut res = redirect("/admin/login?signed_out=1");
    let _ = res.add_cookie(&clear_session_cookie(&state));
    Ok(res)
}

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct SetupPage {
    csrf: String,
    valid: bool,
    username: String,
    errors: Vec<(&'static str, String)>,
    min_password: usize,
}

impl SetupPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn setup_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let valid = state.directory.setup_link_valid(&token).await?;
    if !valid {
        setup_failed(&state, &req)?;
    }
    let (csrf, cookie) = form_token(&req)?;
    let page = SetupPage {
        csrf,
        valid,
        username: String::new(),
        errors: Vec::new(),
        min_password: MIN_PASSWORD_CHARS,
    };
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    Ok(with_cookie(render(status, &page)?, cookie))
}

/// A wrong (or used, or expired) setup link counts as a failed authentication of the client
/// address; over the limit the answer is the 429 page.
fn setup_failed(state: &AppState, req: &HttpRequest) -> Result<(), PageError> {
    state
        .limits
        .failed(Surface::Setup, state.limits.client_of(req))
        .map_err(PageError::TooManyRequests)
}

#[derive(Deserialize)]
struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, PageError> {
    check_form_token(&req, &form.csrf)?;
    let mut errors = Vec::new();
    if form.username.trim().is_empty() {
        errors.push(("username", "Required.".to_owned()));
    }
    if let Err(e) = crate::auth::password::check_policy(&form.password) {
        errors.push(("password", format!("{}.", capitalise(&e.to_string()))));
    } else if form.password != form.confirm {
        errors.push(("confirm", "The two passwords differ.".to_owned()));
    }
    if errors.is_empty() {
        match state
            .directory
            .complete_setup(&token, &form.username, &form.password)
            .await
        {
            Ok(()) => {
                tracing::info!(username = %form.username.trim(), "first administrator created with the setup link");
                let new = state
                    .directory
                    .sign_in(&form.username, &form.password, state.sessions)
                    .await?;
                // With `admin.require_second_factor`, setup leads straight into registering an
                // authenticator (every other page would send there anyway).
                let mut res = redirect(if state.config.admin.require_second_factor {
                    REGISTER_PATH
                } else {
                    "/admin/provisioning"
                });
                let _ = res.add_cookie(&session_cookie(&state, new.cookie));
                return Ok(res);
            }
            Err(Error::Invalid(m)) => errors.push(("username", format!("{}.", capitalise(&m)))),
            Err(Error::Conflict { .. }) => {
                errors.push(("username", "This username is taken.".to_owned()))
            }
            Err(Error::NotFound) => {
                setup_failed(&state, &req)?;
                let (csrf, cookie) = form_token(&req)?;
                let page = SetupPage {
                    csrf,
                    valid: false,
                    username: String::new(),
                    errors: Vec::new(),
                    min_password: MIN_PASSWORD_CHARS,
                };
                return Ok(with_cookie(render(StatusCode::NOT_FOUND, &page)?, cookie));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let (csrf, cookie) = form_token(&req)?;
    let page = SetupPage {
        csrf,
        valid: true,
        username: form.username.clone(),
        errors,
        min_password: MIN_PASSWORD_CHARS,
    };
    Ok(with_cookie(
        render(StatusCode::UNPROCESSABLE_ENTITY, &page)?,
        cookie,
    ))
}

#[derive(Template)]
#[template(path = "admin/login_code.html")]
struct CodePage {
    csrf: String,
    username: String,
    error: Option<String>,
    next: String,
}

#[derive(Deserialize)]
struct CodeQuery {
    #[serde(default)]
    next: String,
}

async fn code_form(
    PendingSignIn(me): PendingSignIn,
    q: web::Query<CodeQuery>,
) -> Result<HttpResponse, PageError> {
    let page = CodePage {
        csrf: me.session.csrf.clone(),
        username: me.session.username.clone(),
        error: None,
        next: safe_next(&q.next).unwrap_or_default().to_owned(),
    };
    render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

/// The second step: a right code (or an unused recovery code) turns the pending session into a
/// full one under a new cookie; the pending cookie stops working.
async fn code(
    req: HttpRequest,
    state: web::Data<AppState>,
    PendingSignIn(me): PendingSignIn,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, PageError> {
    me.check_csrf(&form.csrf)?;
    let again = |error: String, status: StatusCode| -> Result<HttpResponse, PageError> {
        let page = CodePage {
            csrf: me.session.csrf.clone(),
            username: me.session.username.clone(),
            error: Some(error),
            next: safe_next(&form.next).unwrap_or_default().to_owned(),
        };
        render(status, &page)
    };
    let over = |r: Refused| -> Result<HttpResponse, PageError> {
        let mut res = again(too_many_message(&r), StatusCode::TOO_MANY_REQUESTS)?;
        retry_after(&mut res, &r);
        Ok(res)
    };
    let client = state.limits.client_of(&req);
    if let Err(r) = state.limits.sign_in_blocked(client) {
        return over(r);
    }
    match state
        .directory
        .complete_sign_in(&me.cookie, &form.code, state.sessions)
        .await
    {
        Ok((new, accepted)) => {
            let mut res = redirect(&match accepted {
                Accepted::Authenticator => landing(&form.next),
                // The account page says how many recovery codes remain.
                Accepted::RecoveryCode { .. } => "/admin/account?recovery_used=1".to_owned(),
            });
            let _ = res.add_cookie(&session_cookie(&state, new.cookie));
            Ok(res)
        }
        Err(Error::SignIn(SignInError::WrongCode)) => match state.limits.failed(Surface::SignIn, client) {
            Ok(()) => again(
                "That code is not right. Enter the 6 digits your app shows now, or a recovery code."
                    .into(),
                StatusCode::UNAUTHORIZED,
            ),
            Err(r) => over(r),
        },
        Err(Error::SignIn(SignInError::CodeUsed)) => again(
            "This code was already used. Wait for the next code in your app.".into(),
            StatusCode::UNAUTHORIZED,
        ),
        Err(Error::SignIn(e @ SignInError::Throttled(_))) => again(
            format!("{}.", capitalise(&e.to_string())),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(Error::SignIn(SignInError::Expired)) => {
            let mut res = redirect("/admin/login?expired=1");
            let _ = res.add_cookie(&clear_session_cookie(&state));
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}
