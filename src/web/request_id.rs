//! The request id (issue 16 item 5): twelve hex characters made for each request, returned in
//! the `X-Request-Id` response header of every response, carried by every log line written
//! while the request is handled (the `request` span of `web::observe`) and by its access-log
//! line (`web::access_log`), and shown on the admin and enrollment error pages, so that an
//! operator handed a page or a header finds the log lines of that request. Never taken from
//! the client: a client-chosen id could forge or hide log lines.

/// The response header that carries the id.
pub const HEADER: &str = "x-request-id";

/// One request's id; also in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    pub(crate) fn new() -> Self {
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

/// Runs `fut` (the rest of the app, in `web::observe`) with `id` as the current request's id.
pub(crate) async fn scope<F: std::future::Future>(id: RequestId, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// Runs `f` (rendering an error page) with `id` as the current request's id.
pub(crate) fn sync_scope<R>(id: RequestId, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(id, f)
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
