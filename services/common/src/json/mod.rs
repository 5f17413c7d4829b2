//! JSON in and out of the API, with serde doing the work and poem-openapi the documenting:
//! [`JsonBody`] reads a request body naming the field that failed, [`JsonOut`] writes a
//! response body straight from the value.

mod body;
mod out;

pub use body::{JsonBody, parse};
pub use out::JsonOut;

/// Whether `content_type` is JSON (`application/json`, with any parameters).
fn is_json(content_type: &str) -> bool {
    content_type
        .parse::<mime::Mime>()
        .is_ok_and(|m| m.type_() == "application" && m.subtype() == "json")
}
