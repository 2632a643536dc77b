//! Extractors for SCIM requests: the calling integration (from the Base URL and the token),
//! the JSON body (media type, size limit, syntax) and the query parameters.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use serde_json::Value;

use crate::auth::token::from_authorization;
use crate::directory::users::IfMatch;
use crate::directory::{Error, Integration, PatchAnswer};
use crate::scim::ScimError;
use crate::web::AppState;
use crate::web::limits::Surface;
use crate::web::scim::activity::RequestBody;
use crate::web::scim::respond::ApiError;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError(ScimError::Internal("application state missing".into())))
}

/// The integration whose Base URL was called, authenticated by its API token.
pub struct Caller(pub Integration);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    /// The token is checked first: a flood of bad tokens from an address is refused with 429
    /// (once over `limits.auth_failures_per_minute`) without slowing the right token from the
    /// same address, which only the integration's own rate limit applies to (issue 14 item 1).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state(&req)?;
            let iid = req.match_info().get("iid").unwrap_or_default().to_owned();
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(from_authorization)
                .map(str::to_owned);
            // `reason`: how the Activity log counts it; `None` records it one by one (an
            // expired token, whose detail tells the administrator what to do: issue 13 item 6).
            let refuse = |reason: Option<&'static str>, e: ApiError| -> ApiError {
                let client = state.limits.client_of(&req);
                match state.limits.failed(Surface::Scim, client) {
                    Ok(()) => {
                        if let Some(reason) = reason {
                            actix_web::HttpMessage::extensions_mut(&req).insert(Refusal(reason));
                        }
                        e
                    }
                    Err(over) => {
                        actix_web::HttpMessage::extensions_mut(&req)
                            .insert(Refusal("too many failed authentications"));
                        over.into()
                    }
                }
            };
            let Some(token) = token else {
                return Err(refuse(
                    Some("no token"),
                    ApiError(ScimError::Unauthorized(
                        "this Base URL needs its API token in the Authorization header".into(),
                    )),
                ));
            };
            let me = match state.directory.authenticate(&iid, &token).await {
                Ok(me) => me,
                Err(e @ (Error::Unauthorized | Error::TokenExpired { .. })) => {
                    let reason = match &e {
                        Error::TokenExpired { .. } => None,
                        _ if state.directory.integration_exists(&iid).await? => Some("bad token"),
                        _ => Some("unknown Base URL"),
                    };
                    return Err(refuse(reason, e.into()));
                }
                Err(e) => return Err(e.into()),
            };
            // For the Activity log (web::scim::activity).
            actix_web::HttpMessage::extensions_mut(&req).insert(me.clone());
            if let Err(over) = state.limits.scim(me.id.as_str()) {
                actix_web::HttpMessage::extensions_mut(&req)
                    .insert(Refusal("over the integration's rate limit"));
                return Err(over.into());
            }
            Ok(Caller(me))
        })
    }
}

/// Why a request was refused before authentication, for the Activity log's aggregated rows.
#[derive(Debug, Clone, Copy)]
pub struct Refusal(pub &'static str);

/// A JSON request body: `application/scim+json` or `application/json` (with any parameters),
/// or no Content-Type at all; at most `scim.max_body_bytes`.
pub struct ScimBody(pub Value);

impl FromRequest for ScimBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ScimBody, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("?").to_owned());
        let bytes = Bytes::from_request(&req, payload);
        Box::pin(async move {
            let limit = state(&req)?.caps.max_body_bytes;
            if let Some(ct) = content_type {
                let essence = ct
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                if essence != "application/scim+json" && essence != "application/json" {
                    return Err(ApiError(ScimError::UnsupportedMediaType(format!(
                        "the body must be application/scim+json or application/json, not '{ct}'"
                    ))));
                }
            }
            let body = bytes.await.map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    ApiError(ScimError::PayloadTooLarge(format!(
                        "the body is larger than the limit of {limit} bytes (scim.max_body_bytes)"
                    )))
                } else {
                    ApiError(ScimError::InvalidSyntax(format!(
                        "the body could not be read: {e}"
                    )))
                }
            })?;
            if body.is_empty() {
                return Err(ApiError(ScimError::InvalidSyntax(
                    "the request has no body".into(),
                )));
            }
            // For the Activity log, which redacts it before writing (web::scim::activity).
            actix_web::HttpMessage::extensions_mut(&req).insert(RequestBody(body.clone()));
            let value = serde_json::from_slice(&body).map_err(|e| {
                ApiError(ScimError::InvalidSyntax(format!(
                    "the body is not valid JSON: {e}"
                )))
            })?;
            Ok(ScimBody(value))
        })
    }
}

/// The query string as name/value pairs.
pub fn query(req: &HttpRequest) -> Result<Vec<(String, String)>, ApiError> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| {
            ApiError(ScimError::BadRequest(format!(
                "the query string is malformed: {e}"
            )))
        })
}

/// The `If-Match` header, if any.
pub fn if_match(req: &HttpRequest) -> Option<IfMatch> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(IfMatch::parse)
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, RFC 7232 §3.2): the
/// client's copy is current and a GET answers 304.
pub fn none_match(req: &HttpRequest, etag: &str) -> bool {
    let Some(h) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    h.trim() == "*" || h.split(',').any(|t| opaque(t) == opaque(etag))
}

/// The `return` preference of a `Prefer` header (RFC 7240 §4.2): `return=minimal` → no body,
/// `return=representation` → the resource; None when the request states neither.
fn prefer_return(req: &HttpRequest) -> Option<PatchAnswer> {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            let p = p.trim();
            if p.eq_ignore_ascii_case("return=minimal") {
                Some(PatchAnswer::NoContent)
            } else if p.eq_ignore_ascii_case("return=representation") {
                Some(PatchAnswer::Resource)
            } else {
                None
            }
        })
}

/// What a successful PATCH answers, decided per request (issue 17 item 2):
/// `attributes` or `excludedAttributes` in the query → 200 with the projected resource (RFC 7644
/// §3.5.2 requires it); else `Prefer: return=representation` → 200 with the resource, `Prefer:
/// return=minimal` → 204; else `default` (the integration's *PATCH answer* for groups; users
/// answer with the user, as Okta's reference shows for PATCH deactivate).
pub fn patch_answer(req: &HttpRequest, default: PatchAnswer) -> Result<PatchAnswer, ApiError> {
    let projected = query(req)?.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("attributes") || k.eq_ignore_ascii_case("excludedAttributes")
    });
    Ok(if projected {
        PatchAnswer::Resource
    } else {
        prefer_return(req).unwrap_or(default)
    })
}
