//! Every operation of the public API and who may call it, in one table: the gateway lets only
//! [`Access::Public`] operations pass without a token, each service's security declarations
//! must agree with it (a test per service checks its OpenAPI document against it), and
//! handlers check [`Access::Admin`] through it.

use poem::http::Method;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Anyone with a valid access token.
    User,
    /// A token with the `admin` role.
    Admin,
}

/// One operation: its method, its path as OpenAPI writes it, which service serves it, and who
/// may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub service: &'static str,
    pub access: Access,
}

const fn op(
    method: &'static str,
    path: &'static str,
    service: &'static str,
    access: Access,
) -> Operation {
    Operation {
        method,
        path,
        service,
        access,
    }
}

use Access::{Admin, Public, User};

/// The public API.
pub const OPERATIONS: &[Operation] = &[
    op("POST", "/api/v1/users", "users", Public),
    op("GET", "/api/v1/users/me", "users", User),
    op("PATCH", "/api/v1/users/me", "users", User),
    op("DELETE", "/api/v1/users/me", "users", User),
    op("PUT", "/api/v1/users/me/password", "users", User),
    op("PUT", "/api/v1/users/{id}/roles", "users", Admin),
    op("POST", "/api/v1/users/me/emails", "users", User),
    op("POST", "/api/v1/users/me/emails/verify", "users", Public),
    op("PUT", "/api/v1/users/me/emails/primary", "users", User),
    op("DELETE", "/api/v1/users/me/emails/{email}", "users", User),
    op("POST", "/api/v1/auth/token", "users", Public),
    op("POST", "/api/v1/auth/refresh", "users", Public),
    op("POST", "/api/v1/auth/logout", "users", User),
    op("POST", "/api/v1/auth/password-reset", "users", Public),
    op(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        "users",
        Public,
    ),
    op("GET", "/.well-known/jwks.json", "users", Public),
    op("GET", "/api/v1/events", "events", Public),
    op("POST", "/api/v1/events", "events", Admin),
    op("GET", "/api/v1/events/{id}", "events", Public),
    op("PUT", "/api/v1/events/{id}", "events", Admin),
    op("DELETE", "/api/v1/events/{id}", "events", Admin),
    op("PUT", "/api/v1/events/{id}/saved", "events", User),
    op("DELETE", "/api/v1/events/{id}/saved", "events", User),
    op("GET", "/api/v1/events/saved", "events", User),
    op("GET", "/api/v1/events/recommended", "events", User),
    op("POST", "/api/v1/notifications", "notifications", User),
    op("GET", "/api/v1/notifications/feed", "notifications", User),
    op("PUT", "/api/v1/notifications/feed", "notifications", User),
    op(
        "DELETE",
        "/api/v1/notifications/feed",
        "notifications",
        User,
    ),
    // The address is the key: calendar apps send no token.
    op("GET", "/feeds/{feed}", "notifications", Public),
    op("GET", "/api/v1/notifications/mail", "notifications", User),
    op("PUT", "/api/v1/notifications/mail", "notifications", User),
    // RFC 8058: mail clients unsubscribe with one POST and no token; the link's token is the key.
    // A browser's GET shows a page whose button sends that POST.
    op(
        "GET",
        "/api/v1/notifications/mail/unsubscribe/{token}",
        "notifications",
        Public,
    ),
    op(
        "POST",
        "/api/v1/notifications/mail/unsubscribe/{token}",
        "notifications",
        Public,
    ),
    // A reminder mail's links: the signed token is the key, for one reminder and action.
    op(
        "GET",
        "/api/v1/notifications/actions/{token}",
        "notifications",
        Public,
    ),
    op(
        "POST",
        "/api/v1/notifications/actions/{token}",
        "notifications",
        Public,
    ),
    op("GET", "/api/v1/notifications", "notifications", User),
    op("GET", "/api/v1/notifications/{id}", "notifications", User),
    op("PATCH", "/api/v1/notifications/{id}", "notifications", User),
    op(
        "DELETE",
        "/api/v1/notifications/{id}",
        "notifications",
        User,
    ),
    op(
        "POST",
        "/api/v1/notifications/{id}/snooze",
        "notifications",
        User,
    ),
];

/// The operation a request is for, if any: literal segments win over `{parameters}`, so
/// `/api/v1/events/saved` is not read as the event `saved`. `HEAD` is looked up as `GET`.
pub fn operation(method: &Method, path: &str) -> Option<&'static Operation> {
    let method = if method == Method::HEAD {
        "GET"
    } else {
        method.as_str()
    };
    OPERATIONS
        .iter()
        .filter(|op| op.method == method && matches(op.path, path))
        .min_by_key(|op| op.path.matches('{').count())
}

