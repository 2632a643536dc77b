//! The one middleware around every request of the main listener (issue 16 items 2 and 5): it
//! makes the request id (`web::request_id`), runs the rest of the app inside a tracing span
//! that carries it (so every log line written while the request is handled names it), then
//! reads once what happened ([`Facts`]: surface, method, route template, status, integration,
//! latency) and hands the same facts to the Prometheus metrics (`web::metrics`) and to the
//! access log (`web::access_log`), so the two never disagree on a route or an integration.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use tracing::Instrument;

use crate::directory::integration::Integration;
use crate::web::AppState;
use crate::web::access_log;
use crate::web::request_id::{self, RequestId};

/// What one answered request was, for the metrics and the access log.
#[derive(Debug, Clone)]
pub struct Facts {
    /// scim, admin, verify, enroll or other (from the route template).
    pub surface: &'static str,
    /// The method, or "OTHER" for a token outside the standard set (a label must stay bounded).
    pub method: &'static str,
    /// The matched route template (`/scim/v2/{iid}/Users/{id}`), or "unmatched": never the raw
    /// path, which can hold anything (a one-time link token, an id).
    pub route: String,
    pub status: u16,
    /// The name of the integration whose API token was accepted; SCIM requests only.
    pub integration: Option<String>,
    pub latency_secs: f64,
}

/// Which part of the appliance a route template belongs to.
pub fn surface(route: Option<&str>) -> &'static str {
    match route {
        Some(r) if r.starts_with("/scim/") => "scim",
        Some(r) if r == "/admin" || r.starts_with("/admin/") => "admin",
        Some(r) if r.starts_with("/api/v1/verify") => "verify",
        Some(r) if r == "/enroll" || r.starts_with("/enroll/") => "enroll",
        _ => "other",
    }
}

fn method_label(m: &actix_web::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The middleware (wrapped outermost in `app.rs`). An error of inner middleware is rendered
/// here, inside the id's scope, so that its page and header show this id too.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let start = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let id = RequestId::new();
    let client = match &state {
        Some(s) => s.limits.client_of_service(&req).to_string(),
        None => req
            .peer_addr()
            .map_or_else(|| "-".to_owned(), |a| a.ip().to_string()),
    };
    let method = method_label(req.method());
    let span = tracing::info_span!("request", request_id = %id.as_str());
    // The request is not cloned before the call: the router needs it uniquely owned.
    let result = request_id::scope(id.clone(), next.call(req))
        .instrument(span.clone())
        .await;
    let latency_secs = start.elapsed().as_secs_f64();
    let header = HeaderName::from_static(request_id::HEADER);
    let value = HeaderValue::from_str(id.as_str()).ok();
    match result {
        Ok(mut res) => {
            let req = res.request();
            let pattern = req.match_pattern();
            let surface = surface(pattern.as_deref());
            let integration = match surface {
                "scim" => req
                    .extensions()
                    .get::<Integration>()
                    .map(|i| i.name.clone()),
                _ => None,
            };
            let facts = Facts {
                surface,
                method,
                route: pattern.unwrap_or_else(|| "unmatched".to_owned()),
                status: res.status().as_u16(),
                integration,
                latency_secs,
            };
            record(
                state.as_ref().map(|s| s.get_ref()),
                &facts,
                &id,
                &client,
                Some(req),
            );
            if let Some(v) = value {
                res.headers_mut().insert(header, v);
            }
            Ok(res)
        }
        Err(e) => {
            // An error that escaped every handler (they answer their own errors): no route,
            // and no path either (it is unknown whether a secret is in it).
            let mut page =
                span.in_scope(|| request_id::sync_scope(id.clone(), || e.error_response()));
            let facts = Facts {
                surface: "other",
                method,
                route: "unmatched".to_owned(),
                status: page.status().as_u16(),
                integration: None,
                latency_secs,
            };
            record(
                state.as_ref().map(|s| s.get_ref()),
                &facts,
                &id,
                &client,
                None,
            );
            if let Some(v) = value {
                page.headers_mut().insert(header, v);
            }
            Err(InternalError::from_response(e, page).into())
        }
    }
}

/// Hands one request's facts to the metrics and to the access log.
fn record(
    state: Option<&AppState>,
    facts: &Facts,
    id: &RequestId,
    client: &str,
    req: Option<&actix_web::HttpRequest>,
) {
    if let Some(s) = state {
        s.metrics.request(facts);
    }
    access_log::write(facts, id, client, req);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_come_from_route_templates() {
        assert_eq!(surface(Some("/scim/v2/{iid}/Users/{id}")), "scim");
        assert_eq!(surface(Some("/admin/users/{id}")), "admin");
        assert_eq!(surface(Some("/administrators")), "other");
        assert_eq!(surface(Some("/api/v1/verify")), "verify");
        assert_eq!(surface(Some("/enroll/{token}")), "enroll");
        assert_eq!(surface(Some("/healthz")), "other");
        assert_eq!(surface(None), "other");
    }
}
