//! Admin sessions and CSRF protection.
//!
//! - The session cookie (`scimgate_session`, or `__Host-scimgate_session` when the public URL is
//!   https) is HttpOnly, SameSite=Strict, Path=/, and Secure with https. The server keeps the
//!   session (a digest of the cookie value) with idle and absolute expiry.
//! - Every state-changing form carries a token: the session's CSRF token, or, on the sign-in and
//!   setup forms (no session yet), the value of a form cookie (double submit).
//! - Every POST under `/admin` from another site is refused before any handler runs: a
//!   `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin` that is not this host.
//! - The second factor is enforced here, once for every page: [`AdminSession`] (what admin
//!   pages take) refuses a pending session (password given, code awaited) and, with
//!   `admin.require_second_factor`, an administrator without an authenticator, who is sent to
//!   register it. Only the account pages ([`AccountSession`]), the code page
//!   ([`PendingSignIn`]) and sign-out ([`AnySession`]) take less.

use std::future::Future;
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, ResponseError, web};

use crate::auth::secret::{random_secret, same};
use crate::directory::admins::Session;
use crate::web::AppState;
use crate::web::admin::{Chrome, Nav, PageError, harden};

const SESSION: &str = "scimgate_session";
const SESSION_SECURE: &str = "__Host-scimgate_session";
const FORM: &str = "scimgate_form";
const FORM_SECURE: &str = "__Host-scimgate_form";

pub const REFUSED_TOKEN: &str = "This form was refused: its security token is missing or out of date. Go back, reload the page and try again.";

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| PageError::Internal("application state missing".into()))
}

fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

fn cookie_name(state: &AppState, plain: &'static str, prefixed: &'static str) -> &'static str {
    if secure(state) { prefixed } else { plain }
}

fn build_cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure(state))
        .finish()
}

/// The session cookie for a new sign-in (a browser-session cookie; the server enforces expiry).
pub fn session_cookie(state: &AppState, value: String) -> Cookie<'static> {
    build_cookie(state, cookie_name(state, SESSION, SESSION_SECURE), value)
}

/// A cookie that removes the session cookie.
pub fn clear_session_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = session_cookie(state, String::new());
    c.make_removal();
    c
}

/// Where an administrator without a required authenticator is sent.
pub const REGISTER_PATH: &str = "/admin/account/register";
/// The second step of sign-in.
pub const CODE_PATH: &str = "/admin/login/code";

/// The signed-in administrator, fully (password and, when registered, second factor), and
/// registered when `admin.require_second_factor` asks for it. Handlers that take it cannot be
/// reached otherwise: extraction fails with [`PageError::SignInRequired`] (to the sign-in
/// page) or [`PageError::Redirect`] (to the code page or to registration).
pub struct AdminSession {
    pub session: Session,
    pub cookie: String,
}

impl AdminSession {
    pub fn chrome(&self, nav: Nav) -> Chrome {
        Chrome {
            username: self.session.username.clone(),
            csrf: self.session.csrf.clone(),
            nav,
        }
    }

    /// Checks a submitted form token against the session's.
    pub fn check_csrf(&self, token: &str) -> Result<(), PageError> {
        if same(token, &self.session.csrf) {
            Ok(())
        } else {
            Err(PageError::Forbidden(REFUSED_TOKEN.into()))
        }
    }
}

/// How much of a session a handler needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Need {
    /// Any live session, pending or full (sign-out).
    Any,
    /// Only a pending one (the code page).
    Pending,
    /// A full session; registration not enforced (the account pages).
    Full,
    /// A full session of an administrator registered as required (every other page).
    Registered,
}

