//! Glob patterns over attribute keys (`*.password`, `*secret*`, `http.request.header.?uthorization`).
//!
//! Only two wildcards exist: `*` matches any run of characters (including none) and `?` matches
//! exactly one character. Everything else matches itself, ignoring ASCII case, so
//! `*password*` also catches `db.Password`.
//!
//! The matcher never backtracks. A pattern is split at its stars into segments, e.g.
//! `a*b?c*d` into `a`, `b?c`, `d`: the first segment must match at the start of the key, the last
//! at the end, and each middle segment is placed at its leftmost match after the previous one.
//! Leftmost placement is always safe (a later placement could only leave less room for the
//! segments after it), so there is nothing to undo. Matching costs at most
//! O(key length × pattern length), with no pattern that blows up: linear in the key for a given
//! pattern.

/// One position of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// `?`: any one character.
    AnyChar,
    /// A literal byte, ASCII-lowercased.
    Byte(u8),
}

/// A compiled glob pattern.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    /// The text between stars; a pattern without `*` has exactly one segment.
    segments: Vec<Vec<Token>>,
}

impl Glob {
    /// Compiles `pattern`.
    pub(crate) fn new(pattern: &str) -> Glob {
        let segments = pattern
            .split('*')
            .map(|segment| {
                segment
                    .bytes()
                    .map(|b| match b {
                        b'?' => Token::AnyChar,
                        b => Token::Byte(b.to_ascii_lowercase()),
                    })
                    .collect()
            })
            .collect();
        Glob { segments }
    }

    /// Whether `key` matches the whole pattern.
    pub(crate) fn matches(&self, key: &str) -> bool {
        self.matches_bytes(key.as_bytes())
    }

    /// Whether `text` matches the whole pattern: [`matches`](Self::matches) for names that
    /// may not be valid UTF-8, such as a percent-decoded URL parameter name.
    pub(crate) fn matches_bytes(&self, text: &[u8]) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return text.is_empty(),
        };
        let Some(mut position) = match_at(first, text, 0) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            // No star: the single segment must cover the whole key.
            return position == text.len();
        };
        for segment in middle {
            match find(segment, text, position) {
                Some(end) => position = end,
                None => return false,
            }
        }
        // The last segment must end exactly at the end of the key, starting at or after
        // `position`. Its width in bytes depends on what `?` covers, so try each start.
        char_starts(text, position).any(|start| match_at(last, text, start) == Some(text.len()))
    }
}

/// Where `segment` ends if it matches `text` at byte `start`.
fn match_at(segment: &[Token], text: &[u8], start: usize) -> Option<usize> {
    let mut position = start;
    for token in segment {
        let &byte = text.get(position)?;
        match *token {
            Token::AnyChar => position += utf8_width(byte),
            Token::Byte(expected) => {
                if byte.to_ascii_lowercase() != expected {
                    return None;
                }
                position += 1;
            }
        }
    }
    (position <= text.len()).then_some(position)
}

/// Where the leftmost match of `segment` at or after `from` ends.
fn find(segment: &[Token], text: &[u8], from: usize) -> Option<usize> {
    char_starts(text, from).find_map(|start| match_at(segment, text, start))
}

/// The byte offsets of the characters of `text` from `from` on, plus the end of the text.
fn char_starts(text: &[u8], from: usize) -> impl Iterator<Item = usize> + '_ {
    (from..=text.len()).filter(move |&i| i == text.len() || !is_continuation(text[i]))
}

/// Whether `byte` continues a multi-byte UTF-8 character.
fn is_continuation(byte: u8) -> bool {
    byte & 0b1100_0000 == 0b1000_0000
}

/// How many bytes the UTF-8 character starting with `byte` takes.
fn utf8_width(byte: u8) -> usize {
    match byte {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_shapes() {
        let table = [
            ("*.password", "db.password", true),
            ("*.password", "user.password", true),
            ("*.password", "password", false),
            ("*.password", "db.password.hint", false),
            (
                "http.request.header.authorization",
                "http.request.header.authorization",
                true,
            ),
            (
                "http.request.header.authorization",
                "http.request.header.authorizations",
                false,
            ),
            ("*secret*", "secret", true),
            ("*secret*", "aws.secret_access_key", true),
            ("*secret*", "client_SECRET", true),
            ("*secret*", "secre", false),
            ("user.?d", "user.id", true),
            ("user.?d", "user.ééd", false),
            ("user.?d", "user.éd", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxcyyb", false),
            ("a*", "a", true),
            ("*", "", true),
            ("*", "anything.at.all", true),
            ("", "", true),
            ("", "a", false),
            ("**", "x", true),
            ("?", "", false),
            ("*?", "x", true),
            ("*ab", "aab", true),
            ("ab*ab", "ab", false),
            ("ab*ab", "abab", true),
            ("*a?c*", "xxabcxx", true),
            ("*a?c*", "xxacxx", false),
        ];
        for (pattern, key, expected) in table {
            assert_eq!(
                Glob::new(pattern).matches(key),
                expected,
                "{pattern:?} against {key:?}"
            );
        }
    }

    #[test]
    fn adversarial_patterns_do_not_backtrack() {
        // A backtracking matcher explores exponentially many ways to split this key among the
        // stars; this one places each segment once.
        let key = "a".repeat(20_000);
        let glob = Glob::new("*a*a*a*a*a*a*a*a*a*a*b");
        assert!(!glob.matches(&key));
        assert!(Glob::new("*a*a*a*a*a*a*a*a*a*a*").matches(&key));
        let key = format!("{}b", "a?".repeat(10_000));
        assert!(Glob::new("*a?a?a?a?a?a?b").matches(&key));
    }
}
