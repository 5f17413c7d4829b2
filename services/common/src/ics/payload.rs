//! [`CalendarFile`]: an iCalendar response body, documented as such.

use poem::{IntoResponse, Response};
use poem_openapi::{
    ApiResponse,
    payload::Payload,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};

/// A `text/calendar` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFile(pub String);

impl Payload for CalendarFile {
    const CONTENT_TYPE: &'static str = "text/calendar; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("text/calendar")
    }

    fn schema_ref() -> MetaSchemaRef {
        String::schema_ref()
    }
}

impl IntoResponse for CalendarFile {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(Self::CONTENT_TYPE)
            .body(self.0)
    }
}

impl ApiResponse for CalendarFile {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut Registry) {}
}
