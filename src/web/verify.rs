//! `POST /api/v1/verify`: the MFA service asks whether a code is right for a user.
//! Server to server, authenticated with an integration's API token
//! (`Authorization: Bearer scg_…`, any integration's). Body `{"user": "<userName or alias>",
//! "code": "123456"}`; answer `200 {"result": "allow"}` or `200 {"result": "deny",
//! "reason": "…"}`; `400`/`401` with `{"error": "…"}` for a bad request or token.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::auth::token::from_authorization;
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

async fn verify(state: web::Data<AppState>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    use actix_web::http::StatusCode;
    let token = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(from_authorization);
    let Some(token) = token else {
        return error(
            StatusCode::UNAUTHORIZED,
            "an integration's API token is required: Authorization: Bearer <token>",
        );
    };
    if let Err(e) = state.directory.authenticate_any(token).await {
        return match e {
            Error::Unauthorized => error(StatusCode::UNAUTHORIZED, "invalid API token"),
            e @ Error::TokenExpired { .. } => error(StatusCode::UNAUTHORIZED, &e.to_string()),
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
