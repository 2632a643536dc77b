//! The request id (issue 16 item 5): twelve hex characters made for each request, returned in
//! the `X-Request-Id` response header of every response, written at the end of its access-log
//! line (`web::access_log`) and shown on the admin error page, so that an operator handed a
//! page or a header finds the log lines of that request. Never taken from the client: a
//! client-chosen id could forge or hide log lines.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// The response header that carries the id.
pub const HEADER: &str = "x-request-id";

/// One request's id; also in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    fn new() -> Self {
        let mut id = uuid::Uuid::new_v4().simple().to_string();
        id.truncate(12);
        RequestId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

tokio::task_local! {
    /// The id of the request whose handler runs in this task: `ResponseError::error_response`
    /// is given no request, so the error pages read the id from here.
    static CURRENT: RequestId;
}

/// The id of the request being answered; a fresh one outside a request (a test calling a
/// handler directly), so that an error page always shows some id.
pub fn current() -> RequestId {
    CURRENT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| RequestId::new())
}

/// Middleware: makes the id, runs the rest of the app with it, and adds the header to the
/// response. An error of inner middleware is rendered here, inside the id's scope, so that its
/// page and header show this id too.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = RequestId::new();
    req.extensions_mut().insert(id.clone());
    let value = HeaderValue::from_str(id.as_str()).ok();
    let header = HeaderName::from_static(HEADER);
    let result = CURRENT.scope(id.clone(), next.call(req)).await;
    match result {
        Ok(mut res) => {
            if let Some(v) = value {
                res.headers_mut().insert(header, v);
            }
            Ok(res)
        }
        Err(e) => {
            let mut page = CURRENT.sync_scope(id, || e.error_response());
            if let Some(v) = value {
                page.headers_mut().insert(header, v);
            }
            Err(InternalError::from_response(e, page).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_twelve_hex_characters_and_differ() {
        let (a, b) = (RequestId::new(), RequestId::new());
        assert_eq!(a.as_str().len(), 12);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
