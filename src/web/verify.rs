//! `POST /api/v1/verify`: the MFA service asks whether a code is right for a user.
//! Server to server, authenticated with a verifier key (`Authorization: Bearer scv_…`, made
//! with `scimgate verifier-key create` or on the Settings page), never an integration's API
//! token: the token pasted into an IdP must not be able to probe codes (issue 13 item 1).
//! Body `{"user": "<userName or alias>", "code": "123456"}`; answer `200 {"result": "allow"}`
//! or `200 {"result": "deny", "reason": "…"}`; `400`/`401` with `{"error": "…"}` for a bad
//! request or a missing or refused key. Error messages never repeat what was presented.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::token::{TOKEN_PREFIX, from_authorization};
use crate::directory::Error;
use crate::directory::verify::Verdict;
use crate::web::AppState;

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
    let Some(token) = token else {
        return unauthorized(
            "a verifier key is required: Authorization: Bearer scv_… (create one with `scimgate verifier-key create --name NAME` or on the Settings page)",
        );
    };
    if let Err(e) = state.directory.authenticate_verifier(token).await {
        return match e {
            Error::Unauthorized if token.starts_with(TOKEN_PREFIX) => unauthorized(
                "an integration's API token is not accepted here: a verifier key (scv_…) is required",
            ),
            Error::Unauthorized => unauthorized("invalid or revoked verifier key"),
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
    match state.directory.verify_code(&r.user, &r.code).await {
        Ok(Verdict::Allow) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({"result": "allow"})),
        Ok(Verdict::Deny(reason)) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(json!({"result": "deny", "reason": reason.as_str()})),
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
