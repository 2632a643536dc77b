//! Which answers are compressed. actix-web's `Compress` gzips every answer a client accepts
//! gzip for, and Okta sends `Accept-Encoding: gzip,deflate` on every request: a user, or a
//! `userName eq` lookup's one-user list (about 850–1,000 bytes), cost more CPU to compress than
//! everything else the request did (a new deflate state per answer), went out in chunks, and
//! saved nothing on the wire, since a body that fits one TCP segment takes one segment either
//! way. So bodies below [`MIN_COMPRESSED_BYTES`] are sent as they are: [`skip_small`] (inside
//! `Compress`) marks them `Content-Encoding: identity`, which `Compress` leaves alone, and
//! [`unmark`] (outside it) removes the mark, which RFC 9110 §8.4.1 keeps out of answers.
//! Larger and streamed bodies (lists, a large group) are compressed as before.

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;

/// The smallest body worth compressing: one TCP segment's payload on an Ethernet path
/// (MSS 1,460 bytes) less room for the answer's headers.
pub const MIN_COMPRESSED_BYTES: u64 = 1_400;

const IDENTITY: HeaderValue = HeaderValue::from_static("identity");

/// Marks a small, already complete body so that `Compress` sends it unencoded.
pub async fn skip_small(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if let BodySize::Sized(n) = res.response().body().size()
        && n < MIN_COMPRESSED_BYTES
        && !res.headers().contains_key(header::CONTENT_ENCODING)
    {
        res.headers_mut().insert(header::CONTENT_ENCODING, IDENTITY);
    }
    Ok(res)
}

/// Removes the mark [`skip_small`] set; any other `Content-Encoding` stays.
pub async fn unmark(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    if res.headers().get(header::CONTENT_ENCODING) == Some(&IDENTITY) {
        res.headers_mut().remove(header::CONTENT_ENCODING);
    }
    Ok(res)
}
