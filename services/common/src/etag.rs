//! Entity tags (RFC 9110 §8.8.3) as the services compare them.

/// Whether an `If-None-Match`/`If-Match` list names `etag` (or is `*`). Weak tags compare by
/// their opaque part, as `If-None-Match` requires.
pub fn matches_any(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_matches_by_any_tag_weak_or_strong_or_star() {
        assert!(matches_any("\"1\", \"2\"", "\"2\""));
        assert!(matches_any("W/\"2\"", "\"2\""));
        assert!(matches_any("*", "\"9\""));
        assert!(!matches_any("\"1\"", "\"2\""));
    }
}
