//! A service's OpenAPI document at `/openapi.json`, saying what poem-openapi's derives do not.
//!
//! - Every request body refuses unknown fields (`deny_unknown_fields`) and every response
//!   writes only the fields it declares (`testing::assert_written_as_documented`), but
//!   poem-openapi has no way to say `additionalProperties: false`, so a generated client or a
//!   fuzzer believes extra fields are welcome.
//! - Every `{id}` in a path is 24 hex digits, an `{email}` an address (with no slash or
//!   backslash, which the gateway refuses in any path), and a `{feed}` a feed token and `.ics`. Declared on the parameter,
//!   poem-openapi would enforce the pattern itself with a 400 that cannot name what is
//!   missing; the handlers answer what cannot exist as they answer what is unknown, 404
//!   naming the resource.
//!
//! The document is written once, when the routes are built.

use poem::{Endpoint, Response, endpoint::make_sync};
use poem_openapi::{OpenApi, OpenApiService, Webhook};
use serde_json::Value;

/// The document of `api`, as JSON, with every fixed-shape object closed.
pub fn document<T: OpenApi, W: Webhook>(api: &OpenApiService<T, W>) -> Value {
    let mut doc: Value = serde_json::from_str(&api.spec()).unwrap_or_default();
    close_objects(&mut doc);
    declare_path_patterns(&mut doc);
    doc
}

/// An endpoint serving `api`'s [`document`].
pub fn endpoint<T: OpenApi, W: Webhook>(api: &OpenApiService<T, W>) -> impl Endpoint + use<T, W> {
    let body = serde_json::to_vec(&document(api)).unwrap_or_default();
    make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(body.clone())
    })
}

/// Marks every object schema with declared properties and no `additionalProperties` of its
/// own (a map keeps its) as closed to others, wherever it sits in the document.
fn close_objects(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let fixed_shape = map.get("type").and_then(Value::as_str) == Some("object")
                && map.contains_key("properties")
                && !map.contains_key("additionalProperties");
            if fixed_shape {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

/// What every id looks like (a MongoDB ObjectId in hex).
const ID_PATTERN: &str = "^[0-9a-fA-F]{24}$";
/// A calendar feed's file name: its token (43 URL-safe base64 characters) and `.ics`.
const FEED_PATTERN: &str = r"^[A-Za-z0-9_-]{43}\.ics$";
/// A mail link's token (43 URL-safe base64 characters).
const TOKEN_PATTERN: &str = r"^[A-Za-z0-9_-]{43}$";
/// An address as a path segment can carry it.
const EMAIL_PATTERN: &str = r"^[^\s@/\\]+@[^\s@/\\]+\.[^\s@/\\]+$";

fn declare_path_patterns(doc: &mut Value) {
    let operations = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|operations| operations.values_mut());
    // `get_mut` throughout: indexing a missing key mutably would add it, as `null`.
    for operation in operations {
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten();
        for parameter in parameters.filter(|p| p["in"] == "path") {
            let pattern = match parameter["name"].as_str() {
                Some("id") => ID_PATTERN,
                Some("email") => EMAIL_PATTERN,
                Some("feed") => FEED_PATTERN,
                Some("token") => TOKEN_PATTERN,
                _ => continue,
            };
            if let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut) {
                schema.insert("pattern".into(), pattern.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_with_properties_are_closed_and_maps_left_open() {
        let mut doc = json!({
            "components": { "schemas": {
                "EventIn": { "type": "object", "properties": {
                    "place": { "type": "object", "properties": { "name": { "type": "string" } } },
                    "counts": { "type": "object", "additionalProperties": { "type": "integer" } },
                } },
            } },
        });
        close_objects(&mut doc);
        let event = &doc["components"]["schemas"]["EventIn"];
        assert_eq!(event["additionalProperties"], false);
        assert_eq!(event["properties"]["place"]["additionalProperties"], false);
        assert_eq!(
            event["properties"]["counts"]["additionalProperties"],
            json!({ "type": "integer" })
        );
    }

    #[test]
    fn path_ids_addresses_and_feeds_get_patterns_and_nothing_else_changes() {
        let string = || json!({ "type": "string" });
        let mut doc = json!({ "paths": {
            "/events/{id}": { "get": { "parameters": [
                { "name": "id", "in": "path", "schema": string() },
                { "name": "id", "in": "query", "schema": string() },
                { "name": "If-None-Match", "in": "header", "schema": string() },
            ] } },
            "/emails/{email}": { "delete": { "parameters": [
                { "name": "email", "in": "path", "schema": string() },
            ] } },
            "/feeds/{feed}": { "get": { "parameters": [
                { "name": "feed", "in": "path", "schema": string() },
            ] } },
            "/me": { "get": { "responses": {} } },
        } });
        declare_path_patterns(&mut doc);
        let parameters = &doc["paths"]["/events/{id}"]["get"]["parameters"];
        assert_eq!(parameters[0]["schema"]["pattern"], ID_PATTERN);
        assert_eq!(parameters[1]["schema"], string());
        assert_eq!(parameters[2]["schema"], string());
        let email = &doc["paths"]["/emails/{email}"]["delete"]["parameters"][0];
        assert_eq!(email["schema"]["pattern"], EMAIL_PATTERN);
        let feed = &doc["paths"]["/feeds/{feed}"]["get"]["parameters"][0];
        assert_eq!(feed["schema"]["pattern"], FEED_PATTERN);
        assert_eq!(doc["paths"]["/me"]["get"], json!({ "responses": {} }));
    }
}
