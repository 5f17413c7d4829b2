//! The headers every answer carries: a strict content security policy (nothing but this
//! origin's own style sheet and script file; no inline script, no frames, forms only to this
//! origin). Pages also say
//! `Cache-Control: no-store` (see `pages::Visitor::render`): they may show a signed-in
//! visitor's data.

use poem::{Endpoint, EndpointExt, middleware::SetHeader};

/// The content security policy of every page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// `endpoint` with the security headers on every response.
pub fn with_headers(endpoint: impl Endpoint + 'static) -> impl Endpoint + 'static {
    endpoint.with(
        SetHeader::new()
            .overriding("content-security-policy", CONTENT_SECURITY_POLICY)
            .overriding("x-content-type-options", "nosniff")
            .overriding("referrer-policy", "same-origin")
            .overriding("x-frame-options", "DENY"),
    )
}
