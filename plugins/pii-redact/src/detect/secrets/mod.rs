//! Credentials: a catalogue of well-known secret formats, each a named detector.
//!
//! Every format has a literal that anchors it (a prefix such as `AKIA` or `ghp_`, the `Q~` of an
//! Azure client secret, the `=` or `:` after a secret-like key name) and a validation that
//! removes look-alikes: a checksum where the format has one (GitHub and npm tokens), the exact
//! length and alphabet of the body, and a floor on how varied the body is
//! ([`looks_random`]), which turns away placeholders such as `glpat-xxxxxxxxxxxxxxxxxxxx`.
//! Documented example keys ([`is_documented_example`]) are left alone.
//!
//! # Cost on clean values
//!
//! Besides its [`Needs`] (most formats need 20 to 70 bytes), each detector declares the bit of
//! its format in [`Anchors`], the detectors' shared prefilter: a single word-at-a-time pass over
//! a value marks the bytes formats are anchored on (`_`, `-`, `=`, `:`, `~`, `A`, `S`), and a
//! few byte comparisons around each mark say which formats could start there. The redactor's
//! needs table runs the pass once per value, when the value meets some credential detector's
//! needs, and calls only the detectors whose format is anchored in it: on a clean value, none.
//! Only values with an anchor are scanned further.

mod ai;
mod anchors;
mod assignment;
#[cfg(test)]
mod assignment_tests;
mod cloud;
mod format;
mod hosting;
mod mail;
mod messaging;
mod payment;
mod private_key;
#[cfg(test)]
mod tests;
mod value;

pub(crate) use anchors::Anchors;

use super::{Buffers, Detector, Needs, is_word};
use crate::config::{DetectorConfig, Detectors};

/// The credential detectors, as named in the config (`detectors.<name>`) and in masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    /// AWS access key ids: `AKIA`, `ASIA`, `ABIA` or `ACCA`, then 16 base32 characters.
    AwsAccessKey,
    /// Google Cloud API keys: `AIza`, then 35 characters.
    GcpApiKey,
    /// Microsoft Entra ID (Azure AD) client secrets, recognisable by their `Q~`.
    AzureClientSecret,
    /// DigitalOcean tokens: `dop_v1_`, `doo_v1_` or `dor_v1_`, then 64 hex digits.
    DigitaloceanToken,
    /// GitHub tokens: `ghp_` and its siblings (checksummed), and fine-grained `github_pat_`.
    GithubToken,
    /// GitLab tokens: `glpat-`, `glrt-`, `glptt-` and the other `gl...-` prefixes.
    GitlabToken,
    /// npm access tokens: `npm_`, then 36 characters (checksummed).
    NpmToken,
    /// PyPI upload tokens: `pypi-AgEIcHlwaS5vcmc...` (and TestPyPI's).
    PypiToken,
    /// Slack tokens: `xoxb-`, `xoxp-`, `xapp-` and the other `xox?-` prefixes.
    SlackToken,
    /// The secret path of a Slack incoming webhook URL.
    SlackWebhook,
    /// Twilio API keys: `SK`, then 32 hex digits.
    TwilioKey,
    /// Stripe secret and restricted keys (`sk_live_`, `rk_test_`...) and webhook secrets.
    StripeKey,
    /// Square access tokens and application secrets: `sq0atp-`, `sq0csp-`.
    SquareToken,
    /// SendGrid API keys: `SG.`, 22 characters, `.`, 43 characters.
    SendgridKey,
    /// Mailgun API and signing keys: `key-` and 32 characters, or `<32 hex>-<8 hex>-<8 hex>`.
    MailgunKey,
    /// Mailchimp API keys: 32 hex digits, then the data centre (`-us6`).
    MailchimpKey,
    /// The `sk-` keys of AI providers (OpenAI, Anthropic and others following the scheme).
    AiApiKey,
    /// PEM private-key blocks, `-----BEGIN ... PRIVATE KEY-----` through their `END` line.
    PrivateKey,
    /// The value after a secret-like key name: `password=...`, `"api_key": "..."`.
    SecretAssignment,
}

