//! Normalising high-cardinality URL paths into route templates.

/// Replaces path segments that look like identifiers with `{id}` and drops the query string:
/// `/users/123/orders/9f3c2a1b?x=1` becomes `/users/{id}/orders/{id}`.
///
/// A segment is an identifier when it is all digits, a UUID, a hex string of 8 or more
/// characters with a digit, a token of 16 or more letters and digits, or a dashed token that
/// is mostly digits.
pub fn normalize_route(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_identifier(segment) {
            out.push_str("{id}");
        } else {
            out.push_str(segment);
        }
    }
    out
}

fn is_identifier(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let bytes = segment.as_bytes();
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == bytes.len() {
        return true;
    }
    if is_uuid(bytes) {
        return true;
    }
    let hex = bytes.iter().all(|b| b.is_ascii_hexdigit());
    if hex && bytes.len() >= 8 && digits > 0 {
        return true;
    }
    // Long opaque tokens (`ab12CD34ef56GH78ij90`), and dashed ids that are mostly digits
    // (`ord-2024-000123`); dashed slugs with words (`2024-rust-release-notes`) stay.
    let alphanumeric = bytes.iter().all(|b| b.is_ascii_alphanumeric());
    let dashed = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_');
    (alphanumeric && bytes.len() >= 16 && digits > 0)
        || (dashed && digits >= 4 && digits * 2 >= bytes.len())
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::normalize_route;

    #[test]
    fn replaces_identifiers_and_keeps_words() {
        for (path, route) in [
            ("/users/123/orders/9f3c2a1b", "/users/{id}/orders/{id}"),
            ("/users/123?expand=true", "/users/{id}"),
            (
                "/api/v2/items/550e8400-e29b-41d4-a716-446655440000",
                "/api/v2/items/{id}",
            ),
            ("/sessions/ab12CD34ef56GH78ij90", "/sessions/{id}"),
            ("/healthz", "/healthz"),
            ("/api/v1/checkout", "/api/v1/checkout"),
            (
                "/blog/2024-rust-release-notes",
                "/blog/2024-rust-release-notes",
            ),
            ("/files/deadbeef", "/files/deadbeef"),
            ("/orders/ord-2024-000123", "/orders/{id}"),
            ("/", "/"),
            ("", ""),
        ] {
            assert_eq!(normalize_route(path), route, "{path}");
        }
    }
}
