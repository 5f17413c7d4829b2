//! The routing table (which service answers which path) and the paths refused before routing.
//! Both follow the public contract, so they are code; the instances behind each service are
//! config, and who may call what is `common::routes`. The API lives under `/api/` (and the
//! JWKS and feeds at their own addresses); every other path is a page of the web app.

/// A service behind the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Upstream {
    Users,
    Events,
    Notifications,
    /// The web app: its pages check their visitors' sessions themselves.
    Web,
}

impl Upstream {
    /// Every service of the API, in the order their documents are merged.
    pub const APIS: [Upstream; 3] = [Upstream::Users, Upstream::Events, Upstream::Notifications];

    /// The name used in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Upstream::Users => "users",
            Upstream::Events => "events",
            Upstream::Notifications => "notifications",
            Upstream::Web => "web",
        }
    }
}

const TABLE: &[(&str, Upstream)] = &[
    ("/api/v1/users", Upstream::Users),
    ("/api/v1/auth", Upstream::Users),
    ("/.well-known/jwks.json", Upstream::Users),
    ("/api/v1/events", Upstream::Events),
    ("/api/v1/notifications", Upstream::Notifications),
    ("/feeds", Upstream::Notifications),
];

/// The service for `path`: the one whose prefix matches whole segments; none for an unknown
/// path of the API, the web app for any other.
pub fn upstream_for(path: &str) -> Option<Upstream> {
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    TABLE
        .iter()
        .find_map(|(prefix, upstream)| under(prefix).then_some(*upstream))
        .or_else(|| (!under("/api")).then_some(Upstream::Web))
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
        assert_eq!(
            upstream_for("/feeds/abc.ics"),
            Some(Upstream::Notifications)
        );
        assert_eq!(upstream_for("/api/v1/usersx"), None);
        assert_eq!(upstream_for("/api/v2/users"), None);
        assert_eq!(upstream_for("/api"), None);
        assert_eq!(upstream_for("/"), Some(Upstream::Web));
        assert_eq!(upstream_for("/events/abc"), Some(Upstream::Web));
        assert_eq!(upstream_for("/apis"), Some(Upstream::Web));
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
