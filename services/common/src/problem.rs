//! The error model: [`ApiError`] and its one rendering as RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<T, ApiError>`. poem-openapi's own failures (malformed JSON, a wrong
//! parameter type, a missing token, an unknown route) never reach a handler; the request-context
//! middleware turns them into the same body through [`problem_from_poem_error`], so no client ever
//! sees a plain-text error.
//!
//! Internal and dependency failures are logged once, here, with their full chain; the body keeps
//! only a generic detail and the request id.

use std::time::Duration;

use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse, Object,
    error::{
        AuthorizationError, ContentTypeError, ParseMultipartError, ParseParamError, ParsePathError,
        ParseRequestPayloadError,
    },
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use serde::{Deserialize, Serialize};

use crate::request_id::RequestId;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// A stable URI naming the kind of problem, e.g. `urn:eventpost:problem:validation`.
    #[serde(rename = "type")]
    #[oai(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a human.
    pub detail: String,
    /// The request's `X-Request-Id`, to quote when reporting the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// One entry per offending field, when the problem is about fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

/// A field of the request and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Object)]
pub struct FieldError {
    /// The field's path in the request, e.g. `place.lat`, or a parameter name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// `field` is wrong because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects every field that fails to parse, so a request learns all its mistakes at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// The value if `result` holds one; otherwise records `field` and its error.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        result
            .map_err(|err| self.0.push(FieldError::new(field, err.to_string())))
            .ok()
    }

    /// `Err` with every recorded failure as bad query parameters (400), if there were any.
    pub fn parameters_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::InvalidParameters(self.0))
        }
    }

    /// Records a failure found another way.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// `Ok` when nothing failed, otherwise a 422 listing every failure.
    pub fn result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.into())
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors.0)
    }
}

/// Everything an API call can fail with, each variant saying what the client can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read: malformed JSON, a wrong type, a bad parameter.
    #[error("malformed request: {detail}")]
    BadRequest {
        /// What could not be read.
        detail: String,
        /// The offending field, when known.
        field: Option<String>,
    },
    /// Some query parameters hold values that are not allowed (400, each one named).
    #[error("invalid parameters: {0:?}")]
    InvalidParameters(Vec<FieldError>),
    /// The request was read but some fields hold values that are not allowed.
    #[error("invalid fields: {0:?}")]
    Validation(Vec<FieldError>),
    /// No token, or one that is not valid.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// Valid token, but not allowed to do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The named thing does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The method is not served on this path.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request conflicts with the current state (duplicate, stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// An `If-Match` precondition did not hold.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The body is larger than allowed.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is not in a media type this endpoint reads.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// Slow down; try again after the given time.
    #[error("too many requests")]
    TooManyRequests {
        /// When the client may try again.
        retry_after: Duration,
    },
    /// An upstream service answered with something that is not a valid HTTP response.
    #[error("bad gateway: {0}")]
    BadGateway(String),
    /// An upstream service did not answer in time.
    #[error("gateway timeout")]
    GatewayTimeout,
    /// A dependency (database, broker, another service) is down.
    #[error("{dependency} is unavailable")]
    Unavailable {
        /// Which dependency, as the client may be told.
        dependency: &'static str,
        /// The underlying failure, logged and never shown.
        #[source]
        source: anyhow::Error,
    },
    /// A bug. Logged with its chain; the client gets a generic message.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// A result whose error renders as problem+json.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } | Self::InvalidParameters(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } | Self::InvalidParameters(_) => "malformed-request",
            Self::Validation(_) => "validation",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::Conflict(_) => "conflict",
            Self::PreconditionFailed(_) => "precondition-failed",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType(_) => "unsupported-media-type",
            Self::TooManyRequests { .. } => "rate-limited",
            Self::BadGateway(_) => "bad-gateway",
            Self::GatewayTimeout => "gateway-timeout",
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::BadRequest { detail, .. } => detail.clone(),
            Self::Validation(errors) | Self::InvalidParameters(errors) => match errors.as_slice() {
                [one] => format!("`{}` {}", one.field, one.message),
                _ => format!("{} fields are invalid", errors.len()),
            },
            Self::Unauthorized(why) | Self::Forbidden(why) => why.clone(),
            Self::NotFound(what) => format!("no such {what}"),
            Self::MethodNotAllowed => "this method is not served on this path".into(),
            Self::Conflict(why) | Self::PreconditionFailed(why) => why.clone(),
            Self::PayloadTooLarge => "the request body is larger than allowed".into(),
            Self::UnsupportedMediaType(why) => why.clone(),
            Self::TooManyRequests { retry_after } => {
                format!(
                    "too many requests; retry in {} s",
                    retry_after_secs(*retry_after)
                )
            }
            Self::BadGateway(why) => why.clone(),
            Self::GatewayTimeout => "the service did not answer in time".into(),
            Self::Unavailable { dependency, .. } => {
                format!("{dependency} is unavailable; try again shortly")
            }
            Self::Internal(_) => "an unexpected error occurred; quote the request_id".into(),
        }
    }

    fn field_errors(&self) -> Option<Vec<FieldError>> {
        match self {
            Self::Validation(errors) | Self::InvalidParameters(errors) => Some(errors.clone()),
            Self::BadRequest {
                field: Some(field),
                detail,
            } => Some(vec![FieldError::new(field.clone(), detail.clone())]),
            _ => None,
        }
    }

    /// The problem document for this error, stamped with the current request id.
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("urn:eventpost:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            request_id: RequestId::current().map(|id| id.to_string()),
            errors: self.field_errors(),
        }
    }

    fn log(&self) {
        match self {
            Self::Internal(source) => tracing::error!(error = ?source, "request failed"),
            Self::Unavailable { dependency, source } => {
                tracing::error!(dependency, error = ?source, "dependency unavailable");
            }
            _ => {}
        }
    }
}

