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

/// A page a reminder mail's link opens: what it does, or why it cannot.
#[derive(ApiResponse)]
pub enum LinkPage {
    /// What the link does, or did.
    #[oai(status = 200)]
    Shown(
        Html<String>,
        #[oai(header = "Content-Security-Policy")] String,
    ),
    /// The link opens nothing: not signed here, past its time, or its reminder deleted.
    #[oai(status = 404)]
    Missing(
        Html<String>,
        #[oai(header = "Content-Security-Policy")] String,
    ),
    /// The reminder's state does not allow what the link asks any more.
    #[oai(status = 409)]
    Refused(
        Html<String>,
        #[oai(header = "Content-Security-Policy")] String,
    ),
}

impl LinkPage {
    pub fn shown(html: String) -> Self {
        Self::Shown(Html(html), PAGE_POLICY.to_owned())
    }

    pub fn missing(html: String) -> Self {
        Self::Missing(Html(html), PAGE_POLICY.to_owned())
    }

    pub fn refused(html: String) -> Self {
        Self::Refused(Html(html), PAGE_POLICY.to_owned())
    }
}
