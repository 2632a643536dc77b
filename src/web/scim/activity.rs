//! Records every SCIM request for the Activity page: a middleware around the SCIM scope that
//! measures latency and takes the calling integration (set by the [`Caller`] extractor) and a
//! one-line note of what changed (set by the handlers; for errors, the error's own message).
//! Requests refused before authentication, or over the integration's rate limit, are counted
//! per minute instead (`directory::activity`, issue 14 item 2).
//!
//! [`Caller`]: crate::web::scim::extract::Caller

use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::directory::activity::{Entry, Refused};
use crate::directory::{Integration, IntegrationId};
use crate::web::AppState;
use crate::web::scim::extract::Refusal;

/// What a SCIM request changed, as a handler describes it (a response extension).
#[derive(Debug, Clone)]
pub struct Note {
    pub summary: String,
    pub user_id: Option<String>,
}

/// The body of a SCIM request as received (set by the `ScimBody` extractor); the Activity
/// log redacts secrets from it before it is written.
#[derive(Debug, Clone)]
pub struct RequestBody(pub actix_web::web::Bytes);

/// Attaches a note to a response.
pub fn note(res: &mut actix_web::HttpResponse, summary: String, user_id: Option<&str>) {
    res.extensions_mut().insert(Note {
        summary,
        user_id: user_id.map(str::to_owned),
    });
}

/// The longest path recorded.
const MAX_PATH: usize = 512;

pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().to_string();
    let mut path = req.path().to_owned();
    if !req.query_string().is_empty() {
        path.push('?');
        path.push_str(&percent_decode(req.query_string()));
    }
    let path = cut(path);
    // The integration named by the Base URL, even when its token is refused.
    let path_iid = req.match_info().get("iid").and_then(IntegrationId::parse);
    let base_url = match req.match_info().get("iid") {
        Some(iid) => cut(format!("/scim/v2/{iid}")),
        None => cut(req.path().to_owned()),
    };
    let client = state
        .as_ref()
        .map(|s| s.limits.client_of_service(&req).to_string());
    let res = next.call(req).await?;
    let Some(state) = state else { return Ok(res) };
    let caller = res.request().extensions().get::<Integration>().cloned();
    let refusal = res.request().extensions().get::<Refusal>().copied();
    let status = res.status().as_u16();
    // Refused before authentication (or over the integration's rate limit): counted in its
    // minute's row, not stored one by one (issue 14 item 2).
    let reason = match (refusal, &caller) {
        (Some(Refusal(r)), _) => Some(r.to_owned()),
        // A 401 without a refusal reason is an expired token: recorded as it is.
        (None, None) if status >= 400 && status != 401 => Some(match status {
            404 => "no such endpoint".to_owned(),
            405 => "method not allowed".to_owned(),
            s => format!("refused with {s} before authentication"),
        }),
        _ => None,
    };
    if let Some(reason) = reason {
        state.activity.record_refused(Refused {
            path: base_url,
            integration_id: caller
                .as_ref()
                .map(|i| i.id.as_str().to_owned())
                .or(path_iid.map(|id| id.as_str().to_owned())),
            method,
            reason,
            client: client.unwrap_or_else(|| "-".to_owned()),
            status,
        });
        return Ok(res);
    }
    let body = res
        .request()
        .extensions()
        .get::<RequestBody>()
        .map(|b| b.0.to_vec());
    // The path below the Base URL: `/scim/v2/{id}/Users/…` → `/Users/…`.
    let short = match &path_iid {
        Some(id) => path
            .strip_prefix(&format!("/scim/v2/{id}"))
            .unwrap_or(&path)
            .to_owned(),
        None => path,
    };
    let note = res.response().extensions().get::<Note>().cloned();
    let (summary, user_id) = match note {
        Some(n) => (n.summary, n.user_id),
        None => {
            let summary = match res.response().error() {
                Some(e) => e.to_string(),
                None => String::new(),
            };
            // A request on /Users/{id} touched that user, even when it failed.
            let user_id = short
                .strip_prefix("/Users/")
                .map(|rest| rest.split(['?', '/']).next().unwrap_or_default().to_owned())
                .filter(|id| !id.is_empty() && caller.is_some());
            (summary, user_id)
        }
    };
    let entry = Entry {
        integration_id: caller
            .as_ref()
            .map(|i| i.id.as_str().to_owned())
            .or(path_iid.map(|id| id.as_str().to_owned())),
        integration_name: caller.as_ref().map(|i| i.name.clone()),
        method,
        path: short,
        status,
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        summary,
        user_id,
        body,
        client,
    };
    if state.activity.record(entry) {
        let (activity, store) = (state.activity.clone(), state.directory.store().clone());
        actix_web::rt::spawn(async move {
            if let Err(e) = activity.flush(&store).await {
                tracing::warn!(error = %e, "could not write the activity log");
            }
        });
    }
    Ok(res)
}

/// `path` cut to [`MAX_PATH`] bytes (on a character boundary), with `…` when cut.
fn cut(mut path: String) -> String {
    if path.len() > MAX_PATH {
        let mut at = MAX_PATH;
        while !path.is_char_boundary(at) {
            at -= 1;
        }
        path.truncate(at);
        path.push('…');
    }
    path
}

/// Decodes `%XX` and `+` in a query string, for display (filters are easier to read).
fn percent_decode(q: &str) -> String {
    let bytes = q.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(q.get(i + 1..i + 3).unwrap_or("zz"), 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries_for_display() {
        assert_eq!(
            percent_decode("filter=userName+eq+%22a%40b%22"),
            "filter=userName eq \"a@b\""
        );
        assert_eq!(percent_decode("x=%zz%4"), "x=%zz%4");
    }
}
