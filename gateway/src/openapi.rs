//! `GET /openapi.json`: one document merging the services' own (fetched from a healthy instance
//! of each, cached briefly), and `GET /docs`: Swagger UI over it, served offline (poem-openapi
//! bundles the UI) under a strict content security policy.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Html},
};
use poem_openapi::OpenApiService;
use serde_json::{Map, Value, json};
use tokio::sync::RwLock;

use crate::{routes::Upstream, upstreams::Upstreams};

/// How long a merged document is served before the services are asked again.
const CACHE_FOR: Duration = Duration::from_secs(30);

/// The docs page runs inline script and style only; it talks to nothing but this origin.
const DOCS_CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Builds and caches the merged document.
#[derive(Clone)]
pub struct Docs {
    upstreams: Upstreams,
    http: reqwest::Client,
    cache: Arc<RwLock<Option<(Instant, Value)>>>,
}

impl Docs {
    pub fn new(upstreams: Upstreams) -> Self {
        Self {
            upstreams,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            cache: Arc::new(RwLock::new(None)),
        }
    }

    /// The merged document, from cache when fresh.
    pub async fn document(&self) -> Value {
        if let Some((at, doc)) = self.cache.read().await.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return doc.clone();
        }
        let doc = self.merge().await;
        *self.cache.write().await = Some((Instant::now(), doc.clone()));
        doc
    }

    async fn merge(&self) -> Value {
        let mut merged = json!({
            "openapi": "3.0.0",
            "info": {
                "title": "eventpost API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Every service's API, through the gateway.",
            },
            "servers": [{ "url": "/" }],
            "paths": {},
            "components": { "schemas": {}, "securitySchemes": {} },
            "tags": [],
        });
        let mut missing = Vec::new();
        for upstream in Upstream::APIS {
            match self.fetch(upstream).await {
                Some(doc) => absorb(&mut merged, &doc),
                None => missing.push(upstream.name()),
            }
        }
        if !missing.is_empty() {
            merged["info"]["description"] = Value::String(format!(
                "Every service's API, through the gateway. Not answering now: {}.",
                missing.join(", ")
            ));
        }
        merged
    }

    async fn fetch(&self, upstream: Upstream) -> Option<Value> {
        let instance = self.upstreams.pool(upstream).pick()?;
        let url = instance.base.join("openapi.json").ok()?;
        let response = self.http.get(url).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }
}

/// Adds a service's paths, schemas, security schemes and tags to the merged document.
fn absorb(merged: &mut Value, doc: &Value) {
    extend(&mut merged["paths"], &doc["paths"]);
    for section in ["schemas", "securitySchemes"] {
        extend(
            &mut merged["components"][section],
            &doc["components"][section],
        );
    }
    if let (Some(tags), Some(new)) = (merged["tags"].as_array_mut(), doc["tags"].as_array()) {
        for tag in new {
            if !tags.iter().any(|t| t["name"] == tag["name"]) {
                tags.push(tag.clone());
            }
        }
    }
}

fn extend(into: &mut Value, from: &Value) {
    let Some(from) = from.as_object() else {
        return;
    };
    if !into.is_object() {
        *into = Value::Object(Map::new());
    }
    if let Some(into) = into.as_object_mut() {
        into.extend(from.clone());
    }
}

#[handler]
pub async fn openapi_json(docs: Data<&Docs>) -> poem::web::Json<Value> {
    poem::web::Json(docs.document().await)
}

/// Swagger UI with the merged document embedded.
pub struct DocsPage {
    pub docs: Docs,
}

impl Endpoint for DocsPage {
    type Output = Response;

    async fn call(&self, _req: Request) -> poem::Result<Response> {
        let merged = self.docs.document().await.to_string();
        // poem-openapi renders the UI only around a document of its own; render it around an
        // empty one and put the merged document in its place.
        let stub = OpenApiService::new((), "eventpost API", env!("CARGO_PKG_VERSION"));
        let html = stub.swagger_ui_html().replacen(&stub.spec(), &merged, 1);
        Ok(Html(html)
            .with_header(header::CONTENT_SECURITY_POLICY, DOCS_CSP)
            .with_status(StatusCode::OK)
            .into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_merged_by_path_schema_and_tag() {
        let mut merged = json!({ "paths": {}, "components": { "schemas": {}, "securitySchemes": {} }, "tags": [] });
        absorb(
            &mut merged,
            &json!({
                "paths": { "/api/v1/users": {} },
                "components": { "schemas": { "Problem": {} }, "securitySchemes": { "BearerAuth": {} } },
                "tags": [{ "name": "Users" }],
            }),
        );
        absorb(
            &mut merged,
            &json!({
                "paths": { "/api/v1/events": {} },
                "components": { "schemas": { "Problem": {}, "EventOut": {} } },
                "tags": [{ "name": "Users" }, { "name": "Events" }],
            }),
        );
        let mut paths: Vec<_> = merged["paths"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        paths.sort();
        assert_eq!(paths, ["/api/v1/events", "/api/v1/users"]);
        assert_eq!(
            merged["components"]["schemas"].as_object().unwrap().len(),
            2
        );
        assert_eq!(
            merged["tags"],
            json!([{ "name": "Users" }, { "name": "Events" }])
        );
    }
}
