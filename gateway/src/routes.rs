//! The routing table (which service answers which path) and which requests need no token. Both
//! follow the public contract, so they are code; the instances behind each service are config.

use poem::http::Method;

/// A service behind the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Upstream {
    Users,
    Events,
    Notifications,
}

impl Upstream {
    /// Every service, in the order their documents are merged.
    pub const ALL: [Upstream; 3] = [Upstream::Users, Upstream::Events, Upstream::Notifications];

    /// The name used in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Upstream::Users => "users",
            Upstream::Events => "events",
            Upstream::Notifications => "notifications",
        }
    }
}

const TABLE: &[(&str, Upstream)] = &[
    ("/api/v1/users", Upstream::Users),
    ("/api/v1/auth", Upstream::Users),
    ("/.well-known/jwks.json", Upstream::Users),
    ("/api/v1/events", Upstream::Events),
    ("/api/v1/notifications", Upstream::Notifications),
];

/// The service for `path`: the one whose prefix matches whole segments.
pub fn upstream_for(path: &str) -> Option<Upstream> {
    TABLE.iter().find_map(|(prefix, upstream)| {
        let rest = path.strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(*upstream)
    })
}

/// Whether the request may pass without an access token: registration, login, refresh, address
/// verification, the key set, and reading the catalogue.
pub fn is_public(method: &Method, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    match *method {
        Method::POST => matches!(
            path,
            "/api/v1/users"
                | "/api/v1/auth/token"
                | "/api/v1/auth/refresh"
                | "/api/v1/users/me/emails/verify"
        ),
        Method::GET | Method::HEAD => {
            path == "/.well-known/jwks.json"
                || path == "/api/v1/events"
                || path
                    .strip_prefix("/api/v1/events/")
                    .is_some_and(|id| !id.contains('/') && !matches!(id, "saved" | "recommended"))
        }
        _ => false,
    }
}

/// Why a path is refused before routing.
pub fn path_problem(raw_path: &str) -> Option<&'static str> {
    let lower = raw_path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || raw_path.contains('\\') {
        return Some("encoded slashes are not allowed in paths");
    }
    let dot_segment = raw_path
        .split('/')
        .any(|segment| matches!(segment, "." | "..") || segment.eq_ignore_ascii_case("%2e%2e"));
    if dot_segment || lower.contains("%2e%2e") {
        return Some("`.` and `..` segments are not allowed in paths");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert_eq!(upstream_for("/api/v1/users/me"), Some(Upstream::Users));
        assert_eq!(upstream_for("/api/v1/auth/token"), Some(Upstream::Users));
        assert_eq!(upstream_for("/api/v1/events"), Some(Upstream::Events));
        assert_eq!(
            upstream_for("/api/v1/notifications/1"),
            Some(Upstream::Notifications)
        );
        assert_eq!(upstream_for("/api/v1/usersx"), None);
        assert_eq!(upstream_for("/api/v2/users"), None);
    }

    #[test]
    fn only_the_contracts_public_operations_skip_the_token() {
        let public = [
            (Method::POST, "/api/v1/users"),
            (Method::POST, "/api/v1/auth/token"),
            (Method::POST, "/api/v1/auth/refresh"),
            (Method::POST, "/api/v1/users/me/emails/verify"),
            (Method::GET, "/.well-known/jwks.json"),
            (Method::GET, "/api/v1/events"),
            (Method::GET, "/api/v1/events/65f1c0ffee0000000000abcd"),
        ];
        let private = [
            (Method::GET, "/api/v1/users/me"),
            (Method::POST, "/api/v1/auth/logout"),
            (Method::GET, "/api/v1/events/saved"),
            (Method::GET, "/api/v1/events/recommended"),
            (Method::POST, "/api/v1/events"),
            (Method::PUT, "/api/v1/events/65f1c0ffee0000000000abcd/saved"),
            (Method::GET, "/api/v1/notifications"),
        ];
        for (method, path) in public {
            assert!(is_public(&method, path), "{method} {path}");
        }
        for (method, path) in private {
            assert!(!is_public(&method, path), "{method} {path}");
        }
    }

    #[test]
    fn escaping_paths_are_refused() {
        for path in [
            "/api/v1/events/../users/me",
            "/api/v1/events/%2e%2e/users",
            "/api/v1/events%2Fx",
            "/api/v1/events/a%5cb",
            "/api/v1/./users",
        ] {
            assert!(path_problem(path).is_some(), "{path}");
        }
        assert!(path_problem("/api/v1/events/65f1c0ffee0000000000abcd").is_none());
    }
}
