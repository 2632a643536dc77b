//! The request log (`scimgate::http`): one line per request (issue 16 item 5), with every
//! secret a path carries masked. A path parameter that holds a secret (a one-time link, a
//! setup link) is named `{token}` where its route is declared; the log writes its first four
//! characters and `…`, whatever the route. Headers (`Authorization`, cookies) and bodies are never logged.
//! Requests that match no route are written with the whole path: no secret route is unmatched,
//! since each `{token}` route matches any value.

use actix_web::HttpRequest;

use crate::web::observe::Facts;
use crate::web::request_id::RequestId;

/// The target of the access lines.
pub const TARGET: &str = "scimgate::http";
/// The name a route gives a path parameter that carries a secret.
pub const SECRET_PARAM: &str = "token";
/// How many characters of a secret the log keeps: enough to tell two links apart, far too few
/// to use one (a link token carries 256 random bits).
const KEPT: usize = 4;

/// Writes the access line of one answered request (called by `web::observe`): a readable
/// message (`GET /enroll/bU1m…/confirm 200 3.1ms`: the masked path and query, status, latency)
/// and the same facts as separate fields, which the JSON format writes as members of the
/// line's object: `request_id`, `integration` (SCIM requests whose token was accepted),
/// `surface`, `method`, `route` (the template), `status`, `latency_ms`, `client` (`web::limits`:
/// the peer, or the forwarded address when the peer is a trusted proxy). `req` is `None` for
/// an error that escaped the app: then no path is written, since nothing says which segment
/// might be a secret.
pub fn write(facts: &Facts, id: &RequestId, client: &str, req: Option<&HttpRequest>) {
    let latency_ms = (facts.latency_secs * 1_000_000.0).round() / 1000.0;
    let target = match req {
        Some(req) => {
            let path = masked_path(req.path(), req.match_info().get(SECRET_PARAM));
            let query = req.query_string();
            let sep = if query.is_empty() { "" } else { "?" };
            format!("{} {path}{sep}{query}", req.method())
        }
        None => format!("{} -", facts.method),
    };
    tracing::info!(
        target: TARGET,
        // Display (`%`): unquoted in the text format, strings in the JSON one.
        request_id = %id.as_str(),
        integration = facts.integration.as_deref().map(tracing::field::display),
        surface = %facts.surface,
        method = %facts.method,
        route = %facts.route,
        status = facts.status,
        latency_ms,
        client = %client,
        "{target} {} {latency_ms}ms",
        facts.status,
    );
}

/// `path` with each occurrence of `secret` (a matched `{token}` parameter, which the router
/// has percent-decoded) and of its percent-encoded form cut to [`KEPT`] characters.
pub fn masked_path(path: &str, secret: Option<&str>) -> String {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return path.to_owned();
    };
    let mask = |s: &str| {
        let kept: String = s.chars().take(KEPT).collect();
        format!("{kept}…")
    };
    path.split('/')
        .map(|seg| {
            let decoded = percent_decoded(seg);
            if seg == secret || decoded.as_deref() == Some(secret) {
                mask(seg)
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A path segment percent-decoded, when it has escapes and decodes to UTF-8.
fn percent_decoded(seg: &str) -> Option<String> {
    if !seg.contains('%') {
        return None;
    }
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = seg
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_token_segment_only() {
        let t = "bU1mXk3q9Zr7Yw2PZ0aLq8cVn4TgHs6eKj5dRf1uMoI";
        assert_eq!(
            masked_path(&format!("/enroll/{t}/confirm"), Some(t)),
            "/enroll/bU1m…/confirm"
        );
        assert_eq!(
            masked_path(&format!("/admin/setup/{t}"), Some(t)),
            "/admin/setup/bU1m…"
        );
        assert_eq!(masked_path("/admin/users/42", None), "/admin/users/42");
        // Percent-encoded in the request, decoded by the router.
        assert_eq!(
            masked_path("/enroll/a%2Fb%20cdef", Some("a/b cdef")),
            "/enroll/a%2F…"
        );
        // A short or odd token is still cut.
        assert_eq!(masked_path("/enroll/ab", Some("ab")), "/enroll/ab…");
    }
}
