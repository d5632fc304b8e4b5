//! Secrets after secret-like key names in text: `password=hunter2!x`, `"client_secret": "..."`,
//! `DB_PASSWORD=...`, `user[password]=...`, `x-api-key: ...`, `Authorization: Basic ...`.
//! Only the value is masked; the key name stays.
//!
//! A key is the identifier before `=`, `:`, `=>` or `:=` (quoted or not, spaces allowed),
//! split into words at `_`, `-`, `.` and case changes (`clientSecret`, `APIKey`); its last
//! words decide ([`strength`]). A value is the quoted string after the separator, or the run of
//! bytes up to a space, quote or delimiter (`,;|)]}>`, or an `&` that starts the next query
//! parameter). What is plainly not a secret passes ([`is_secret`]): ordinary words
//! (`token: expired`), placeholders (`********`, `<redacted>`, `${API_KEY}`), URLs, paths,
//! version numbers and documented example keys. A password made only of ordinary words
//! (`password=sunshine`) cannot be told from prose and passes too.

use super::super::words::{any_marked, equal};
use super::value::is_secret;

/// The longest key name read back from a separator.
const MAX_KEY: usize = 64;

/// The longest quoted value looked for; a longer one is read as unquoted.
const MAX_QUOTED: usize = 512;

/// How much a key name says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Strength {
    /// `password`, `secret`, `api_key`, `credentials`...: the value is a secret unless it is
    /// plainly not one.
    Strong,
    /// `token`, `auth`, `signature`: also words of status messages (`token: expired`,
    /// `auth: ok`), so the value must look generated (two digits, mixed case or a symbol).
    Weak,
}

/// A secret-like key before a separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    strength: Strength,
    /// Whether the key names an `Authorization` header, whose value may start with a scheme.
    authorization: bool,
    /// Whether the key is a URL's user name (`https://token:<secret>@host`).
    in_url: bool,
}

/// Finds the values of secret-like keys.
pub(super) fn values(text: &str, found: &mut dyn FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut resume = 0;
    let mut stops = None;
    any_marked(
        bytes,
        |low| equal(low, b'=') | equal(low, b':'),
        |separator| {
            if separator >= resume
                && let Some(key) = key_before(bytes, separator)
                && let Some((start, end)) = value_after(bytes, separator, key, &mut stops)
            {
                found(start, end);
                resume = end;
            }
            false
        },
    );
}

/// The secret-like key that the separator at `separator` follows, if any. Comparisons
/// (`==`, `!=`, `<=`), paths (`a::b`) and URL schemes (`https://`) are not assignments.
pub(super) fn key_before(bytes: &[u8], separator: usize) -> Option<Key> {
    let after = &bytes[separator + 1..];
    match bytes[separator] {
        b'=' if after.starts_with(b"=") => return None,
        b':' if after.starts_with(b":") || after.starts_with(b"//") => return None,
        _ => {}
    }
    let mut end = separator;
    while end > 0 && bytes[end - 1] == b' ' && separator - end < 3 {
        end -= 1;
    }
    if end > 0 && matches!(bytes[end - 1], b'"' | b'\'') {
        end -= 1;
        if end > 0 && bytes[end - 1] == b'\\' {
            end -= 1;
        }
    }
    let bracket = end > 0 && bytes[end - 1] == b']';
    end -= usize::from(bracket);
    let len = bytes[..end]
        .iter()
        .rev()
        .take(MAX_KEY + 1)
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        .count();
    let start = end - len;
    if len == 0 || len > MAX_KEY || (bracket && (start == 0 || bytes[start - 1] != b'[')) {
        return None;
    }
    let name = &bytes[start..end];
    Some(Key {
        strength: strength(name)?,
        authorization: ends_with_word(name, b"auth") || ends_with_word(name, b"authorization"),
        in_url: bytes[..start].ends_with(b"://"),
    })
}

