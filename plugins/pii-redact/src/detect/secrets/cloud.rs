//! Cloud providers: AWS access key ids, Google Cloud API keys, Azure client secrets,
//! DigitalOcean tokens.
//!
//! AWS secret access keys and Azure storage account keys have no prefix; they are found by the
//! key name before them (`aws_secret_access_key=`, `AccountKey=`), see
//! [`assignment`](super::assignment).

use super::super::words::{any_marked, equal};
use super::format::{self, Format, any, base64url, hex_lower};
use super::{is_documented_example, looks_random, starts_apart};

/// AWS access key ids: long-term (`AKIA`), temporary (`ASIA`), and the bearer and
/// context-specific kinds (`ABIA`, `ACCA`), then 16 characters of the base32 alphabet.
const AWS: &[Format] = &[Format {
    prefixes: &["AKIA", "ASIA", "ABIA", "ACCA"],
    alphabet: |b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b),
    min: 16,
    max: 16,
    valid: |token| !is_documented_example(token),
}];

/// Google API keys: `AIza`, then 35 URL-safe base64 characters.
const GCP: &[Format] = &[Format {
    prefixes: &["AIza"],
    alphabet: base64url,
    min: 35,
    max: 35,
    valid: any,
}];

/// DigitalOcean personal access (`dop_v1_`), OAuth (`doo_v1_`) and refresh (`dor_v1_`)
/// tokens: 64 hex digits.
const DIGITALOCEAN: &[Format] = &[Format {
    prefixes: &["dop_v1_", "doo_v1_", "dor_v1_"],
    alphabet: hex_lower,
    min: 64,
    max: 64,
    valid: any,
}];

/// Finds AWS access key ids.
pub(super) fn aws_access_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, AWS, found);
}

/// Finds Google Cloud API keys.
pub(super) fn gcp_api_keys(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, GCP, found);
}

/// Finds DigitalOcean tokens.
pub(super) fn digitalocean_tokens(text: &str, found: &mut dyn FnMut(usize, usize)) {
    format::scan(text, DIGITALOCEAN, found);
}

/// Whether `byte` may appear in an Azure client secret.
fn azure_secret_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'~' | b'.' | b'-')
}

/// Finds Microsoft Entra ID (Azure AD) client secrets, 40 characters with a fixed marker:
/// three characters, a digit, `Q~`, then 31 to 34 characters (letters, digits, `_~.-`).
pub(super) fn azure_client_secrets(text: &str, found: &mut dyn FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut resume = 0;
    any_marked(
        bytes,
        |low| equal(low, b'~'),
        |tilde| {
            if let Some(start) = tilde.checked_sub(5)
                && start >= resume
                && let Some(end) = azure_secret_at(bytes, start)
            {
                found(start, end);
                resume = end;
            }
            false
        },
    );
}

/// Where an Azure client secret starting at `start` (whose `Q~` is at `start + 4`) ends.
fn azure_secret_at(bytes: &[u8], start: usize) -> Option<usize> {
    let head = &bytes[start..start + 6];
    let head_fits = head[..3].iter().all(|&b| azure_secret_byte(b) && b != b'-')
        && head[3].is_ascii_digit()
        && &head[4..] == b"Q~";
    // Glued to a longer run of secret characters, unless that is a percent-encoded quote.
    let apart = start == 0
        || !azure_secret_byte(bytes[start - 1])
        || (bytes[start - 1].is_ascii_hexdigit() && starts_apart(bytes, start));
    if !head_fits || !apart {
        return None;
    }
    let tail = start + 6;
    let run = bytes[tail..]
        .iter()
        .take(36)
        .take_while(|&&b| azure_secret_byte(b))
        .count();
    let len = match run {
        31..=34 => run,
        // A sentence's final `.` is not part of the secret.
        35 if bytes[tail + 34] == b'.' => 34,
        _ => return None,
    };
    let end = tail + len;
    looks_random(&bytes[start..end]).then_some(end)
}

