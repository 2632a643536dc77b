//! `POST /api/v1/verify`: the MFA service asks whether a code is right for a user.
//! Server to server, authenticated with a verifier key (`Authorization: Bearer scv_…`, made
//! with `scimgate verifier-key create` or on the Settings page), never an integration's API
//! token: the token pasted into an IdP must not be able to probe codes (issue 13 item 1).
//! Body `{"user": "<userName or alias>", "code": "123456"}`; answer `200 {"result": "allow"}`
//! or `200 {"result": "deny", "reason": "…"}`; `400`/`401` with `{"error": "…"}` for a bad
//! request or a missing or refused key; `429` with `{"error": "…"}` and `Retry-After` over a
//! rate limit (failed keys per client address, requests per key, per user: `[limits]`).
//! Error messages never repeat what was presented.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::token::{TOKEN_PREFIX, from_authorization};
use crate::directory::Error;
use crate::directory::verify::Verdict;
use crate::web::AppState;
use crate::web::limits::{Refused, Surface};

/// The largest verify request body.
const MAX_BODY: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    user: String,
    code: String,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/verify", web::post().to(verify));
}

fn error(status: actix_web::http::StatusCode, msg: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(json!({ "error": msg }))
}

/// `429` with the JSON error and `Retry-After` (issue 14 item 1).
fn too_many(r: &Refused) -> HttpResponse {
    let mut res = error(
        actix_web::http::StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many requests: over {}; retry after {} s",
            r.limit, r.retry_after
        ),
    );
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&r.retry_after.to_string()) {
        res.headers_mut()
            .insert(actix_web::http::header::RETRY_AFTER, v);
    }
    res
}

/// `401` with the JSON error and the challenge of RFC 6750 §3.
fn unauthorized(msg: &str) -> HttpResponse {
    let mut r = error(actix_web::http::StatusCode::UNAUTHORIZED, msg);
    r.headers_mut().insert(
        actix_web::http::header::WWW_AUTHENTICATE,
        actix_web::http::header::HeaderValue::from_static("Bearer realm=\"scimgate verify\""),
    );
    r
}

async fn verify(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    use actix_web::http::StatusCode;
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(from_authorization);
    // A failed authentication counts against the client address; over the limit it is
    // answered 429 instead of 401. A right key is checked first and never refused by it.
    let failed = |res: HttpResponse| -> HttpResponse {
        match state
            .limits
            .failed(Surface::Verify, state.limits.client_of(&req))
        {
            Ok(()) => res,
            Err(r) => too_many(&r),
        }
    };
    let Some(token) = token else {
        return failed(unauthorized(
            "a verifier key is required: Authorization: Bearer scv_… (create one with `scimgate verifier-key create --name NAME` or on the Settings page)",
        ));
    };
    let key = match state.directory.authenticate_verifier(token).await {
        Ok(key) => key,
        Err(e) => {
            return match e {
                Error::Unauthorized if token.starts_with(TOKEN_PREFIX) => failed(unauthorized(
                    "an integration's API token is not accepted here: a verifier key (scv_…) is required",
                )),
                Error::Unauthorized => failed(unauthorized("invalid or revoked verifier key")),
                Error::Unavailable => error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the service is shutting down",
                ),
                e => {
                    tracing::error!(error = %e, "verify: authentication failed");
                    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
                }
            };
        }
    };
    if let Err(r) = state.limits.verify_key(key.id.as_str()) {
        return too_many(&r);
    }
    if body.len() > MAX_BODY {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body must be at most 4096 bytes",
        );
    }
    let r: VerifyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body must be {{\"user\": \"<userName or alias>\", \"code\": \"123456\"}}: {e}"
                ),
            );
        }
    };
    if r.user.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "user must not be empty");
    }
    if let Err(r) = state.limits.verify_user(&r.user) {
        return too_many(&r);
    }
    match state.directory.verify_code(&r.user, &r.code).await {
        Ok(Verdict::Allow) => {
            state.metrics.verify(true, "");
            HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(json!({"result": "allow"}))
        }
        Ok(Verdict::Deny(reason)) => {
            state.metrics.verify(false, reason.as_str());
            HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(json!({"result": "deny", "reason": reason.as_str()}))
        }
        Err(Error::Unavailable) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is shutting down",
        ),
        Err(e) => {
            tracing::error!(error = %e, "verify failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