fn retry_after_secs(retry_after: Duration) -> u64 {
    retry_after.as_secs_f64().ceil().max(1.0) as u64
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let problem = self.to_problem();
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = Response::builder()
            .status(self.status())
            .content_type(PROBLEM_JSON)
            .body(body);
        match &self {
            Self::Unauthorized(_) => {
                response.headers_mut().insert(
                    poem::http::header::WWW_AUTHENTICATE,
                    poem::http::HeaderValue::from_static("Bearer"),
                );
            }
            Self::TooManyRequests { retry_after } => {
                response.headers_mut().insert(
                    poem::http::header::RETRY_AFTER,
                    retry_after_secs(*retry_after).into(),
                );
            }
            _ => {}
        }
        response
    }
}

impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        poem::Error::from_response(err.into_response())
    }
}

/// The statuses every operation may answer with, documented once for all of them.
const DOCUMENTED: &[(u16, &str)] = &[
    (
        400,
        "The request could not be read (malformed JSON, wrong type).",
    ),
    (401, "No valid bearer token."),
    (403, "The token is valid but not allowed to do this."),
    (404, "No such resource, or not yours."),
    (409, "Conflicts with the current state."),
    (412, "The `If-Match` precondition failed."),
    (413, "The body is larger than the gateway accepts (1 MiB)."),
    (415, "The body is not sent as `application/json`."),
    (
        422,
        "Some fields hold values that are not allowed; `errors` lists them.",
    ),
    (429, "Too many requests; see `Retry-After`."),
    (500, "A bug; quote the `request_id`."),
    (503, "A dependency is down; try again shortly."),
];

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        let responses = DOCUMENTED
            .iter()
            .map(|&(status, description)| MetaResponse {
                description,
                status: Some(status),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: PROBLEM_JSON,
                    schema: Problem::schema_ref(),
                }],
                headers: headers_of(status),
            })
            .collect();
        MetaResponses { responses }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn headers_of(status: u16) -> Vec<MetaHeader> {
    let header = |name: &str, description: &str| MetaHeader {
        name: name.into(),
        description: Some(description.into()),
        required: true,
        deprecated: false,
        schema: String::schema_ref(),
    };
    match status {
        401 => vec![header("WWW-Authenticate", "Always `Bearer`.")],
        429 => vec![header("Retry-After", "Seconds to wait before retrying.")],
        _ => vec![],
    }
}

