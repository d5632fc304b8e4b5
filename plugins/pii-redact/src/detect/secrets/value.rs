//! Whether the value after a secret-like key name is a secret: the judgement of
//! [`assignment`](super::assignment), by the value's shape alone.

use super::assignment::Strength;
use super::is_documented_example;

/// The shortest value taken for a secret.
const MIN_VALUE: usize = 6;

/// Whether `value`, after a key of `strength`, is a secret rather than a word, placeholder,
/// URL, path, version or documented example.
pub(super) fn is_secret(value: &[u8], strength: Strength) -> bool {
    value.len() >= MIN_VALUE
        && !is_placeholder(value)
        && !is_documented_example(value)
        && !is_url(value)
        && !is_path(value)
        && !is_version(value)
        && match strength {
            Strength::Strong => !is_plain(value),
            Strength::Weak => value.len() >= 8 && looks_generated(value),
        }
}

/// Ordinary words: letters, with `-`, `_`, `.`, `'` and spaces between them, each word
/// lowercase, capitalised or all capitals (`expired`, `Not_Set`, `REDACTED`, `reset link`).
fn is_plain(value: &[u8]) -> bool {
    value
        .iter()
        .all(|&b| b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.' | b'\'' | b' '))
        && !has_mixed_case(value)
}

/// Whether a run of letters in `value` mixes cases other than as a capitalised word
/// (`bPxRf`, `SuperSecret`).
fn has_mixed_case(value: &[u8]) -> bool {
    value.split(|b| !b.is_ascii_alphabetic()).any(|word| {
        let tail = word.get(1..).unwrap_or_default();
        !(tail.iter().all(u8::is_ascii_lowercase) || word.iter().all(u8::is_ascii_uppercase))
    })
}

/// Whether `value` looks generated rather than written: two digits or more, letters of mixed
/// case, or a symbol other than word punctuation. `abc123def`, `hunter2!x` and base64 do;
/// `oauth2-client` and `expired` do not.
fn looks_generated(value: &[u8]) -> bool {
    let digits = value.iter().filter(|b| b.is_ascii_digit()).count();
    let symbol = value
        .iter()
        .any(|&b| b.is_ascii_punctuation() && !matches!(b, b'-' | b'_' | b'.' | b'\''));
    digits >= 2 || symbol || has_mixed_case(value)
}

/// Masks and templates: one repeated character (`********`), `<...>`, `[...]` (an earlier
/// redaction), `{...}`, `${...}`, `$VARIABLE`, `%(name)s`.
fn is_placeholder(value: &[u8]) -> bool {
    let (first, last) = (value[0], value[value.len() - 1]);
    value.iter().all(|&b| b == first)
        || (first == b'<' && last == b'>')
        || (first == b'[' && last == b']')
        || first == b'{'
        || value.starts_with(b"%(")
        || (first == b'$'
            && value
                .get(1)
                .is_some_and(|b| b.is_ascii_uppercase() || *b == b'{'))
        || value.windows(b"[REDACTED".len()).any(|w| w == b"[REDACTED")
}

/// A URL: a scheme of letters, then `://`.
fn is_url(value: &[u8]) -> bool {
    let scheme = value
        .iter()
        .take(16)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-'))
        .count();
    scheme > 0 && value[scheme..].starts_with(b"://")
}

/// A file path: starting with `/`, `./`, `../`, `~/` or a drive (`C:\`), made of path
/// characters, with no word of mixed case (which base64 secrets have).
fn is_path(value: &[u8]) -> bool {
    let rooted = value.starts_with(b"/")
        || value.starts_with(b"./")
        || value.starts_with(b"../")
        || value.starts_with(b"~/")
        || (value.len() > 3 && value[0].is_ascii_alphabetic() && &value[1..3] == b":\\");
    rooted
        && value.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'/' | b'\\' | b'.' | b'-' | b'_' | b'~' | b':')
        })
        && !has_mixed_case(value)
}

/// A version: an optional `v`, numbers joined by dots, then optionally `-` or `+` and a suffix
/// (`v10.4.1`, `2.31.0-rc.1+build.5`).
fn is_version(value: &[u8]) -> bool {
    let numbers = value.strip_prefix(b"v").unwrap_or(value);
    let len = numbers
        .iter()
        .take_while(|&&b| b.is_ascii_digit() || b == b'.')
        .count();
    let (core, suffix) = numbers.split_at(len);
    core.first().is_some_and(u8::is_ascii_digit)
        && core.contains(&b'.')
        && (suffix.is_empty()
            || (matches!(suffix[0], b'-' | b'+')
                && suffix
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))))
}
