//! The URL sanitizer: masks the password of `scheme://user:password@host` and the values of
//! secret-like parameters (`?api_key=...`, `#access_token=...`, `;password=...`), and leaves
//! every other byte of the URL as it was.
//!
//! A value of a URL key is read as one of:
//!
//! - a URL with a scheme (`https://...`, also behind a prefix such as `jdbc:postgresql://`) or
//!   a protocol-relative one (`//host/...`): the authority's userinfo, then the path's `;`
//!   parameters, the query and the fragment;
//! - a path or a reference holding a `?` (`/search?q=1`, `search?q=1`): the same without an
//!   authority;
//! - anything else, a bare query or connection string (`q=1&token=x`,
//!   `Server=db;Password=x;`): parameters from the first byte, separated by `&` or `;`.
//!
//! Inside free text (any other scanned string), each `scheme://` URL, up to the first
//! whitespace, quote or angle bracket, is sanitized the same way.
//!
//! Parameters: a name starts after `?`, `&`, `;` or `#` (only after `;` in a path, where `/`
//! ends it); its value runs from the `=` to the next `&`, `;`, `#` or `?` (in a path, also
//! `/`). The name is percent-decoded before it is compared with the secret-parameter globs,
//! so `api%5Fkey` is `api_key`. The value is masked as it is written, encoded or not.
//!
//! The userinfo ends at the last `@` of the authority (the part after `://` up to the first
//! `/`, `?`, `#`, whitespace or quote), so a password holding a raw `@` is masked whole; a
//! password holding a raw `/`, `?` or `#` is not a URL any parser reads, and is not found.
//!
//! Each byte is looked at a bounded number of times: the search for `://` resumes after each
//! URL, and a parameter's value is skipped in one step.

use super::{Fill, Rewrite, find};
use crate::glob::Glob;

/// Values a sanitizer leaves alone because they are already redacted: the semantic
/// conventions' `REDACTED`, or a run of `*`.
fn already_redacted(value: &[u8], masks: &[&str]) -> bool {
    value == b"REDACTED"
        || value.iter().all(|&b| b == b'*')
        || masks.iter().any(|mask| mask.as_bytes() == value)
}

/// The URL sanitizer's compiled settings.
#[derive(Debug)]
pub(crate) struct Url {
    /// The names of the parameters whose values are masked.
    secret_params: Vec<Glob>,
    /// The masks written for a password and a parameter value: values equal to one of them
    /// are left alone, so a value sanitized once is not rewritten again.
    masks: [String; 2],
}

/// Whether `byte` may appear in a URL scheme after its first letter.
fn is_scheme(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.')
}

/// Whether `byte` ends a URL written inside free text.
fn ends_url_in_text(byte: u8) -> bool {
    byte.is_ascii_whitespace()
        || byte.is_ascii_control()
        || matches!(byte, b'"' | b'\'' | b'<' | b'>' | b'`')
}

/// Whether `byte` ends an authority: the start of the path, query or fragment, or the end of
/// a URL inside text.
fn ends_authority(byte: u8) -> bool {
    matches!(byte, b'/' | b'?' | b'#' | b'\\') || ends_url_in_text(byte)
}

/// Where a parser of a URL stands: before the query (`/` ends a parameter) or after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The path (or an authority with `;` parameters, as JDBC URLs write them).
    Path,
    /// The query or the fragment.
    Params,
}

impl Url {
    /// A sanitizer masking the values of the parameters named by `secret_params` (globs,
    /// ASCII case ignored); `masks` are the password's and a parameter's masks.
    pub(crate) fn new(secret_params: &[String], masks: [String; 2]) -> Url {
        Url {
            secret_params: secret_params.iter().map(|p| Glob::new(p)).collect(),
            masks,
        }
    }

    /// The masks, for [`already_redacted`].
    fn masks(&self) -> [&str; 2] {
        [self.masks[0].as_str(), self.masks[1].as_str()]
    }

    /// Adds the rewrites of `text`, the whole value of a URL key, to `out` (in any order;
    /// the caller sorts them). `name` is a buffer for decoded parameter names.
    pub(crate) fn rewrite_value(&self, text: &str, name: &mut Vec<u8>, out: &mut Vec<Rewrite>) {
        let bytes = text.as_bytes();
        // Every `scheme://` in the value gives its password away: also one nested in a
        // parameter (`?next=https://u:p@host/`). The value's own authority is read again
        // below (the rewrite it may add twice is removed when the rewrites are sorted), also
        // when the value has no scheme (`//user:pw@host`).
        self.passwords(bytes, 0, bytes.len(), out);
        let (from, part) = match authority_start(bytes) {
            Some(authority) => (
                self.password(bytes, authority, bytes.len(), out),
                Part::Path,
            ),
            None if bytes.first() == Some(&b'/') || bytes.contains(&b'?') => (0, Part::Path),
            None => (0, Part::Params),
        };
        self.params(bytes, from, bytes.len(), part, name, out);
    }

    /// Adds the rewrites of every `scheme://` URL inside the free text `text` to `out`.
    pub(crate) fn rewrite_in_text(&self, text: &str, name: &mut Vec<u8>, out: &mut Vec<Rewrite>) {
        let bytes = text.as_bytes();
        let mut resume = 0;
        while let Some(offset) = find(&bytes[resume..], b"://") {
            let separator = resume + offset;
            let authority = separator + 3;
            // The scheme: the run of scheme bytes before `://`, from its first letter.
            let mut scheme = separator;
            while scheme > resume && is_scheme(bytes[scheme - 1]) {
                scheme -= 1;
            }
            while scheme < separator && !bytes[scheme].is_ascii_alphabetic() {
                scheme += 1;
            }
            if scheme == separator {
                resume = authority;
                continue;
            }
            let end = authority
                + bytes[authority..]
                    .iter()
                    .position(|&b| ends_url_in_text(b))
                    .unwrap_or(bytes.len() - authority);
            let from = self.password(bytes, authority, end, out);
            self.params(bytes, from, end, Part::Path, name, out);
            resume = end;
        }
    }