async fn extract(req: HttpRequest, need: Need) -> Result<AdminSession, PageError> {
    let state = state(&req)?;
    let name = cookie_name(&state, SESSION, SESSION_SECURE);
    // Back to the page asked for after signing in (a GET only: a form post cannot be
    // replayed).
    let next = (req.method() == actix_web::http::Method::GET)
        .then(|| {
            let uri = req.uri();
            uri.path_and_query()
                .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned())
        })
        // The landing page needs no `next`.
        .filter(|n| n != "/admin/provisioning" && crate::web::admin::safe_next(n).is_some());
    let Some(cookie) = req.cookie(name).map(|c| c.value().to_owned()) else {
        return Err(PageError::SignInRequired { ended: false, next });
    };
    let Some(session) = state.directory.session(&cookie, state.sessions).await? else {
        // A cookie without a live session: it ended (idle, maximum age, signed out elsewhere).
        return Err(PageError::SignInRequired { ended: true, next });
    };
    match need {
        Need::Any => {}
        Need::Pending if !session.pending => {
            return Err(PageError::Redirect("/admin/provisioning"));
        }
        Need::Pending => {}
        _ if session.pending => return Err(PageError::Redirect(CODE_PATH)),
        Need::Registered
            if state.config.admin.require_second_factor && !session.has_second_factor =>
        {
            return Err(PageError::Redirect(REGISTER_PATH));
        }
        Need::Full | Need::Registered => {}
    }
    Ok(AdminSession { session, cookie })
}

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, PageError>>>>;

impl FromRequest for AdminSession {
    type Error = PageError;
    type Future = Extracting<AdminSession>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(extract(req.clone(), Need::Registered))
    }
}

/// A full session whose administrator may still have to register an authenticator: the
/// account pages, where that registration happens.
pub struct AccountSession(pub AdminSession);

impl FromRequest for AccountSession {
    type Error = PageError;
    type Future = Extracting<AccountSession>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { extract(req, Need::Full).await.map(AccountSession) })
    }
}

/// A pending sign-in: the password was right, the second factor is awaited.
pub struct PendingSignIn(pub AdminSession);

impl FromRequest for PendingSignIn {
    type Error = PageError;
    type Future = Extracting<PendingSignIn>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { extract(req, Need::Pending).await.map(PendingSignIn) })
    }
}

/// Any live session, pending or not: enough to sign out.
pub struct AnySession(pub AdminSession);

impl FromRequest for AnySession {
    type Error = PageError;
    type Future = Extracting<AnySession>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { extract(req, Need::Any).await.map(AnySession) })
    }
}

/// The form token for the sign-in and setup forms: the form cookie's value (set if missing).
/// Returns the token and, when new, the cookie to set.
pub fn form_token(req: &HttpRequest) -> Result<(String, Option<Cookie<'static>>), PageError> {
    let state = state(req)?;
    let name = cookie_name(&state, FORM, FORM_SECURE);
    if let Some(c) = req.cookie(name).filter(|c| c.value().len() == 43) {
        return Ok((c.value().to_owned(), None));
    }
    let v = random_secret().map_err(|e| PageError::Internal(format!("no randomness: {e}")))?;
    Ok((v.clone(), Some(build_cookie(&state, name, v))))
}

/// Checks a sign-in or setup form's token against the form cookie.
pub fn check_form_token(req: &HttpRequest, token: &str) -> Result<(), PageError> {
    let state = state(req)?;
    let name = cookie_name(&state, FORM, FORM_SECURE);
    match req.cookie(name) {
        Some(c) if same(c.value(), token) => Ok(()),
        _ => Err(PageError::Forbidden(REFUSED_TOKEN.into())),
    }
}

/// Whether a state-changing request comes from this site, judged by the headers browsers set
/// on every POST: `Sec-Fetch-Site` when present (same-origin, or none for a typed URL), else
/// `Origin` (this request's own scheme and host, or the public URL). Requests without either
/// header (scripts, old browsers) pass here and still need the form token.
pub fn same_site(req: &HttpRequest, public_url: &str) -> bool {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    if let Some(origin) = header("origin") {
        let info = req.connection_info();
        let own = format!("{}://{}", info.scheme(), info.host());
        let public = public_url.split('/').take(3).collect::<Vec<_>>().join("/");
        return origin.eq_ignore_ascii_case(&own) || origin.eq_ignore_ascii_case(&public);
    }
    true
}

/// Middleware for `/admin`: refuses cross-site POSTs and hardens every response's headers.
pub async fn refuse_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if req.method() == Method::POST {
        let public = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.public_url.clone())
            .unwrap_or_default();
        if !same_site(req.request(), &public) {
            let e = PageError::Forbidden(
                "This form was sent from another site and was refused. Use the form on this site."
                    .into(),
            );
            let mut res = e.error_response();
            harden(res.headers_mut());
            return Ok(req.into_response(res));
        }
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    harden(res.headers_mut());
    Ok(res)
}
