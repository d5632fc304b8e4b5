//! Email addresses, also URL-encoded as in `?email=bob%40example.com`.
//!
//! What matches is what this pattern matches (leftmost first, greedy, as the `regex` crate
//! matches it; the tests check the scanner against the regex on random text):
//!
//! ```text
//! [A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?-u:\b)
//! ```
//!
//! that is: a local part, `@` (or `%40`), domain labels, then a top-level domain of letters not
//! glued to a following letter, digit or `_`. A scanner instead of the regex: addresses are
//! the most common PII in span attributes, and inside a plugin the regex's searches (a literal
//! search for `@`, then a reverse and a forward lazy DFA) cost several times this scan.

use super::{Buffers, Detector, Needs, is_word, run_end};

/// Image and asset names with a retina suffix (`logo@2x.png`) look like addresses; no real
/// top-level domain has these names.
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "ico", "bmp", "css", "js", "mjs", "map",
    "json", "html", "htm", "txt", "xml", "pdf",
];

/// The longest top-level domain the pattern accepts, in letters.
const MAX_TLD: usize = 24;

/// Finds email addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Email;

/// Whether `byte` may appear in the local part (before the `@`).
fn is_local(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'+' | b'-')
}

/// Whether `byte` may appear in a domain label.
fn is_label(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

/// Where a top-level domain starting at `from` ends: two to 24 letters, then no letter, digit
/// or `_`.
fn tld_end(bytes: &[u8], from: usize) -> Option<usize> {
    let letters = bytes[from..]
        .iter()
        .take(MAX_TLD + 1)
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let end = from + letters;
    ((2..=MAX_TLD).contains(&letters) && !bytes.get(end).is_some_and(|&b| is_word(b)))
        .then_some(end)
}

/// Where an address whose domain starts at `from` ends, if it has one: its first label, then
/// up to the last later label that is a top-level domain (the pattern's greedy repetition of
/// labels gives back labels only until the one after them is a top-level domain). A label
/// after an empty one is never reached.
fn domain_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut end = run_end(bytes, from, is_label);
    if end == from {
        return None;
    }
    let mut last = None;
    while bytes.get(end) == Some(&b'.') {
        let label = end + 1;
        last = tld_end(bytes, label).or(last);
        end = run_end(bytes, label, is_label);
        if end == label {
            break;
        }
    }
    last
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
        let bytes = text.as_bytes();
        // A match starts no earlier than the end of the one before (found or filtered).
        let mut resume = 0;
        let mut at = 0;
        while let Some(offset) = bytes[at..].iter().position(|&b| b == b'@' || b == b'%') {
            let separator = at + offset;
            at = separator + 1;
            let domain = match bytes[separator] {
                b'@' => separator + 1,
                _ if bytes[separator + 1..].starts_with(b"40") => separator + 3,
                _ => continue,
            };
            // The local part is the run of its bytes just before the separator: a match
            // starting anywhere in it would need this separator, so the earliest start wins.
            let mut start = separator;
            while start > resume && is_local(bytes[start - 1]) {
                start -= 1;
            }
            if start == separator {
                continue;
            }
            let Some(end) = domain_end(bytes, domain) else {
                continue;
            };
            let tld = text[..end].rsplit('.').next().unwrap_or_default();
            if !FILE_EXTENSIONS
                .iter()
                .any(|extension| tld.eq_ignore_ascii_case(extension))
            {
                found(start, end);
            }
            resume = end;
            at = end;
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
        testing::check(&Email, &positives, &negatives);
    }

    #[test]
    fn hashes_every_spelling_alike() {
        let email = Email;
        assert_eq!(
            testing::canonical(&email, "Bob@Example.COM"),
            "bob@example.com"
        );
        assert_eq!(
            testing::canonical(&email, "bob%40example.com"),
            "bob@example.com"
        );
    }

    /// The pattern the scanner implements, as the `regex` crate matches it, with the same
    /// file-extension filter: the reference the scanner must agree with.
    fn by_regex(text: &str) -> Vec<(usize, usize)> {
        thread_local! {
            static PATTERN: regex::Regex = regex::Regex::new(
                r"[A-Za-z0-9._+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?-u:\b)",
            )
            .unwrap();
        }
        PATTERN.with(|regex| {
            regex
                .find_iter(text)
                .filter(|m| {
                    let tld = m.as_str().rsplit('.').next().unwrap_or_default();
                    !FILE_EXTENSIONS.iter().any(|e| tld.eq_ignore_ascii_case(e))
                })
                .map(|m| (m.start(), m.end()))
                .collect()
        })
    }

    fn by_scanner(text: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        Email.find(text, &mut Buffers::default(), &mut |start, end| {
            found.push((start, end))
        });
        found
    }

    #[test]
    fn agrees_with_the_pattern_on_edge_cases() {
        for text in [
            "a@b@example.com",
            "x@example.com.y@z.org",
            "a%40b%40example.com",
            "bob@@example.com",
            "bob@example..com",
            "bob@example.co-uk",
            "bob@example.com_x",
            "bob@example.c0m",
            "bob@mail.example.comé",
            "bob@example.abcdefghijklmnopqrstuvwxyz",
            "bob@example.abcdefghijklmnopqrstuvwx",
            "bob@example.com.",
            "bob@example.c.om",
            "bob@sub.ex-ample.io.x1.uk!",
            "%40example.com",
            "a%4example.com",
            "a%",
            "a@",
            ".@a.bc",
            "a@b.cd@e.fg",
            "a@b.png@c.de",
            "first@a.io second+x@b.museum",
        ] {
            assert_eq!(by_scanner(text), by_regex(text), "{text:?}");
        }
    }

    #[test]
    fn agrees_with_the_pattern_on_random_text() {
        // Short strings over the bytes that matter to the pattern: the scanner and the regex
        // must find the same ranges in every one.
        // Texts built as noise, a local part, a separator and a domain (each from pieces
        // that bend the rules), so that addresses and near-addresses are common.
        const NOISE: [&str; 8] = ["", " ", "é", "x", "_", ".", "@", "%"];
        const LOCAL: [&str; 8] = ["bob", "a.b", "+", "-", "_", "40", "", "1"];
        const SEPARATOR: [&str; 6] = ["@", "@", "%40", "%4", "@@", "%40%40"];
        const DOMAIN: [&str; 14] = [
            "ex",
            "a-b",
            "1",
            ".",
            ".",
            ".co",
            ".com",
            ".png",
            "_",
            "é",
            "-",
            ".c0",
            ".abcdefghijklmnopqrstuvwxy",
            ".museum",
        ];
        let mut next = testing::numbers_below(0x9e37_79b9_7f4a_7c15);
        let mut with_matches = 0;
        for _ in 0..40_000 {
            let mut text = String::new();
            for _ in 0..1 + next(2) {
                text.push_str(NOISE[next(NOISE.len())]);
                for _ in 0..1 + next(2) {
                    text.push_str(LOCAL[next(LOCAL.len())]);
                }
                text.push_str(SEPARATOR[next(SEPARATOR.len())]);
                text.push_str(["ex", ""][next(2)]);
                for _ in 0..1 + next(5) {
                    text.push_str(DOMAIN[next(DOMAIN.len())]);
                }
            }
            text.push_str(NOISE[next(NOISE.len())]);
            let expected = by_regex(&text);
            assert_eq!(by_scanner(&text), expected, "{text:?}");
            with_matches += usize::from(!expected.is_empty());
        }
        // Not a vacuous agreement on texts without addresses.
        assert!(with_matches > 5_000, "{with_matches} texts with matches");
    }
}
