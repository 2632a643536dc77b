//! SCIM error values (RFC 7644 §3.12): what went wrong, with the HTTP status and `scimType`
//! the protocol assigns to it. Rendering to HTTP happens in `web/`.

use serde_json::{Value, json};

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// A protocol-level error. Each variant carries the human-readable `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// 400 invalidFilter: the filter syntax is invalid or the filter is unsupported.
    #[error("{0}")]
    InvalidFilter(String),
    /// 400 tooMany: the filter or page would return more than the server will.
    #[error("{0}")]
    TooMany(String),
    /// 400 invalidCursor (RFC 9865 §4): the cursor is malformed, forged, or from another query.
    #[error("{0}")]
    InvalidCursor(String),
    /// 400 expiredCursor (RFC 9865 §4): the cursor is older than `cursorTimeout`.
    #[error("{0}")]
    ExpiredCursor(String),
    /// 409 uniqueness: a unique attribute value is already taken.
    #[error("{0}")]
    Uniqueness(String),
    /// 400 mutability: an attempt to change a readOnly or immutable attribute.
    #[error("{0}")]
    Mutability(String),
    /// 400 invalidSyntax: the request body is not valid JSON or not a valid SCIM message.
    #[error("{0}")]
    InvalidSyntax(String),
    /// 400 invalidPath: a PATCH path is malformed or names no attribute.
    #[error("{0}")]
    InvalidPath(String),
    /// 400 noTarget: a PATCH path selected nothing where something was required.
    #[error("{0}")]
    NoTarget(String),
    /// 400 invalidValue: a value has the wrong type or a required value is missing.
    #[error("{0}")]
    InvalidValue(String),
    /// 400 without a scimType: a malformed query parameter or similar.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing or wrong credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the client may not perform this operation on this resource.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource (or not visible to this client).
    #[error("{0}")]
    NotFound(String),
    /// 405: the endpoint does not support this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 412: an If-Match precondition failed.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: the request body is larger than the documented limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the request body is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: a server fault; the detail never contains internals.
    #[error("{0}")]
    Internal(String),
    /// 503: the server is shutting down or overloaded; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// 429: over a rate limit (RFC 6585 §4); `retry_after` whole seconds go in `Retry-After`,
    /// which Okta and Entra honour before retrying.
    #[error("{detail}")]
    TooManyRequests { detail: String, retry_after: u64 },
}

impl ScimError {
    pub fn status(&self) -> u16 {
        use ScimError::*;
        match self {
            InvalidFilter(_) | InvalidCursor(_) | ExpiredCursor(_) | TooMany(_) | Mutability(_)
            | InvalidSyntax(_) | InvalidPath(_) | NoTarget(_) | InvalidValue(_) | BadRequest(_) => {
                400
            }
            Unauthorized(_) => 401,
            Forbidden(_) => 403,
            NotFound(_) => 404,
            MethodNotAllowed(_) => 405,
            Uniqueness(_) => 409,
            PreconditionFailed(_) => 412,
            PayloadTooLarge(_) => 413,
            UnsupportedMediaType(_) => 415,
            Internal(_) => 500,
            Unavailable(_) => 503,
            TooManyRequests { .. } => 429,
        }
    }

    /// The `scimType` keyword of RFC 7644 §3.12 Table 9, where one applies.
    pub fn scim_type(&self) -> Option<&'static str> {
        use ScimError::*;
        Some(match self {
            InvalidFilter(_) => "invalidFilter",
            InvalidCursor(_) => "invalidCursor",
            ExpiredCursor(_) => "expiredCursor",
            TooMany(_) => "tooMany",
            Uniqueness(_) => "uniqueness",
            Mutability(_) => "mutability",
            InvalidSyntax(_) => "invalidSyntax",
            InvalidPath(_) => "invalidPath",
            NoTarget(_) => "noTarget",
            InvalidValue(_) => "invalidValue",
            _ => return None,
        })
    }

    pub fn detail(&self) -> &str {
        use ScimError::*;
        match self {
            InvalidFilter(d)
            | InvalidCursor(d)
            | ExpiredCursor(d)
            | TooMany(d)
            | Uniqueness(d)
            | Mutability(d)
            | InvalidSyntax(d)
            | InvalidPath(d)
            | NoTarget(d)
            | InvalidValue(d)
            | BadRequest(d)
            | Unauthorized(d)
            | Forbidden(d)
            | NotFound(d)
            | MethodNotAllowed(d)
            | PreconditionFailed(d)
            | PayloadTooLarge(d)
            | UnsupportedMediaType(d)
            | Internal(d)
            | Unavailable(d)
            | TooManyRequests { detail: d, .. } => d,
        }
    }

    /// The error body. `status` is a string, as RFC 7644 §3.12 and Okta's spec test expect.
    pub fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
        });
        if let Some(t) = self.scim_type() {
            body["scimType"] = Value::String(t.to_owned());
        }
        body["detail"] = Value::String(self.detail().to_owned());
        body
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn body_has_string_status_and_type() {
        let e = ScimError::Uniqueness("userName 'a' is already taken".into());
        let b = e.to_json();
        assert_eq!(b["status"], "409");
        assert_eq!(b["scimType"], "uniqueness");
        assert_eq!(b["schemas"][0], ERROR_SCHEMA);
        let nf = ScimError::NotFound("no".into()).to_json();
        assert!(nf.get("scimType").is_none());
        assert_eq!(nf["status"], "404");
    }
}
