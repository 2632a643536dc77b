//! Responses: `application/scim+json` bodies, `Location` and `ETag` headers, and the one place
//! where errors of every layer become HTTP statuses and SCIM error bodies (RFC 7644 §3.12).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::Value;

use crate::directory::Error;
use crate::scim::ScimError;

pub const SCIM_JSON: &str = "application/scim+json";

/// Any failure of a SCIM request, rendered as a SCIM error body.
#[derive(Debug)]
pub struct ApiError(pub ScimError);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status(), self.0.detail())
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError(e)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(match e {
            Error::Scim(s) => s,
            Error::NotFound => ScimError::NotFound("the resource does not exist".into()),
            Error::Conflict { attribute, value } => {
                ScimError::Uniqueness(format!("{attribute} '{value}' is already taken"))
            }
            Error::Forbidden(m) => ScimError::Forbidden(m),
            Error::PreconditionFailed { current } => ScimError::PreconditionFailed(format!(
                "the resource has changed since that version; its current version is {current}"
            )),
            Error::Unauthorized | Error::SignIn(_) => {
                ScimError::Unauthorized("missing or invalid API token for this Base URL".into())
            }
            // RFC 7644 §3.12 has no scimType for 401; the detail says when and what to do.
            e @ Error::TokenExpired { .. } => ScimError::Unauthorized(e.to_string()),
            Error::Invalid(m) => ScimError::InvalidValue(m),
            Error::Unavailable => {
                ScimError::Unavailable("the service is shutting down; retry".into())
            }
            Error::Internal(m) => {
                tracing::error!(error = %m, "internal error");
                ScimError::Internal("internal error; the server log has the details".into())
            }
        })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CONTENT_TYPE, SCIM_JSON));
        if self.0.status() == 401 {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scimgate\""));
        }
        if self.0.status() == 503 {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        if let ScimError::TooManyRequests { retry_after, .. } = &self.0 {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        res.body(self.0.to_json().to_string())
    }
}

impl From<crate::web::limits::Refused> for ApiError {
    fn from(r: crate::web::limits::Refused) -> Self {
        ApiError(ScimError::TooManyRequests {
            detail: format!(
                "too many requests: over {}; retry after {} s",
                r.limit, r.retry_after
            ),
            retry_after: r.retry_after,
        })
    }
}

/// A SCIM JSON response.
pub fn json(status: StatusCode, body: &Value) -> HttpResponse {
    json_bytes(status, body.to_string().into_bytes())
}

/// A SCIM JSON response whose body is already JSON text.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(body)
}

/// A resource response whose body is already JSON text, with its `ETag` (no `Location`: a
/// 201 goes through [`resource`]).
pub fn resource_bytes(status: StatusCode, body: Vec<u8>, etag: &str) -> HttpResponse {
    let mut res = json_bytes(status, body);
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// A 200 resource response whose body is ready as it goes out (`web::scim::group_cache`):
/// already in `encoding` when given (which `Compress` then leaves alone), else plain (which
/// `Compress` may still encode, adding `Vary` as it does).
pub fn kept_resource(
    body: actix_web::web::Bytes,
    encoding: Option<header::ContentEncoding>,
    etag: &str,
) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, SCIM_JSON));
    if let Some(e) = encoding {
        res.insert_header((header::CONTENT_ENCODING, e))
            .insert_header((header::VARY, "accept-encoding"));
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.insert_header((header::ETAG, v));
    }
    res.body(body)
}

/// A resource response with its `ETag` and, for 201, its `Location` (RFC 7644 §3.3).
pub fn resource(status: StatusCode, body: &Value, etag: &str) -> HttpResponse {
    let mut res = resource_bytes(status, body.to_string().into_bytes(), etag);
    if status == StatusCode::CREATED
        && let Some(Ok(loc)) = body
            .get("meta")
            .and_then(|m| m.get("location"))
            .and_then(Value::as_str)
            .map(HeaderValue::from_str)
    {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    res
}

/// 304 Not Modified for a conditional GET, with the current `ETag`.
pub fn not_modified(etag: &str) -> HttpResponse {
    let mut res = HttpResponse::NotModified().finish();
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// 204 No Content for a write whose client asked for no body, with the new `ETag`.
pub fn no_content(etag: &str) -> HttpResponse {
    let mut res = HttpResponse::NoContent().finish();
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}