/// What every service serves besides its operations, to `GET` (and `HEAD`) only.
const SERVICE_PATHS: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];

/// The `Allow` header's value for `path`: every method the operations of its most literal
/// template serve (as [`operation`] routes: `/api/v1/events/saved` is not the event `saved`),
/// `HEAD` with `GET`, or `None` for a path nothing is served on.
pub fn allowed(path: &str) -> Option<String> {
    let parameters = |op: &Operation| op.path.matches('{').count();
    let matching: Vec<&Operation> = OPERATIONS
        .iter()
        .filter(|op| matches(op.path, path))
        .collect();
    let most_literal = matching.iter().map(|op| parameters(op)).min();
    let mut methods: Vec<&str> = matching
        .iter()
        .filter(|op| Some(parameters(op)) == most_literal)
        .map(|op| op.method)
        .collect();
    if SERVICE_PATHS.contains(&path.trim_end_matches('/')) {
        methods.push("GET");
    }
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    methods.sort_unstable();
    methods.dedup();
    (!methods.is_empty()).then(|| methods.join(", "))
}

/// Who may call `method path`; an unknown operation needs a token (its service then says 404).
pub fn access(method: &Method, path: &str) -> Access {
    operation(method, path).map_or(Access::User, |op| op.access)
}

/// The operation `method template` exactly as a service's OpenAPI document names it.
pub fn declared(method: &str, template: &str) -> Option<&'static Operation> {
    let template = template.trim_end_matches('/');
    OPERATIONS
        .iter()
        .find(|op| op.method.eq_ignore_ascii_case(method) && op.path == template)
}

fn matches(template: &str, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let (mut wanted, mut given) = (template.split('/'), path.split('/'));
    loop {
        match (wanted.next(), given.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && !g.is_empty() => {}
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_allowed_the_methods_its_operations_serve() {
        assert_eq!(
            allowed("/api/v1/users/me").as_deref(),
            Some("DELETE, GET, HEAD, PATCH")
        );
        assert_eq!(allowed("/api/v1/auth/token").as_deref(), Some("POST"));
        assert_eq!(allowed("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(allowed("/api/v1/nothing-here"), None);
        assert_eq!(
            allowed("/api/v1/events/saved").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(
            allowed("/api/v1/events/65f1c0ffee0000000000abcd").as_deref(),
            Some("DELETE, GET, HEAD, PUT")
        );
        assert_eq!(
            allowed("/api/v1/users/me/emails/primary").as_deref(),
            Some("PUT")
        );
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let saved = operation(&Method::GET, "/api/v1/events/saved").unwrap();
        assert_eq!((saved.path, saved.access), ("/api/v1/events/saved", User));
        let one = operation(&Method::GET, "/api/v1/events/65f1c0ffee0000000000abcd").unwrap();
        assert_eq!((one.path, one.access), ("/api/v1/events/{id}", Public));
        assert_eq!(access(&Method::HEAD, "/api/v1/events/"), Public);
    }

    #[test]
    fn only_the_contracts_public_operations_skip_the_token() {
        for (method, path) in [
            (Method::POST, "/api/v1/users"),
            (Method::POST, "/api/v1/auth/token"),
            (Method::POST, "/api/v1/auth/refresh"),
            (Method::POST, "/api/v1/users/me/emails/verify"),
            (Method::GET, "/.well-known/jwks.json"),
            (Method::GET, "/api/v1/events"),
            (Method::GET, "/api/v1/events/65f1c0ffee0000000000abcd"),
            (Method::POST, "/api/v1/notifications/mail/unsubscribe/abc"),
            (Method::POST, "/api/v1/notifications/actions/abc"),
        ] {
            assert_eq!(access(&method, path), Public, "{method} {path}");
        }
        for (method, path) in [
            (Method::GET, "/api/v1/users/me"),
            (Method::POST, "/api/v1/auth/logout"),
            (Method::GET, "/api/v1/events/recommended"),
            (Method::POST, "/api/v1/events"),
            (Method::PUT, "/api/v1/events/65f1c0ffee0000000000abcd/saved"),
            (Method::GET, "/api/v1/notifications"),
            (
                Method::POST,
                "/api/v1/notifications/65f1c0ffee0000000000abcd/snooze",
            ),
            (Method::PUT, "/api/v1/notifications/mail"),
            (Method::GET, "/api/v1/events/a/b/c"),
            (Method::GET, "/api/v1/nothing"),
        ] {
            assert_ne!(access(&method, path), Public, "{method} {path}");
        }
    }

    #[test]
    fn documents_name_operations_by_their_templates() {
        assert_eq!(
            declared("put", "/api/v1/users/{id}/roles").unwrap().access,
            Admin
        );
        assert!(declared("GET", "/api/v1/users/{id}/roles").is_none());
    }
}