#[cfg(test)]
mod tests {
    use super::super::super::testing;
    use super::super::Credential;

    #[test]
    fn finds_aws_access_key_ids() {
        let detector = Credential::AwsAccessKey.detector();
        let key = "AKIA2E7QWXYZ4HJKLMNP";
        let temporary = "ASIA5TUVWQRS3MNOPQRS";
        let in_env = format!("AWS_ACCESS_KEY_ID={key}");
        let in_json = format!(r#"{{"AccessKeyId": "{temporary}"}}"#);
        let in_log = format!("assumed role with {key}, retrying");
        testing::check(
            detector.as_ref(),
            &[
                (key, key),
                (&in_env, key),
                (&in_json, temporary),
                (&in_log, key),
            ],
            &[
                "AKIA",
                "AKIA2E7QWXYZ4HJKLMN",
                "AKIA2E7QWXYZ4HJKLMNPQ",
                "AKIA2E7QWXYZ4HJKLMN8",
                "AKIA2e7qwxyz4hjklmnp",
                "XAKIA2E7QWXYZ4HJKLMNP",
                "AKIA2E7QWXYZ4HJKLMNP_1",
                "AKIAAAAAAAAAAAAAAAAA",
                "AKIAIOSFODNN7EXAMPLE",
                "AKIAI44QH8DHBEXAMPLE",
                "AKID2E7QWXYZ4HJKLMNP",
            ],
        );
    }

    #[test]
    fn finds_gcp_api_keys() {
        let detector = Credential::GcpApiKey.detector();
        let key = "AIzaSyD4-kT9_xQ2mW7vB1nR5cH8jL3pF6gZ0aE";
        assert_eq!(key.len(), 39);
        let in_url = format!("https://maps.example/api/js?key={key}&callback=init");
        testing::check(
            detector.as_ref(),
            &[(key, key), (&in_url, key)],
            &[
                "AIza",
                "AIzaSyD4-kT9_xQ2mW7vB1nR5cH8jL3pF6gZ0a",
                "AIzaSyD4-kT9_xQ2mW7vB1nR5cH8jL3pF6gZ0aEx",
                "xAIzaSyD4-kT9_xQ2mW7vB1nR5cH8jL3pF6gZ0aE",
                "AIzaxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            ],
        );
    }

    #[test]
    fn finds_azure_client_secrets() {
        let detector = Credential::AzureClientSecret.detector();
        let secret = "a1B8Q~x7Yk.2Lm_Np4Qr~St6Uv-Wx9Yz0Ab3Cd5E";
        assert_eq!(secret.len(), 40);
        let quoted = format!("client_secret='{secret}'");
        let sentence = format!("the secret is {secret}.");
        testing::check(
            detector.as_ref(),
            &[(secret, secret), (&quoted, secret), (&sentence, secret)],
            &[
                "Q~",
                "a1B8Q~x7Yk",
                "a1B8Q~xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "xa1B8Q~x7Yk.2Lm_Np4Qr~St6Uv-Wx9Yz0Ab3Cd5E",
                "a1BxQ~x7Yk.2Lm_Np4Qr~St6Uv-Wx9Yz0Ab3Cd5E",
                "a1B8Q~x7Yk.2Lm_Np4Qr~St6Uv-Wx9Yz0Ab3Cd5EFGHIJ",
            ],
        );
    }

    #[test]
    fn finds_digitalocean_tokens() {
        let detector = Credential::DigitaloceanToken.detector();
        let token = format!("dop_v1_{}", "0f1e2d3c4b5a6978".repeat(4));
        let header = format!("Authorization: Bearer {token}");
        testing::check(
            detector.as_ref(),
            &[(&token, &token), (&header, &token)],
            &[
                "dop_v1_",
                &format!("dop_v1_{}", "0f1e2d3c4b5a6978".repeat(3)),
                &format!("dop_v1_{}", "0F1E2D3C4B5A6978".repeat(4)),
                &format!("dop_v2_{}", "0f1e2d3c4b5a6978".repeat(4)),
            ],
        );
    }
}
