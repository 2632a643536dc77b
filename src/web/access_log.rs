//! The request log (`scimgate::http`): one line per request, with every secret a path carries
//! masked. A path parameter that holds a secret (a one-time link, a setup link) is named
//! `{token}` where its route is declared; the log writes its first four characters and `…`,
//! whatever the route. Headers (`Authorization`, cookies) and bodies are never logged.
//! Requests that match no route are written with the whole path: no secret route is unmatched,
//! since each `{token}` route matches any value.

use actix_web::dev::ServiceResponse;
use actix_web::middleware::Logger;

/// The name a route gives a path parameter that carries a secret.
pub const SECRET_PARAM: &str = "token";
/// How many characters of a secret the log keeps: enough to tell two links apart, far too few
/// to use one (a link token carries 256 random bits).
const KEPT: usize = 4;

/// The request logger: client address (`web::limits`: the peer, or the forwarded address
/// when the peer is a trusted proxy), the masked request line, status, size, latency, and the
/// request id (`web::request_id`, read from the response's `X-Request-Id`).
pub fn logger() -> Logger {
    Logger::new("%{client}xi \"%{request}xo\" %s %b %Dms id=%{x-request-id}o")
        .log_target("scimgate::http")
        .custom_request_replace("client", client)
        .custom_response_replace("request", request_line)
}

fn client(req: &actix_web::dev::ServiceRequest) -> String {
    match req.app_data::<actix_web::web::Data<crate::web::AppState>>() {
        Some(state) => state.limits.client_of_service(req).to_string(),
        None => req
            .peer_addr()
            .map_or_else(|| "-".to_owned(), |a| a.ip().to_string()),
    }
}

fn request_line(res: &ServiceResponse) -> String {
    let req = res.request();
    let path = masked_path(req.path(), req.match_info().get(SECRET_PARAM));
    let query = req.query_string();
    let sep = if query.is_empty() { "" } else { "?" };
    format!("{} {path}{sep}{query} {:?}", req.method(), req.version())
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