/// How strongly the key `name` promises a secret, judged by its last word (and the one before
/// it, for `api_key` and the like); `None` when it does not.
fn strength(name: &[u8]) -> Option<Strength> {
    const STRONG_ENDINGS: &[&[u8]] = &[
        b"password",
        b"passwd",
        b"pwd",
        b"passphrase",
        b"secret",
        b"credential",
        b"credentials",
        b"apikey",
        b"secretkey",
        b"accesskey",
        b"privatekey",
        b"accountkey",
        b"masterkey",
        b"signingkey",
        b"encryptionkey",
    ];
    /// Words that make a following `key` a secret one: `api_key`, `x-api-key`, `AccountKey`.
    const KEY_QUALIFIERS: &[&[u8]] = &[
        b"api",
        b"access",
        b"secret",
        b"private",
        b"account",
        b"master",
        b"signing",
        b"encryption",
        b"client",
        b"app",
        b"auth",
    ];
    const WEAK_ENDINGS: &[&[u8]] = &[b"token", b"auth", b"authorization", b"signature"];
    let start = word_start(name, name.len());
    let last = &name[start..];
    let previous = match start.checked_sub(1) {
        Some(separator) if matches!(name[separator], b'_' | b'-' | b'.') => {
            &name[word_start(name, separator)..separator]
        }
        _ => &name[word_start(name, start)..start],
    };
    let is = |word: &[u8], options: &[&[u8]]| options.iter().any(|o| word.eq_ignore_ascii_case(o));
    let ends = |options: &[&[u8]]| options.iter().any(|o| ends_with_ignore_case(last, o));
    if ends(STRONG_ENDINGS)
        || is(last, &[b"pass"])
        || (is(last, &[b"key"]) && is(previous, KEY_QUALIFIERS))
    {
        Some(Strength::Strong)
    } else if ends(WEAK_ENDINGS) || is(last, &[b"sig"]) {
        Some(Strength::Weak)
    } else {
        None
    }
}

/// Whether the last word of `name` ends with `ending`, ASCII case ignored.
fn ends_with_word(name: &[u8], ending: &[u8]) -> bool {
    ends_with_ignore_case(&name[word_start(name, name.len())..], ending)
}

/// Whether `text` ends with `ending`, ASCII case ignored.
fn ends_with_ignore_case(text: &[u8], ending: &[u8]) -> bool {
    text.len() >= ending.len() && text[text.len() - ending.len()..].eq_ignore_ascii_case(ending)
}

/// Where the word of `name` that ends at `end` starts: after a `_`, `-` or `.`, at a capital
/// after a lowercase letter or digit (`apiKey`), or at the last capital of a run followed by a
/// lowercase letter (`APIKey`).
fn word_start(name: &[u8], end: usize) -> usize {
    for i in (0..end).rev() {
        let byte = name[i];
        if matches!(byte, b'_' | b'-' | b'.') {
            return i + 1;
        }
        if byte.is_ascii_uppercase() && i > 0 {
            let before = name[i - 1];
            let next_lower = name.get(i + 1).is_some_and(u8::is_ascii_lowercase) && i + 1 < end;
            if before.is_ascii_lowercase()
                || before.is_ascii_digit()
                || (before.is_ascii_uppercase() && next_lower)
            {
                return i;
            }
        }
    }
    0
}

/// The cached end of the last unquoted run found: no stop byte lies in `from..at`.
#[derive(Debug, Clone, Copy)]
struct Stops {
    from: usize,
    at: usize,
}

/// The byte range of the secret value after `separator`, if it is one.
fn value_after(
    bytes: &[u8],
    separator: usize,
    key: Key,
    stops: &mut Option<Stops>,
) -> Option<(usize, usize)> {
    let mut start = separator + 1;
    // `=>` and `:=`.
    if matches!(
        (bytes[separator], bytes.get(start)),
        (b'=', Some(b'>')) | (b':', Some(b'='))
    ) {
        start += 1;
    }
    start += bytes[start..]
        .iter()
        .take(8)
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    // A quote that does not close (a value cut at a length limit) is skipped.
    let (mut start, close) = match quoted_value(bytes, start) {
        Some((open, close)) => (open, Some(close)),
        None => (start + opening_quote(&bytes[start..]), None),
    };
    if key.authorization {
        start = after_scheme(bytes, start)?;
    }
    let mut end = match close {
        Some(close) => close,
        None => unquoted_end(bytes, start, stops),
    };
    if key.in_url {
        // Only a URL's user info: the value must end at `@`.
        end = start
            + bytes[start..end]
                .iter()
                .position(|&b| b == b'@' || b == b'/')?;
        if bytes[end] != b'@' {
            return None;
        }
    }
    while end > start && bytes[end - 1] == b'.' {
        end -= 1;
    }
    (start < end && is_secret(&bytes[start..end], key.strength)).then_some((start, end))
}