impl Credential {
    /// The detector's name in config and masks.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Credential::AwsAccessKey => "aws_access_key",
            Credential::GcpApiKey => "gcp_api_key",
            Credential::AzureClientSecret => "azure_client_secret",
            Credential::DigitaloceanToken => "digitalocean_token",
            Credential::GithubToken => "github_token",
            Credential::GitlabToken => "gitlab_token",
            Credential::NpmToken => "npm_token",
            Credential::PypiToken => "pypi_token",
            Credential::SlackToken => "slack_token",
            Credential::SlackWebhook => "slack_webhook",
            Credential::TwilioKey => "twilio_key",
            Credential::StripeKey => "stripe_key",
            Credential::SquareToken => "square_token",
            Credential::SendgridKey => "sendgrid_key",
            Credential::MailgunKey => "mailgun_key",
            Credential::MailchimpKey => "mailchimp_key",
            Credential::AiApiKey => "ai_api_key",
            Credential::PrivateKey => "private_key",
            Credential::SecretAssignment => "secret_assignment",
        }
    }

    /// The detector's settings in the config.
    pub(crate) fn settings(self, detectors: &Detectors) -> &DetectorConfig {
        match self {
            Credential::AwsAccessKey => &detectors.aws_access_key,
            Credential::GcpApiKey => &detectors.gcp_api_key,
            Credential::AzureClientSecret => &detectors.azure_client_secret,
            Credential::DigitaloceanToken => &detectors.digitalocean_token,
            Credential::GithubToken => &detectors.github_token,
            Credential::GitlabToken => &detectors.gitlab_token,
            Credential::NpmToken => &detectors.npm_token,
            Credential::PypiToken => &detectors.pypi_token,
            Credential::SlackToken => &detectors.slack_token,
            Credential::SlackWebhook => &detectors.slack_webhook,
            Credential::TwilioKey => &detectors.twilio_key,
            Credential::StripeKey => &detectors.stripe_key,
            Credential::SquareToken => &detectors.square_token,
            Credential::SendgridKey => &detectors.sendgrid_key,
            Credential::MailgunKey => &detectors.mailgun_key,
            Credential::MailchimpKey => &detectors.mailchimp_key,
            Credential::AiApiKey => &detectors.ai_api_key,
            Credential::PrivateKey => &detectors.private_key,
            Credential::SecretAssignment => &detectors.secret_assignment,
        }
    }

    /// A ready-to-use detector.
    pub(crate) fn detector(self) -> Box<dyn Detector> {
        let (needs, scan) = self.spec();
        Box::new(CredentialDetector {
            needs,
            scan,
            anchor: if self.anchored() { self.bit() } else { 0 },
        })
    }

    /// This credential's bit in [`Anchors`].
    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The least a value must show for the format to fit in it (the counts of its shortest
    /// token; `prefilters_never_hide_a_match` checks them against the scans), and how its
    /// matches are found.
    fn spec(self) -> (Needs, Scan) {
        let needs = |len, upper, digits| Needs {
            len,
            upper,
            digits,
            ..Needs::NOTHING
        };
        match self {
            Credential::AwsAccessKey => (needs(20, 4, 0), cloud::aws_access_keys),
            Credential::GcpApiKey => (needs(39, 2, 0), cloud::gcp_api_keys),
            Credential::AzureClientSecret => (needs(37, 1, 1), cloud::azure_client_secrets),
            Credential::DigitaloceanToken => (needs(71, 0, 1), cloud::digitalocean_tokens),
            Credential::GithubToken => (needs(40, 0, 0), hosting::github_tokens),
            Credential::GitlabToken => (needs(25, 0, 0), hosting::gitlab_tokens),
            Credential::NpmToken => (needs(40, 0, 0), hosting::npm_tokens),
            Credential::PypiToken => (needs(70, 5, 1), hosting::pypi_tokens),
            Credential::SlackToken => (needs(25, 0, 3), messaging::slack_tokens),
            Credential::SlackWebhook => (
                Needs {
                    dots: 2,
                    ..needs(69, 2, 0)
                },
                messaging::slack_webhooks,
            ),
            Credential::TwilioKey => (needs(34, 2, 0), messaging::twilio_keys),
            Credential::StripeKey => (needs(30, 0, 0), payment::stripe_keys),
            Credential::SquareToken => (needs(29, 0, 1), payment::square_tokens),
            Credential::SendgridKey => (
                Needs {
                    dots: 2,
                    ..needs(69, 2, 0)
                },
                mail::sendgrid_keys,
            ),
            Credential::MailgunKey => (needs(36, 0, 0), mail::mailgun_keys),
            Credential::MailchimpKey => (needs(36, 0, 1), mail::mailchimp_keys),
            Credential::AiApiKey => (needs(35, 0, 0), ai::ai_api_keys),
            Credential::PrivateKey => (
                Needs {
                    spaces: 2,
                    ..needs(
                        "-----BEGIN PRIVATE KEY-----".len() + private_key::MIN_BODY,
                        15,
                        0,
                    )
                },
                private_key::blocks,
            ),
            Credential::SecretAssignment => (
                Needs {
                    key_separators: 1,
                    ..needs(10, 0, 0)
                },
                assignment::values,
            ),
        }
    }

    /// Whether the shared prefilter can tell that the format has no anchor in a value. A Slack
    /// webhook is found by its host name, which no anchor covers; its needs (69 bytes, two dots,
    /// two capitals) skip most values before its scan searches for the host.
    fn anchored(self) -> bool {
        self != Credential::SlackWebhook
    }
}

