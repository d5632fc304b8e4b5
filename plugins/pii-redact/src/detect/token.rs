//! Credentials: JSON Web Tokens and bearer tokens.

use regex::Regex;

use super::words::{any_marked, equal, fold_case};
use super::{Buffers, Detector, Needs};

/// Three base64url segments; the header is a JSON object, so it starts with `eyJ` (`{"`).
/// The signature may be empty (an unsecured JWT ends with a `.`).
const JWT: &str = r"(?-u:\b)eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*";

/// `Bearer`, spaces, then an RFC 6750 token (`b64token`: letters, digits, `-._~+/`, then
/// optional `=` padding). The word `bearer` is matched in any case.
const BEARER: &str = r"(?-u:\b)(?i-u:bearer) +[A-Za-z0-9._~+/-]+=*";

/// The shortest bearer token taken for a credential; shorter words are prose.
const MIN_BEARER_TOKEN: usize = 8;

/// Finds JSON Web Tokens.
#[derive(Debug, Clone)]
pub(crate) struct Jwt {
    regex: Regex,
}

impl Jwt {
    /// Compiles the detector.
    pub(crate) fn new() -> Jwt {
        Jwt {
            regex: Regex::new(JWT).expect("the JWT pattern is valid"),
        }
    }
}

impl Detector for Jwt {
    fn needs(&self) -> Needs {
        Needs {
            len: 16,
            dots: 2,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        // Starting a regex search costs more than a word-at-a-time look for its literal.
        let bytes = text.as_bytes();
        if !any_marked(
            bytes,
            |low| equal(low, b'e'),
            |at| bytes.get(at + 1..at + 3) == Some(b"yJ"),
        ) {
            return;
        }
        for token in self.regex.find_iter(text) {
            found(token.start(), token.end());
        }
    }
}

/// Finds the token in `Bearer <token>`, leaving the word `Bearer` in place.
#[derive(Debug, Clone)]
pub(crate) struct BearerToken {
    regex: Regex,
}

impl BearerToken {
    /// Compiles the detector.
    pub(crate) fn new() -> BearerToken {
        BearerToken {
            regex: Regex::new(BEARER).expect("the bearer pattern is valid"),
        }
    }
}

impl Detector for BearerToken {
    fn needs(&self) -> Needs {
        Needs {
            len: "bearer ".len() + MIN_BEARER_TOKEN,
            spaces: 1,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        // Most values with a space are prose, SQL or user agents: look for `bearer ` a word at
        // a time before starting a regex search.
        let bytes = text.as_bytes();
        if !any_marked(
            bytes,
            |low| equal(fold_case(low), b'b'),
            |at| {
                bytes.get(at..at + 7).is_some_and(|word| {
                    word[..6].eq_ignore_ascii_case(b"bearer") && word[6] == b' '
                })
            },
        ) {
            return;
        }
        for candidate in self.regex.find_iter(text) {
            // Skip `bearer` and the spaces after it.
            let token = candidate.as_str()["bearer".len()..].trim_start_matches(' ');
            if looks_like_token(token) {
                found(candidate.end() - token.len(), candidate.end());
            }
        }
    }
}

/// Whether `token` is long enough and has a digit or a symbol: real tokens do, while words
/// after "bearer" in prose (`bearer authentication`) do not.
fn looks_like_token(token: &str) -> bool {
    token.len() >= MIN_BEARER_TOKEN
        && token
            .bytes()
            .any(|b| b.is_ascii_digit() || b"-._~+/=".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

    #[test]
    fn finds_json_web_tokens() {
        let unsecured = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IifQ.";
        let in_query = format!("/callback?id_token={TOKEN}&state=xyz");
        let in_header = format!("Bearer {TOKEN}");
        let positives = [
            (TOKEN, TOKEN),
            (in_query.as_str(), TOKEN),
            (in_header.as_str(), TOKEN),
            (unsecured, unsecured),
        ];
        let negatives = [
            "eyJhbGciOiJIUzI1NiJ9",
            "keyJohn.smith.example",
            "eyJ.eyJ.x",
            "service.name.space",
            "www.example.com",
            "v10.4.1-beta",
            "SGVsbG8gd29ybGQ=.aGk=.eA==",
            "ord-2024-000123",
        ];
        testing::check(&Jwt::new(), &positives, &negatives);
    }

    #[test]
    fn finds_bearer_tokens() {
        let positives = [
            ("Bearer abc123def456", "abc123def456"),
            (
                "authorization: bearer 2YotnFZFEjr1zCsicMWpAA",
                "2YotnFZFEjr1zCsicMWpAA",
            ),
            ("BEARER ya29.a0AfH6SMBx", "ya29.a0AfH6SMBx"),
            ("Bearer dGhpcyBpcyBhIHRva2Vu==", "dGhpcyBpcyBhIHRva2Vu=="),
            (
                "Bearer  sk_live_4eC39HqLyjWDarjtT1",
                "sk_live_4eC39HqLyjWDarjtT1",
            ),
        ];
        let negatives = [
            "Bearer",
            "missing Bearer token",
            "the bearer authentication scheme",
            r#"WWW-Authenticate: Bearer realm="example""#,
            "Bearer abc1",
            "bearers 1234567890abc",
            "forbearer 1234567890abc",
            "Basic dXNlcjpwYXNzd29yZA==",
        ];
        testing::check(&BearerToken::new(), &positives, &negatives);
    }
}
