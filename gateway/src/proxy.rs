//! Forwarding: every request that is not the gateway's own goes to an instance of the service
//! its path belongs to, with its method, path, query, headers (less hop-by-hop and identity
//! headers) and body streamed, and the answer streamed back the same way. Services verify the
//! access token themselves; the gateway checks it first so a bad one never reaches them.

use std::{net::IpAddr, sync::Arc, time::Instant};

use common::{
    ApiError,
    auth::JwksVerifier,
    client_address::{self, TrustedProxies},
    request_id::RequestId,
    routes::{self as operations, Access},
};
use futures::{StreamExt, TryStreamExt};
use poem::{
    Body, Endpoint, Request, Response,
    http::{HeaderMap, HeaderName, HeaderValue, header},
    web::RemoteAddr,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts};

use crate::{
    limits::RateLimits,
    routes::{self, Upstream},
    upstreams::{Instance, Upstreams},
};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus `host`.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Headers that speak for the client: the identity headers an earlier version of the gateway
/// set (no service reads them) and the client's address (which the gateway sets itself). A
/// client must never seem to set them for a service, so they are dropped from every request.
pub const IDENTITY_HEADERS: [&str; 3] = ["x-user-id", "x-user-roles", client_address::HEADER];

/// Upstream traffic by service, instance and status, and upstream latency.
#[derive(Clone)]
pub struct ProxyMetrics {
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl ProxyMetrics {
    pub fn register(registry: &prometheus::Registry) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new("gateway_upstream_requests_total", "Requests forwarded"),
            // `service` is the registry's own label (gateway); the one behind is the target.
            &["target", "instance", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "gateway_upstream_duration_seconds",
                "Time until an upstream's response headers arrived",
            ),
            &["target"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self { requests, latency })
    }
}

/// Two years, subdomains included: what browsers' preload lists ask for.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The forwarding endpoint.
pub struct Proxy {
    pub upstreams: Upstreams,
    /// The proxies in front of the gateway whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
    pub http: reqwest::Client,
    pub verifier: Arc<JwksVerifier>,
    pub limits: Arc<RateLimits>,
    pub max_body_bytes: usize,
    pub timeout: std::time::Duration,
    pub metrics: ProxyMetrics,
}

impl Endpoint for Proxy {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        Ok(self.handle(req).await?)
    }
}

impl Proxy {
    async fn handle(&self, req: Request) -> Result<Response, ApiError> {
        let path = req.uri().path().to_owned();
        if let Some(why) = routes::path_problem(req.original_uri().path()) {
            return Err(ApiError::BadRequest {
                detail: why.into(),
                field: None,
            });
        }
        let upstream = routes::upstream_for(&path).ok_or(ApiError::NotFound("route"))?;
        let origin = self.origin_of(&req);
        let over_tls = origin.is_some_and(|origin| origin.over_tls);
        if let Some(origin) = origin {
            self.limits
                .check_client(origin.client, path == "/api/v1/auth/token")?;
        }
        if upstream != Upstream::Web && operations::access(req.method(), &path) != Access::Public {
            let claims = self.authenticate(&req).await?;
            self.limits.check_user(claims.sub)?;
        }
        if let Some(length) = content_length(req.headers())
            && length > self.max_body_bytes
        {
            return Err(ApiError::PayloadTooLarge);
        }
        let mut response = self.forward(upstream, req, origin).await?;
        if over_tls {
            // Browsers that came once over HTTPS come only over HTTPS from then on.
            response.headers_mut().insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            );
        }
        Ok(response)
    }

    async fn authenticate(&self, req: &Request) -> Result<common::auth::Claims, ApiError> {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::Unauthorized("a valid bearer token is required".into()))?;
        Ok(self.verifier.verify(token.trim()).await?)
    }

    async fn forward(
        &self,
        upstream: Upstream,
        req: Request,
        origin: Option<Origin>,
    ) -> Result<Response, ApiError> {
        let pool = self.upstreams.pool(upstream);
        let unavailable = || ApiError::Unavailable {
            dependency: upstream.name(),
            source: anyhow::anyhow!("no healthy instance of {}", upstream.name()),
        };
        let headers = outgoing_headers(req.headers(), origin);
        let method = req.method().clone();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        // Read whole, within the limit, whether its length was declared or not (chunked): an
        // oversized body is refused here, and a request can be sent again to another instance
        // when a connection is refused (nothing reached the service).
        let body = self.read_limited(req.into_body()).await?;
        // Each instance is tried at most once: with every one down, the answer is a 503.
        for _ in 0..pool.instance_count() {
            let instance = pool.pick().ok_or_else(unavailable)?;
            match self
                .send(
                    upstream,
                    &instance,
                    &method,
                    &path_and_query,
                    &headers,
                    reqwest::Body::from(body.clone()),
                )
                .await
            {
                Err(SendError::Connect(err)) => {
                    tracing::warn!(error = %err, instance = %instance.base, "instance unreachable; trying another");
                    instance.eject();
                }
                Err(SendError::Api(err)) => return Err(err),
                Ok(response) => return Ok(response),
            }
        }
        Err(unavailable())
    }

    async fn send(
        &self,
        upstream: Upstream,
        instance: &Instance,
        method: &poem::http::Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: reqwest::Body,
    ) -> Result<Response, SendError> {
        let url = instance
            .base
            .join(path_and_query.trim_start_matches('/'))
            .map_err(|e| SendError::Api(ApiError::Internal(e.into())))?;
        let started = Instant::now();
        let request = self
            .http
            .request(method.clone(), url)
            .headers(headers.clone())
            .body(body)
            .send();
        let outcome = tokio::time::timeout(self.timeout, request).await;
        let status = |s: &str| {
            self.metrics
                .requests
                .with_label_values(&[upstream.name(), instance.base.as_str(), s])
                .inc();
        };
        let response = match outcome {
            Err(_elapsed) => {
                status("timeout");
                return Err(SendError::Api(ApiError::GatewayTimeout));
            }
            Ok(Err(err)) if err.is_connect() => {
                status("unreachable");
                return Err(SendError::Connect(err));
            }
            Ok(Err(err)) => {
                status("error");
                return Err(SendError::Api(classify_send_error(err)));
            }
            Ok(Ok(response)) => response,
        };
        self.metrics
            .latency
            .with_label_values(&[upstream.name()])
            .observe(started.elapsed().as_secs_f64());
        status(response.status().as_str());
        Ok(incoming_response(response))
    }

    /// The client's body, read until it ends or exceeds the limit (413).
    async fn read_limited(&self, body: Body) -> Result<bytes::Bytes, ApiError> {
        let mut chunks = body.into_bytes_stream();
        let mut read = bytes::BytesMut::new();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|err| ApiError::BadRequest {
                detail: format!("the request body could not be read: {err}"),
                field: None,
            })?;
            if read.len() + chunk.len() > self.max_body_bytes {
                return Err(ApiError::PayloadTooLarge);
            }
            read.extend_from_slice(&chunk);
        }
        Ok(read.freeze())
    }
}