/// Renders any error that reached the top of a route as problem+json.
///
/// Errors that are already responses (an [`ApiError`] returned by a handler) pass through;
/// poem's and poem-openapi's own errors are classified here.
pub fn problem_from_poem_error(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    classify(&err).into_response()
}

fn classify(err: &poem::Error) -> ApiError {
    if let Some(e) = err.downcast_ref::<ParseRequestPayloadError>() {
        let field = field_named_in(&e.reason);
        let reason = field
            .as_deref()
            .and_then(|field| rule_in_words(field, &e.reason))
            .unwrap_or_else(|| e.reason.clone());
        return ApiError::BadRequest {
            field,
            detail: format!("the request body could not be read: {reason}"),
        };
    }
    if let Some(e) = err.downcast_ref::<ParseParamError>() {
        return bad_parameter(e.name, &e.reason);
    }
    if let Some(e) = err.downcast_ref::<ParsePathError>() {
        // poem-openapi renames path parameters internally (`param0`), so the name is useless.
        return ApiError::BadRequest {
            field: None,
            detail: format!("a path segment is malformed: {}", e.reason),
        };
    }
    if let Some(e) = err.downcast_ref::<ParseMultipartError>() {
        return ApiError::BadRequest {
            field: None,
            detail: e.reason.clone(),
        };
    }
    if let Some(e) = err.downcast_ref::<ContentTypeError>() {
        return ApiError::UnsupportedMediaType(e.to_string());
    }
    if err.is::<AuthorizationError>() {
        return ApiError::Unauthorized("a valid bearer token is required".into());
    }
    match err.status() {
        StatusCode::NOT_FOUND => ApiError::NotFound("route"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(err.to_string()),
        status if status.is_client_error() => ApiError::BadRequest {
            field: None,
            detail: err.to_string(),
        },
        _ => ApiError::Internal(anyhow::anyhow!("{err}")),
    }
}

fn bad_parameter(name: &str, reason: &str) -> ApiError {
    ApiError::BadRequest {
        field: Some(name.to_owned()),
        detail: rule_in_words(name, reason).unwrap_or_else(|| reason.to_owned()),
    }
}

/// A poem-openapi validator's message (`verification failed. maximum(100, exclusive: false)`)
/// as a rule a client can act on (`` `limit` must be at most 100 ``), for the rules our
/// documents declare; `None` for any other message.
fn rule_in_words(name: &str, reason: &str) -> Option<String> {
    let (_, rule) = reason.split_once("verification failed. ")?;
    let (kind, arguments) = rule.trim_end_matches(')').split_once('(')?;
    let bound = arguments.split(',').next()?.trim();
    let exclusive = arguments.contains("exclusive: true");
    let must = match (kind, exclusive) {
        ("maximum", false) => format!("be at most {bound}"),
        ("maximum", true) => format!("be less than {bound}"),
        ("minimum", false) => format!("be at least {bound}"),
        ("minimum", true) => format!("be more than {bound}"),
        ("maxLength", _) => format!("be at most {bound} characters long"),
        ("minLength", _) => format!("be at least {bound} characters long"),
        ("maxItems", _) => format!("have at most {bound} items"),
        ("minItems", _) => format!("have at least {bound} items"),
        ("pattern", _) => format!("match the pattern {arguments}"),
        _ => return None,
    };
    Some(format!("`{name}` must {must}"))
}

/// poem-openapi names the field in validator and unknown-field messages (``field `x` …``).
fn field_named_in(reason: &str) -> Option<String> {
    let start = reason.find('`')? + 1;
    let len = reason[start..].find('`')?;
    Some(reason[start..start + len].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(response: Response) -> (StatusCode, Option<String>, Problem) {
        let status = response.status();
        let content_type = response.content_type().map(str::to_owned);
        let bytes =
            futures::executor::block_on(response.into_body().into_vec()).expect("body is readable");
        (
            status,
            content_type,
            serde_json::from_slice(&bytes).expect("body is a problem document"),
        )
    }

    #[test]
    fn validation_lists_every_field_with_422() {
        let err = ApiError::Validation(vec![
            FieldError::new("title", "must not be empty"),
            FieldError::new("topics[2]", "must be a lowercase slug"),
        ]);
        let (status, content_type, problem) = body(err.into_response());
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(problem.kind, "urn:eventpost:problem:validation");
        assert_eq!(problem.status, 422);
        let fields: Vec<_> = problem
            .errors
            .unwrap()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["title", "topics[2]"]);
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 in connection string"));
        let (status, _, problem) = body(err.into_response());
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!problem.detail.contains("hunter2"));
        assert!(problem.errors.is_none());
    }

    #[test]
    fn unavailable_names_the_dependency_with_503() {
        let err = ApiError::Unavailable {
            dependency: "mongodb",
            source: anyhow::anyhow!("server selection timeout"),
        };
        let (status, _, problem) = body(err.into_response());
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(problem.detail.contains("mongodb"), "{}", problem.detail);
        assert!(!problem.detail.contains("selection"));
    }

    #[test]
    fn unauthorized_challenges_with_bearer() {
        let response = ApiError::Unauthorized("token expired".into()).into_response();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let (status, _, problem) = body(response);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(problem.detail, "token expired");
    }

    #[test]
    fn rate_limiting_says_when_to_retry_in_whole_seconds() {
        let response = ApiError::TooManyRequests {
            retry_after: Duration::from_millis(1200),
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
    }

    #[test]
    fn a_malformed_body_becomes_400_problem_json() {
        let err: poem::Error = ParseRequestPayloadError {
            reason: "expected value at line 1 column 2".into(),
        }
        .into();
        let (status, content_type, problem) = body(problem_from_poem_error(err));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert!(
            problem.detail.contains("line 1 column 2"),
            "{}",
            problem.detail
        );
    }

    #[test]
    fn a_bad_query_parameter_is_named() {
        let err: poem::Error = ParseParamError {
            name: "limit",
            reason: "failed to parse \"integer(int32)\"".into(),
        }
        .into();
        let (status, _, problem) = body(problem_from_poem_error(err));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(problem.errors.unwrap()[0].field, "limit");
    }

    #[test]
    fn a_validator_rule_is_put_in_words_that_name_the_field() {
        let rule = |reason| rule_in_words("limit", reason);
        assert_eq!(
            rule("verification failed. maximum(100, exclusive: false)").as_deref(),
            Some("`limit` must be at most 100")
        );
        assert_eq!(
            rule("verification failed. minimum(0, exclusive: true)").as_deref(),
            Some("`limit` must be more than 0")
        );
        assert_eq!(
            rule("failed to parse \"EventIn\": field `limit` verification failed. maxItems(20)")
                .as_deref(),
            Some("`limit` must have at most 20 items")
        );
        assert_eq!(rule("expected an integer"), None);
    }

    #[test]
    fn a_validator_message_names_its_field() {
        let reason =
            "failed to parse \"EventIn\": field `title` verification failed. maxLength(120)";
        assert_eq!(field_named_in(reason).as_deref(), Some("title"));
        assert_eq!(field_named_in("expected value"), None);
    }

    #[test]
    fn a_missing_token_is_401_with_a_challenge() {
        let response = problem_from_poem_error(AuthorizationError.into());
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
    }

    #[test]
    fn an_unknown_route_is_404_problem_json() {
        let (status, content_type, problem) =
            body(problem_from_poem_error(poem::error::NotFoundError.into()));
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type.as_deref(), Some(PROBLEM_JSON));
        assert_eq!(problem.kind, "urn:eventpost:problem:not-found");
    }

    #[test]
    fn a_handler_error_passes_through_unchanged() {
        let err: poem::Error = ApiError::Conflict("email is taken".into()).into();
        let (status, _, problem) = body(problem_from_poem_error(err));
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(problem.detail, "email is taken");
    }
}
