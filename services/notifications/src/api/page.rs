//! The few pages this service answers a browser with: those a link in a mail opens. Each asks
//! before anything changes (only its button sends the `POST`), loads nothing and runs nothing.

use poem_openapi::{ApiResponse, payload::Html};

/// The page loads nothing, runs nothing, and may be framed by no one.
const PAGE_POLICY: &str =
    "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(ApiResponse)]
pub enum Page {
    /// A page for a browser.
    #[oai(status = 200)]
    Html(
        Html<String>,
        /// Nothing but the page and its form.
        #[oai(header = "Content-Security-Policy")]
        String,
    ),
}

impl Page {
    pub fn new(html: String) -> Self {
        Self::Html(Html(html), PAGE_POLICY.to_owned())
    }
}
