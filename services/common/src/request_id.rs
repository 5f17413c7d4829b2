//! Request ids: taken from `X-Request-Id` when it is well-formed, generated otherwise, echoed on
//! every response, present in every log line (through a span) and every problem body and AMQP
//! message caused by the request (through a task-local).
//!
//! [`RequestContext`] is the outermost middleware of every service. Because it sees every error
//! before poem would render it as text, it is also where errors become problem+json.

use std::{fmt, sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, Middleware, PathPattern, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use tracing::Instrument;

use crate::{problem::problem_from_poem_error, routes};

/// The header that carries the id, in and out.
pub const HEADER: &str = "x-request-id";

/// Longest id accepted from a client.
pub const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// A request id: 1 to 64 characters of `[A-Za-z0-9._:-]`, so it is safe in headers and logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string().into())
    }

    /// Accepts a client-supplied id only when it is well-formed.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = (1..=MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        well_formed.then(|| Self(raw.into()))
    }

    /// The id of the request (or message) this task is handling, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// Runs `work` with `self` as the current id.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `request` with the current request id (if any) in [`HEADER`], so that a call to another
/// service joins the request that caused it.
pub fn propagate(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match RequestId::current() {
        Some(id) => request.header(HEADER, id.as_str()),
        None => request,
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Middleware: request id, request span and access log, problem+json for every error.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestContext;

impl<E: Endpoint> Middleware<E> for RequestContext {
    type Output = RequestContextEndpoint<E>;

    fn transform(&self, next: E) -> Self::Output {
        RequestContextEndpoint { next }
    }
}

/// The endpoint [`RequestContext`] wraps around a route.
pub struct RequestContextEndpoint<E> {
    next: E,
}

impl<E: Endpoint> Endpoint for RequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let id = req
            .header(HEADER)
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %req.method(),
            path = %req.uri().path(),
        );
        let started = Instant::now();
        // A clone shares the URI's bytes: nothing is copied for the rare 405.
        let uri = req.uri().clone();
        let handled = async {
            let mut response = match self.next.call(req).await {
                Ok(output) => output.into_response(),
                Err(err) => {
                    // Keep the matched route for the metrics middleware outside this one.
                    let pattern = err.data::<PathPattern>().map(|p| PathPattern(p.0.clone()));
                    let mut response = problem_from_poem_error(err);
                    if let Some(pattern) = pattern {
                        response.set_data(pattern);
                    }
                    response
                }
            };
            tracing::info!(
                status = response.status().as_u16(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "request handled"
            );
            if let Ok(value) = HeaderValue::from_str(id.as_str()) {
                response.headers_mut().insert(HEADER, value);
            }
            if response.status() == StatusCode::METHOD_NOT_ALLOWED
                && !response.headers().contains_key(header::ALLOW)
                && let Some(allow) = routes::allowed(uri.path())
                && let Ok(value) = HeaderValue::from_str(&allow)
            {
                response.headers_mut().insert(header::ALLOW, value);
            }
            response
        };
        Ok(id.clone().scope(handled.instrument(span)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_made_for_a_request_carries_its_id_and_one_made_for_none_carries_none() {
        let client = reqwest::Client::new();
        let call = || propagate(client.get("http://127.0.0.1:9/")).build();
        let id = RequestId::parse("trace-me-7").expect("well-formed");
        let within = id.scope(async { call() }).await.expect("a request builds");
        assert_eq!(within.headers()[HEADER], "trace-me-7");
        let outside = call().expect("a request builds");
        assert!(outside.headers().get(HEADER).is_none());
    }

    #[test]
    fn well_formed_ids_are_kept() {
        for raw in ["abc", "4f0c-11:ab.cd_ef", &"x".repeat(MAX_LEN)] {
            assert_eq!(
                RequestId::parse(raw).map(|id| id.to_string()).as_deref(),
                Some(raw)
            );
        }
    }

    #[test]
    fn malformed_ids_are_refused() {
        for raw in [
            "",
            "has space",
            "new\nline",
            "ünïcode",
            "a/b",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert!(RequestId::parse(raw).is_none(), "{raw:?} accepted");
        }
    }

    #[test]
    fn generated_ids_are_well_formed_and_distinct() {
        let (a, b) = (RequestId::generate(), RequestId::generate());
        assert_ne!(a, b);
        assert!(RequestId::parse(a.as_str()).is_some());
    }

    #[tokio::test]
    async fn the_current_id_is_visible_inside_its_scope_only() {
        let id = RequestId::generate();
        let seen = id.clone().scope(async { RequestId::current() }).await;
        assert_eq!(seen, Some(id));
        assert_eq!(RequestId::current(), None);
    }
}