/// Where the content of a quoted value opening at `at` (with `"`, `'` or an escaped `\"`)
/// starts and ends, if it closes within [`MAX_QUOTED`] bytes on the same line.
fn quoted_value(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    let escaped = bytes.get(at) == Some(&b'\\');
    let quote = *bytes.get(at + usize::from(escaped))?;
    if !matches!(quote, b'"' | b'\'') {
        return None;
    }
    let open = at + 1 + usize::from(escaped);
    let close = bytes[open..]
        .iter()
        .take(MAX_QUOTED)
        .take_while(|&&b| b != b'\n')
        .enumerate()
        .position(|(i, &b)| {
            let at = open + i;
            let escape_before = at > open && bytes[at - 1] == b'\\';
            b == quote && escape_before == escaped
        })?;
    Some((open, open + close - usize::from(escaped)))
}

/// The length of the quote (`"`, `'`, `\"` or `\'`) that `text` starts with, 0 without one.
fn opening_quote(text: &[u8]) -> usize {
    match text {
        [b'"' | b'\'', ..] => 1,
        [b'\\', b'"' | b'\'', ..] => 2,
        _ => 0,
    }
}

/// `at`, moved past an authorization scheme whose credentials follow as one token (`Basic `,
/// `Bearer `, `Token `) if one starts there; `None` for the schemes whose credentials are
/// `name=value` parameters (`Digest `, `AWS4-HMAC-SHA256 `), which are judged one by one
/// (`Credential=`, `Signature=`).
fn after_scheme(bytes: &[u8], at: usize) -> Option<usize> {
    let starts = |scheme: &[u8]| {
        bytes.len() >= at + scheme.len()
            && bytes[at..at + scheme.len()].eq_ignore_ascii_case(scheme)
    };
    if starts(b"digest ") || starts(b"aws4-hmac-sha256 ") {
        return None;
    }
    for scheme in [&b"basic "[..], b"bearer ", b"token "] {
        if starts(scheme) {
            let after = at + scheme.len();
            return Some(after + bytes[after..].iter().take_while(|&&b| b == b' ').count());
        }
    }
    Some(at)
}

/// Where the unquoted value starting at `start` ends: at the first stop byte. Which bytes stop
/// a value depends on their position only, so the last run found is cached in `stops`: the
/// values of the separators inside one long run are not scanned again.
fn unquoted_end(bytes: &[u8], start: usize, stops: &mut Option<Stops>) -> usize {
    if let Some(cached) = *stops
        && (cached.from..=cached.at).contains(&start)
    {
        return cached.at;
    }
    let at = (start..bytes.len())
        .find(|&i| is_stop(bytes, i))
        .unwrap_or(bytes.len());
    *stops = Some(Stops { from: start, at });
    at
}

/// Whether the byte at `i` ends an unquoted value: white space, a quote, a delimiter, or an
/// `&` before the next query parameter (`&user=`; an `&` inside a password stays).
fn is_stop(bytes: &[u8], i: usize) -> bool {
    match bytes[i] {
        b' ' | b'\t' | b'\n' | b'\r' | b'"' | b'\'' | b'`' | b',' | b';' | b'|' | b')' | b']'
        | b'}' | b'<' | b'>' | b'\\' => true,
        b'&' => {
            let name = bytes[i + 1..]
                .iter()
                .take(MAX_KEY)
                .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
                .count();
            name > 0 && bytes.get(i + 1 + name) == Some(&b'=')
        }
        _ => false,
    }
}
