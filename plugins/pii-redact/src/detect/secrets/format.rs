//! Formats made of a literal prefix and a body of one alphabet, and the scan that finds them.

use super::super::words::{any_marked, equal};
use super::{ends_apart, looks_random, starts_apart};

/// A credential format: one of some literal prefixes, then a body of `min..=max` bytes of one
/// alphabet, standing apart from the words around it, accepted by `valid`.
pub(super) struct Format {
    /// The prefixes, any of which starts a credential.
    pub(super) prefixes: &'static [&'static str],
    /// The body's alphabet.
    pub(super) alphabet: fn(u8) -> bool,
    /// The fewest bytes in the body.
    pub(super) min: usize,
    /// The most bytes in the body; a longer run of the alphabet is some other thing.
    pub(super) max: usize,
    /// A last check of the whole token (prefix and body), such as a checksum.
    pub(super) valid: fn(&[u8]) -> bool,
}

impl Format {
    /// Where a token of this format starting at `start` ends, if one does. The body must also
    /// look generated ([`looks_random`]), which turns away placeholders.
    pub(super) fn token_at(&self, bytes: &[u8], start: usize) -> Option<usize> {
        let prefix = self
            .prefixes
            .iter()
            .find(|prefix| bytes[start..].starts_with(prefix.as_bytes()))?;
        let body = start + prefix.len();
        let len = bytes[body..]
            .iter()
            .take(self.max + 1)
            .take_while(|&&b| (self.alphabet)(b))
            .count();
        let end = body + len;
        ((self.min..=self.max).contains(&len)
            && ends_apart(bytes, end)
            && looks_random(&bytes[body..end])
            && (self.valid)(&bytes[start..end]))
        .then_some(end)
    }
}

/// Reports every token of `formats` in `text`, left to right. Only the bytes that begin a
/// prefix are visited (found a word at a time), each where a token may start.
pub(super) fn scan(text: &str, formats: &[Format], found: &mut dyn FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut firsts = [0u8; 8];
    let mut count = 0;
    for first in formats
        .iter()
        .flat_map(|format| format.prefixes)
        .map(|prefix| prefix.as_bytes()[0])
    {
        if !firsts[..count].contains(&first) {
            firsts[count] = first;
            count += 1;
        }
    }
    let firsts = &firsts[..count];
    let mut resume = 0;
    any_marked(
        bytes,
        |low| {
            firsts
                .iter()
                .fold(0, |marks, &first| marks | equal(low, first))
        },
        |start| {
            if start >= resume
                && starts_apart(bytes, start)
                && let Some(end) = formats.iter().find_map(|f| f.token_at(bytes, start))
            {
                found(start, end);
                resume = end;
            }
            false
        },
    );
}

/// Any token is valid.
pub(super) fn any(_: &[u8]) -> bool {
    true
}

/// ASCII letters and digits.
pub(super) fn base62(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// The URL-safe base64 alphabet: letters, digits, `-` and `_`.
pub(super) fn base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Lowercase hex digits.
pub(super) fn hex_lower(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMATS: &[Format] = &[
        Format {
            prefixes: &["ab_", "cd-"],
            alphabet: base62,
            min: 8,
            max: 10,
            valid: any,
        },
        Format {
            prefixes: &["ab_long_"],
            alphabet: hex_lower,
            min: 4,
            max: 4,
            valid: |token| !token.ends_with(b"0"),
        },
    ];

    fn tokens(text: &str) -> Vec<&str> {
        let mut found = Vec::new();
        scan(text, FORMATS, &mut |start, end| {
            found.push(&text[start..end])
        });
        found
    }

    #[test]
    fn finds_each_format_between_its_bounds() {
        assert_eq!(
            tokens("ab_Xy123456 cd-Zz0987654 ab_long_1a2b"),
            ["ab_Xy123456", "cd-Zz0987654", "ab_long_1a2b"]
        );
        assert_eq!(
            tokens("\"ab_Xy123456\" %22cd-Zz0987654%22"),
            ["ab_Xy123456", "cd-Zz0987654"]
        );
        // Too short, too long, glued before or after, a placeholder, refused by `valid`.
        for clean in [
            "ab_Xy12345",
            "ab_Xy123456789",
            "xab_Xy123456",
            "ab_Xy123456_x",
            "ab_xxxxxxxxx",
            "ab_long_1a20",
            "ab_ cd-",
        ] {
            assert_eq!(tokens(clean), Vec::<&str>::new(), "{clean:?}");
        }
    }
}