enum SendError {
    /// The instance could not be reached: eject it, maybe retry elsewhere.
    Connect(reqwest::Error),
    /// Answer the client with this.
    Api(ApiError),
}

fn classify_send_error(err: reqwest::Error) -> ApiError {
    if err.is_timeout() {
        return ApiError::GatewayTimeout;
    }
    tracing::warn!(error = %err, "upstream exchange failed");
    ApiError::BadGateway("the service's answer could not be read".into())
}

fn content_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Where a request came from.
#[derive(Clone, Copy, Debug)]
struct Origin {
    /// The connection's other end.
    peer: IpAddr,
    /// The client, the peer unless it is a trusted proxy.
    client: IpAddr,
    /// Whether the client came in over TLS: a trusted proxy (the load balancer, which
    /// terminates TLS) says so in `X-Forwarded-Proto`; anyone else's word is not taken.
    over_tls: bool,
}

impl Proxy {
    fn origin_of(&self, req: &Request) -> Option<Origin> {
        let RemoteAddr(poem::Addr::SocketAddr(peer)) = req.remote_addr() else {
            return None;
        };
        let client = self
            .trusted_proxies
            .client_behind(peer.ip(), forwarded_for(req.headers()));
        let over_tls = self.trusted_proxies.trusts(peer.ip())
            && req
                .headers()
                .get_all("x-forwarded-proto")
                .iter()
                .next_back()
                .and_then(|proto| proto.to_str().ok())
                .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        Some(Origin {
            peer: peer.ip(),
            client,
            over_tls,
        })
    }
}

/// Every `X-Forwarded-For` value, in order.
fn forwarded_for(headers: &HeaderMap) -> impl DoubleEndedIterator<Item = &str> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
}

/// The client's headers, less hop-by-hop and identity ones, plus forwarding: the peer added
/// to `X-Forwarded-For`, and the client's address, for the services, in a header only the
/// gateway sets.
fn outgoing_headers(incoming: &HeaderMap, origin: Option<Origin>) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(incoming.len() + 4);
    for (name, value) in incoming {
        let name_str = name.as_str();
        if HOP_BY_HOP.contains(&name_str) || IDENTITY_HEADERS.contains(&name_str) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    if let Some(Origin { peer, client, .. }) = origin {
        let hops: Vec<String> = forwarded_for(incoming)
            .map(str::to_owned)
            .chain([peer.to_string()])
            .collect();
        insert(&mut headers, "x-forwarded-for", &hops.join(", "));
        insert(&mut headers, client_address::HEADER, &client.to_string());
    }
    // How the client came in, as far as the gateway believes it (see `Origin::over_tls`).
    let over_tls = origin.is_some_and(|origin| origin.over_tls);
    insert(
        &mut headers,
        "x-forwarded-proto",
        if over_tls { "https" } else { "http" },
    );
    if let Some(id) = RequestId::current() {
        insert(&mut headers, common::request_id::HEADER, id.as_str());
    }
    headers
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

/// The upstream's answer, streamed, less hop-by-hop headers.
fn incoming_response(upstream: reqwest::Response) -> Response {
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) && name.as_str() != common::request_id::HEADER {
            response = response.header(name.clone(), value.clone());
        }
    }
    let stream = upstream.bytes_stream().map_err(std::io::Error::other);
    response.body(Body::from_bytes_stream(stream))
}
