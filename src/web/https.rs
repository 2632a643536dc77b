//! HTTPS around every route, when the appliance serves TLS itself: each connection is marked
//! TLS or plain as it is accepted ([`on_connect`]); requests on a plain connection (the
//! `tls.redirect_listen` listener) get a redirect to HTTPS and nothing else; responses on TLS
//! connections carry `Strict-Transport-Security`.
//!
//! No request header decides the scheme: `X-Forwarded-Proto` and `Forwarded` are ignored
//! (behind a reverse proxy, `server.public_url` says what clients use).

use std::any::Any;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Extensions, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

/// One year; browsers then refuse plain HTTP to this host for that long. No
/// `includeSubDomains`: other hosts of the domain are not ours to decide for.
pub const HSTS: &str = "max-age=31536000";

/// How a connection reached us, set by [`on_connect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

/// For `HttpServer::on_connect`: actix hands over the raw socket for plain listeners and the
/// rustls stream for TLS listeners.
pub fn on_connect(conn: &dyn Any, ext: &mut Extensions) {
    if conn.is::<actix_web::rt::net::TcpStream>() {
        ext.insert(Transport::Plain);
    } else {
        ext.insert(Transport::Tls);
    }
}

/// Present (as app data) only when the appliance serves TLS itself.
#[derive(Debug, Clone)]
pub struct HttpsPolicy {
    /// `server.public_url` when set: redirects go there.
    pub public_url: Option<String>,
    /// The HTTPS port, for redirects built from the request's Host when no public URL is set.
    pub tls_port: u16,
}

impl HttpsPolicy {
    /// Where a plain request for `path_and_query` is sent; `None` when neither the public
    /// URL nor a usable `Host` header gives a host.
    pub fn location(&self, host_header: Option<&str>, path_and_query: &str) -> Option<String> {
        if let Some(base) = &self.public_url {
            return Some(format!("{base}{path_and_query}"));
        }
        let host = host_only(host_header?)?;
        if self.tls_port == 443 {
            Some(format!("https://{host}{path_and_query}"))
        } else {
            Some(format!("https://{host}:{}{path_and_query}", self.tls_port))
        }
    }
}

/// The host of a `Host` header without its port, if it is a plausible host name or IP
/// literal (anything else would let a request write arbitrary text into `Location`).
fn host_only(h: &str) -> Option<&str> {
    let host = if h.starts_with('[') {
        &h[..=h.find(']')?]
    } else {
        h.split(':').next()?
    };
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.[]:".contains(&b));
    ok.then_some(host)
}

/// The middleware (`middleware::from_fn(https::enforce)`).
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(policy) = req.app_data::<web::Data<HttpsPolicy>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let transport = req.conn_data::<Transport>().copied();
    if transport != Some(Transport::Tls) {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let pq = req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let res = match policy.location(host.as_deref(), &pq) {
            // 308 keeps the method and body, so a POST is repeated as a POST over HTTPS.
            Some(loc) => HttpResponse::PermanentRedirect()
                .insert_header((header::LOCATION, loc))
                .content_type("text/plain; charset=utf-8")
                .body("This address only redirects to HTTPS.\n"),
            None => HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body("Use HTTPS.\n"),
        };
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    res.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations() {
        let p = HttpsPolicy {
            public_url: None,
            tls_port: 443,
        };
        assert_eq!(
            p.location(Some("mfa.example.com"), "/a?b=c").as_deref(),
            Some("https://mfa.example.com/a?b=c")
        );
        assert_eq!(
            p.location(Some("mfa.example.com:80"), "/").as_deref(),
            Some("https://mfa.example.com/")
        );
        assert_eq!(
            p.location(Some("[::1]:80"), "/").as_deref(),
            Some("https://[::1]/")
        );
        assert_eq!(p.location(Some("evil.com/x"), "/"), None);
        assert_eq!(p.location(Some("a b"), "/"), None);
        assert_eq!(p.location(None, "/"), None);
        let p = HttpsPolicy {
            public_url: None,
            tls_port: 8443,
        };
        assert_eq!(
            p.location(Some("localhost:8080"), "/healthz").as_deref(),
            Some("https://localhost:8443/healthz")
        );
        let p = HttpsPolicy {
            public_url: Some("https://mfa.example.com".into()),
            tls_port: 8443,
        };
        assert_eq!(
            p.location(Some("10.0.0.5"), "/x").as_deref(),
            Some("https://mfa.example.com/x")
        );
    }
}
