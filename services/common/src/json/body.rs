//! [`JsonBody`]: a JSON request body whose parse errors name the offending field.
//!
//! poem-openapi's `Json<T>` reports a wrong type as `Expected input type "string", found 5`
//! without saying where. `JsonBody<T>` documents the same schema (from `T`'s `Object` derive) but
//! reads the body with serde, tracking the path, so the 400 says `place.lat: invalid type …`.
//! `T` derives both `Object` (for the document) and `Deserialize` (for reading) with the same
//! field names; the domain types then decide what values are allowed (422).

use std::ops::Deref;

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{ParsePayload, Payload},
    registry::{MetaSchemaRef, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// A JSON request body of type `T`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonBody<T>(pub T);

impl<T> Deref for JsonBody<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        super::is_json(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        let bytes = Vec::<u8>::from_request(request, body).await?;
        parse(&bytes).map(Self).map_err(Into::into)
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned);

/// Reads `bytes` as a `T`, naming the field that failed.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::BadRequest {
            detail: "a JSON body is required".into(),
            field: None,
        });
    }
    // Every body is an object, but serde also reads a struct from an array of its fields in
    // order (`[null, null]`), which no document allows.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::BadRequest {
            detail: "the body must be a JSON object".into(),
            field: None,
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let field = (path != ".").then_some(path);
        let detail = match &field {
            Some(field) => format!("`{field}`: {inner}"),
            None => inner.to_string(),
        };
        ApiError::BadRequest { detail, field }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Place {
        name: String,
        lat: Option<f64>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct EventIn {
        title: String,
        place: Place,
    }

    fn field_of(body: &str) -> Option<String> {
        match parse::<EventIn>(body.as_bytes()) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_even_if_serde_could_read_it() {
        for body in ["[\"t\", {\"name\": \"x\", \"lat\": null}]", "null", "\"t\""] {
            let err = parse::<EventIn>(body.as_bytes()).unwrap_err();
            assert!(err.to_string().contains("JSON object"), "{body}: {err}");
        }
        assert!(parse::<EventIn>(br#" {"title":"t","place":{"name":"x"}}"#).is_ok());
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let body = r#"{"title":"t","place":{"name":"x","lat":"north"}}"#;
        assert_eq!(field_of(body).as_deref(), Some("place.lat"));
    }

    #[test]
    fn a_missing_field_names_it() {
        let err = parse::<EventIn>(br#"{"place":{"name":"x"}}"#).unwrap_err();
        assert!(err.to_string().contains("title"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let err = parse::<EventIn>(br#"{"title":"t","place":{"name":"x"},"extra":1}"#).unwrap_err();
        assert!(err.to_string().contains("extra"), "{err}");
    }

    #[test]
    fn malformed_json_and_an_empty_body_are_bad_requests() {
        assert!(field_of("not json").is_none());
        assert!(matches!(
            parse::<EventIn>(b""),
            Err(ApiError::BadRequest { .. })
        ));
    }

    #[test]
    fn a_good_body_parses() {
        let ok = parse::<EventIn>(br#"{"title":"t","place":{"name":"x","lat":1.5}}"#);
        assert!(ok.is_ok());
    }
}
