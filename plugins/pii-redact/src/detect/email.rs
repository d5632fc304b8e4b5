//! Email addresses, also URL-encoded as in `?email=bob%40example.com`.

use regex::Regex;

use super::{Buffers, Detector, Needs};

/// Local part, `@` (or `%40`), domain labels, then a top-level domain of letters. The regex
/// crate matches in linear time, whatever the input.
const PATTERN: &str =
    r"[A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?-u:\b)";

/// Image and asset names with a retina suffix (`logo@2x.png`) look like addresses; no real
/// top-level domain has these names.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "css", "js", "mjs", "map",
    "json", "html", "htm", "txt", "xml", "pdf",
];

/// Finds email addresses.
#[derive(Debug, Clone)]
pub(crate) struct Email {
    regex: Regex,
}

impl Email {
    /// Compiles the detector.
    pub(crate) fn new() -> Email {
        Email {
            regex: Regex::new(PATTERN).expect("the email pattern is valid"),
        }
    }
}

impl Detector for Email {
    fn needs(&self) -> Needs {
        Needs {
            at_signs: 1,
            dots: 1,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        for candidate in self.regex.find_iter(text) {
            let address = candidate.as_str();
            let tld = address.rsplit('.').next().unwrap_or_default();
            if !FILE_EXTENSIONS
                .iter()
                .any(|extension| tld.eq_ignore_ascii_case(extension))
            {
                found(candidate.start(), candidate.end());
            }
        }
    }

    /// Lowercased, with `%40` decoded, so `Bob@Example.com` and `bob%40example.com` hash alike.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        let mut rest = matched.as_bytes();
        while let Some((&byte, tail)) = rest.split_first() {
            if byte == b'%' && tail.starts_with(b"40") {
                sink(b"@");
                rest = &tail[2..];
            } else {
                sink(&[byte.to_ascii_lowercase()]);
                rest = tail;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn finds_email_addresses() {
        let positives = [
            ("bob@example.com", "bob@example.com"),
            (
                "mail Bob.Smith+tag@mail.example.co.uk today",
                "Bob.Smith+tag@mail.example.co.uk",
            ),
            ("<bob@example.com>", "bob@example.com"),
            ("mailto:bob@example.com", "bob@example.com"),
            (
                "user not found: bob_99@sub-domain.example.io.",
                "bob_99@sub-domain.example.io",
            ),
            ("/reset?email=bob%40example.com&next=/", "bob%40example.com"),
            (
                "postgres://ann:hunter2@db.example.org/app",
                "hunter2@db.example.org",
            ),
            ("Grüße an ann@example.de!", "ann@example.de"),
            (r#"{"email":"ann@example.com"}"#, "ann@example.com"),
        ];
        let negatives = [
            "bob@localhost",
            "user@host",
            "a@b",
            "@example.com",
            "foo@bar.123",
            "/static/logo@2x.png",
            "icon@3x.WEBP",
            "nginx@sha256:4bf92f3577b34da6",
            "npm i @scope/package@1.2.3",
            "bob at example dot com",
            "ord-2024-000123",
            "2024-01-15T10:30:00Z",
            "v10.4.1-beta",
            "100%",
        ];
        testing::check(&Email::new(), &positives, &negatives);
    }

    #[test]
    fn hashes_every_spelling_alike() {
        let email = Email::new();
        assert_eq!(
            testing::canonical(&email, "Bob@Example.COM"),
            "bob@example.com"
        );
        assert_eq!(
            testing::canonical(&email, "bob%40example.com"),
            "bob@example.com"
        );
    }
}