    /// Adds the password of every `scheme://user:password@` in `bytes[from..to]`.
    fn passwords(&self, bytes: &[u8], from: usize, to: usize, out: &mut Vec<Rewrite>) {
        let mut resume = from;
        while let Some(offset) = find(&bytes[resume..to], b"://") {
            let authority = resume + offset + 3;
            let has_scheme = resume + offset > from && is_scheme(bytes[resume + offset - 1]);
            if has_scheme {
                self.password(bytes, authority, to, out);
            }
            resume = authority;
        }
    }

    /// Adds the password of the authority starting at `authority` (ending by `to`), if it has
    /// one; returns where the host starts (after the userinfo).
    fn password(&self, bytes: &[u8], authority: usize, to: usize, out: &mut Vec<Rewrite>) -> usize {
        let end = authority
            + bytes[authority..to]
                .iter()
                .position(|&b| ends_authority(b))
                .unwrap_or(to - authority);
        let Some(at) = bytes[authority..end].iter().rposition(|&b| b == b'@') else {
            return authority;
        };
        let at = authority + at;
        // `user@host` is not an email address.
        out.push(Rewrite {
            start: at,
            end: at + 1,
            fill: Fill::Keep,
        });
        if let Some(colon) = bytes[authority..at].iter().position(|&b| b == b':') {
            let start = authority + colon + 1;
            if start < at && !already_redacted(&bytes[start..at], &self.masks()) {
                out.push(Rewrite {
                    start,
                    end: at,
                    fill: Fill::Password,
                });
            }
        }
        at + 1
    }

    /// Adds the values of the secret parameters in `bytes[from..to]`, reading from `part`.
    fn params(
        &self,
        bytes: &[u8],
        from: usize,
        to: usize,
        mut part: Part,
        name: &mut Vec<u8>,
        out: &mut Vec<Rewrite>,
    ) {
        // Where the name of the current parameter starts, if one can start here.
        let mut name_start = (part == Part::Params).then_some(from);
        let mut at = from;
        while at < to {
            match bytes[at] {
                b'?' | b'#' => {
                    part = Part::Params;
                    name_start = Some(at + 1);
                }
                b'&' if part == Part::Params => name_start = Some(at + 1),
                b';' => name_start = Some(at + 1),
                b'/' if part == Part::Path => name_start = None,
                b'=' => {
                    if let Some(start) = name_start.take() {
                        let value = at + 1;
                        let end = value
                            + bytes[value..to]
                                .iter()
                                .position(|&b| ends_value(b, part))
                                .unwrap_or(to - value);
                        if end > value
                            && self.is_secret(&bytes[start..at], name)
                            && !already_redacted(&bytes[value..end], &self.masks())
                        {
                            out.push(Rewrite {
                                start: value,
                                end,
                                fill: Fill::Param,
                            });
                        }
                        // The byte that ended the value is read next.
                        at = end;
                        continue;
                    }
                }
                _ => {}
            }
            at += 1;
        }
    }

    /// Whether the parameter called `raw` (as written, maybe percent-encoded) is secret.
    fn is_secret(&self, raw: &[u8], buffer: &mut Vec<u8>) -> bool {
        if raw.is_empty() {
            return false;
        }
        let decoded = percent_decode(raw, buffer);
        self.secret_params
            .iter()
            .any(|glob| glob.matches_bytes(decoded))
    }
}

/// Whether `byte` ends a parameter's value in `part`.
fn ends_value(byte: u8, part: Part) -> bool {
    match byte {
        b'&' | b';' | b'#' | b'?' => true,
        b'/' => part == Part::Path,
        _ => false,
    }
}

/// Where the authority of a value starting with a scheme (or with a chain of them, as in
/// `jdbc:postgresql://`) or with `//` starts.
fn authority_start(bytes: &[u8]) -> Option<usize> {
    let slashes = if bytes.starts_with(b"//") {
        0
    } else {
        let scheme = bytes
            .iter()
            .position(|&b| !(is_scheme(b) || b == b':'))
            .unwrap_or(bytes.len());
        let starts_like_a_scheme = bytes.first().is_some_and(u8::is_ascii_alphabetic);
        if !starts_like_a_scheme || scheme == 0 || bytes[scheme - 1] != b':' {
            return None;
        }
        if !bytes[scheme..].starts_with(b"//") {
            return None;
        }
        scheme
    };
    Some(slashes + 2)
}

/// `raw` with its `%XX` escapes decoded, in `buffer` when there are any.
fn percent_decode<'a>(raw: &'a [u8], buffer: &'a mut Vec<u8>) -> &'a [u8] {
    if !raw.contains(&b'%') {
        return raw;
    }
    buffer.clear();
    let mut at = 0;
    while at < raw.len() {
        let escaped = raw
            .get(at + 1..at + 3)
            .and_then(|hex| Some(hex_value(hex[0])? * 16 + hex_value(hex[1])?));
        match (raw[at], escaped) {
            (b'%', Some(byte)) => {
                buffer.push(byte);
                at += 3;
            }
            (byte, _) => {
                buffer.push(byte);
                at += 1;
            }
        }
    }
    buffer
}

/// The value of a hex digit.
fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
#[path = "url_tests.rs"]
mod tests;