/// Finds the matches of one format in a value (all ASCII, so every range lies on character
/// boundaries), left to right and without overlap.
type Scan = fn(&str, &mut dyn FnMut(usize, usize));

/// One credential format as a [`Detector`].
#[derive(Debug, Clone, Copy)]
struct CredentialDetector {
    needs: Needs,
    scan: Scan,
    /// The credential's bit in [`Anchors`]; 0 when the prefilter does not cover it.
    anchor: u32,
}

impl Detector for CredentialDetector {
    fn needs(&self) -> Needs {
        self.needs
    }

    fn anchors(&self) -> u32 {
        self.anchor
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        (self.scan)(text, found);
    }
}

/// Whether a token starting at `start` stands apart from what comes before: the start of the
/// text, a byte that is not a letter, digit or `_`, or a percent-encoded byte (`%22`, `%3D`),
/// as in a URL-encoded query or JSON body.
fn starts_apart(bytes: &[u8], start: usize) -> bool {
    match start.checked_sub(1).map(|i| bytes[i]) {
        None => true,
        Some(byte) if !is_word(byte) => true,
        Some(_) => {
            start >= 3
                && bytes[start - 3] == b'%'
                && bytes[start - 2].is_ascii_hexdigit()
                && bytes[start - 1].is_ascii_hexdigit()
        }
    }
}

/// Whether a token ending at `end` is not glued to a longer word: the end of the text or a
/// byte that is not a letter, digit or `_`.
fn ends_apart(bytes: &[u8], end: usize) -> bool {
    !bytes.get(end).is_some_and(|&byte| is_word(byte))
}

/// Whether `body` is varied enough to be generated: at least a third of its length (at most
/// 8 needed) in distinct characters. Random tokens pass with near certainty (a random hex
/// string of 22 digits has fewer than 7 distinct ones about once in 300,000); placeholders
/// such as `xxxxxxxxxxxxxxxxxxxx` or `0000-0000-0000` do not.
fn looks_random(body: &[u8]) -> bool {
    let distinct = body
        .iter()
        .fold(0u128, |seen, &byte| seen | 1 << (byte & 0x7f))
        .count_ones() as usize;
    distinct >= (body.len() / 3).min(8)
}

/// Example credentials published in providers' documentation, which appear in tutorials,
/// tests and sample configs and protect nothing: AWS's (every example access key id ends in
/// `EXAMPLE`, every example secret key in `EXAMPLEKEY`) and the test keys of Stripe's API
/// reference.
fn is_documented_example(token: &[u8]) -> bool {
    const STRIPE_DOCS: [&[u8]; 2] = [
        b"sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        b"sk_test_BQokikJOvBiI2HlWgH4olfQ2",
    ];
    token.ends_with(b"EXAMPLE") || token.ends_with(b"EXAMPLEKEY") || STRIPE_DOCS.contains(&token)
}
