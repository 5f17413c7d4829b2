//! The few pages this service answers a browser with: those a link in a mail opens. Each asks
//! before anything changes (only its button sends the `POST`), loads nothing and runs nothing.

use common::ApiResult;
use poem::{IntoResponse, Response};
use poem_openapi::{
    ApiResponse,
    payload::Html,
    registry::{MetaResponse, MetaResponses, Registry},
};

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

/// What a link's page answers: the page, or a problem (the store away, say). 404 and 409 are
/// pages here and problems elsewhere, so each status is documented with every body it may
/// carry (poem-openapi's `Result` lists the error's responses after the page's, and a
/// document keeps one per status).
pub struct LinkResult(pub ApiResult<LinkPage>);

impl ApiResponse for LinkResult {
    fn meta() -> MetaResponses {
        let mut merged: Vec<MetaResponse> = Vec::new();
        for response in ApiResult::<LinkPage>::meta().responses {
            let same = merged.iter_mut().find(|known| {
                known.status == response.status && known.status_range == response.status_range
            });
            match same {
                Some(known) => {
                    for content in response.content {
                        if !known
                            .content
                            .iter()
                            .any(|body| body.content_type == content.content_type)
                        {
                            known.content.push(content);
                        }
                    }
                }
                None => merged.push(response),
            }
        }
        MetaResponses { responses: merged }
    }

    fn register(registry: &mut Registry) {
        ApiResult::<LinkPage>::register(registry);
    }
}

impl IntoResponse for LinkResult {
    fn into_response(self) -> Response {
        match self.0 {
            Ok(page) => page.into_response(),
            Err(err) => poem::Error::from(err).into_response(),
        }
    }
}
