//! The processor's configuration: the `config` table of its `[[processors]]` entry.
//!
//! Every field has a default, so an empty table (`{}`) runs every detector with the `mask`
//! action. Unknown fields are refused, with the path of the mistake
//! (``invalid config at `detectors.emial`: unknown field ...``). The crate documentation shows a
//! complete example.

use std::fmt;

use serde::Deserialize;

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// How string values are chosen for redaction (default [`Mode::Detect`]).
    pub mode: Mode,
    /// The built-in detectors, each on by default with the `mask` action.
    pub detectors: Detectors,
    /// Your own patterns, applied after the built-in detectors.
    pub patterns: Vec<PatternConfig>,
    /// Glob patterns (`*` and `?`, ASCII case ignored) of keys whose values are always
    /// redacted whole, whatever their type: `["*.password", "*secret*"]`.
    pub deny_keys: Vec<String>,
    /// What happens to the value of a denied key (default [`Action::Mask`], which writes
    /// `[REDACTED:denied_key]`).
    pub deny_action: Action,
    /// With [`Mode::AllowList`]: glob patterns of the keys whose values pass untouched.
    pub allow_keys: Vec<String>,
    /// With [`Mode::AllowList`]: what happens to the string value of any other key (default
    /// [`Action::Mask`], which writes `[REDACTED:unlisted_key]`).
    pub unlisted_action: Action,
    /// The secret key of the `hash` action. Required when any rule uses `hash`; at least 16
    /// bytes. Keep it out of version control: whoever has it can confirm a guessed value.
    pub hash_key: Option<Secret>,
    /// How many hex characters of the HMAC a `[HASH:...]` marker keeps, 8 to 64 (default 16,
    /// i.e. 64 bits: collisions stay unlikely up to billions of distinct values).
    pub hash_length: usize,
    /// Scan span names (default `true`: names should be low-cardinality templates such as
    /// `GET /users/{id}`, but frameworks often name spans after the raw URL, the most common
    /// leak of all). `false` saves sending names to the plugin.
    pub redact_span_names: bool,
    /// Scan span status messages (default `true`: they often quote exceptions).
    pub redact_status_messages: bool,
    /// Scan event names (default `true`: an event named after the failure it records can
    /// quote what failed). Renaming an event needs contract 0.3.0's `set-event-name`.
    pub redact_event_names: bool,
    /// Scan the strings inside array and key-value-list values, and match the keys of
    /// key-value lists against the key rules by their dotted path (default `true`). `false`
    /// has the host send string attributes only (unless `deny_keys` needs every type).
    pub redact_nested_values: bool,
    /// When set, every span with a redacted value gets this attribute, holding how many of its
    /// values (attributes, event and link attributes, name, status message) were changed or
    /// removed. Resource attributes are shared by many spans and are not counted.
    pub count_attribute: Option<String>,
    /// The sanitizers of structured values (URLs, SQL statements), each on by default for
    /// the semantic conventions' keys.
    pub sanitizers: Sanitizers,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mode: Mode::Detect,
            detectors: Detectors::default(),
            patterns: Vec::new(),
            deny_keys: Vec::new(),
            deny_action: Action::Mask,
            allow_keys: Vec::new(),
            unlisted_action: Action::Mask,
            hash_key: None,
            hash_length: 16,
            redact_span_names: true,
            redact_status_messages: true,
            redact_event_names: true,
            redact_nested_values: true,
            count_attribute: None,
            sanitizers: Sanitizers::default(),
        }
    }
}

/// How string values are chosen for redaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Scan every string value with the detectors and patterns; replace what they find.
    Detect,
    /// Pass the values of `allow_keys` untouched and redact every other string value whole.
    /// Detectors and patterns still scan span and event names and status messages, when enabled.
    AllowList,
}

/// What a rule does with what it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace the matched text (only that part of the value) with a mask such as
    /// `[REDACTED:email]`.
    Mask,
    /// Replace the matched text with `[HASH:<hex>]`, a keyed HMAC-SHA256 of it: the same input
    /// always gives the same marker, so you can still group and count by it. Needs `hash_key`.
    Hash,
    /// Remove the whole attribute. A span or event name or a status message, which cannot be removed, is
    /// replaced by the mask instead.
    Drop,
}

/// The built-in detectors. Each name is also the label of its mask (`[REDACTED:ssn]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Detectors {
    /// Email addresses, also URL-encoded (`bob%40example.com`).
    pub email: DetectorConfig,
    /// Payment card numbers, 13 to 19 digits, solid or grouped, confirmed by Luhn.
    pub credit_card: DetectorConfig,
    /// Phone numbers: E.164 (`+14155552671`, `+44 20 7946 0958`), North American
    /// (`(415) 555-2671`) and national with a leading 0 (`020 7946 0958`).
    pub phone: DetectorConfig,
    /// IPv4 addresses (not loopback or `0.0.0.0`).
    pub ipv4: DetectorConfig,
    /// IPv6 addresses (not `::1` or `::`).
    pub ipv6: DetectorConfig,
    /// JSON Web Tokens (`eyJ...`).
    pub jwt: DetectorConfig,
    /// The token of `Bearer <token>`; the word `Bearer` stays.
    pub bearer_token: DetectorConfig,
    /// IBANs with the registered length of their country, confirmed by mod-97.
    pub iban: DetectorConfig,
    /// US social security numbers, `AAA-GG-SSSS`, in the issuable ranges.
    pub ssn: DetectorConfig,
    /// PEM private-key blocks, masked whole from `-----BEGIN ... PRIVATE KEY-----` through
    /// their `END` line.
    pub private_key: DetectorConfig,
    /// AWS access key ids (`AKIA...`, `ASIA...`); AWS's documented `...EXAMPLE` ids pass.
    pub aws_access_key: DetectorConfig,
    /// Google Cloud API keys (`AIza...`).
    pub gcp_api_key: DetectorConfig,
    /// Microsoft Entra ID (Azure AD) client secrets (`...8Q~...`).
    pub azure_client_secret: DetectorConfig,
    /// DigitalOcean tokens (`dop_v1_...`, `doo_v1_...`, `dor_v1_...`).
    pub digitalocean_token: DetectorConfig,
    /// GitHub tokens (`ghp_...` and siblings, confirmed by their checksum; `github_pat_...`).
    pub github_token: DetectorConfig,
    /// GitLab tokens (`glpat-...`, `glrt-...`, `glptt-...` and the other `gl...-` prefixes).
    pub gitlab_token: DetectorConfig,
    /// npm access tokens (`npm_...`, confirmed by their checksum).
    pub npm_token: DetectorConfig,
    /// PyPI API tokens (`pypi-AgEIcHlwaS5vcmc...`).
    pub pypi_token: DetectorConfig,
    /// Slack tokens (`xoxb-...`, `xoxp-...`, `xapp-...`).
    pub slack_token: DetectorConfig,
    /// The secret path of Slack incoming webhook URLs (`hooks.slack.com/services/...`).
    pub slack_webhook: DetectorConfig,
    /// Twilio API keys (`SK` and 32 hex digits).
    pub twilio_key: DetectorConfig,
    /// Stripe secret and restricted keys, live and test, and webhook secrets (`sk_live_...`,
    /// `rk_test_...`, `whsec_...`); publishable keys and the documented test keys pass.
    pub stripe_key: DetectorConfig,
    /// Square access tokens and application secrets (`sq0atp-...`, `sq0csp-...`).
    pub square_token: DetectorConfig,
    /// SendGrid API keys (`SG.<22>.<43>`).
    pub sendgrid_key: DetectorConfig,
    /// Mailgun keys (`key-...`, `<32 hex>-<8 hex>-<8 hex>`).
    pub mailgun_key: DetectorConfig,
    /// Mailchimp API keys (`<32 hex>-us6`).
    pub mailchimp_key: DetectorConfig,
    /// AI providers' `sk-` keys (OpenAI, Anthropic and others).
    pub ai_api_key: DetectorConfig,
    /// The value after a secret-like key name in text: `password=...`, `"api_key": "..."`,
    /// `Authorization: Basic ...`. The key name stays.
    pub secret_assignment: DetectorConfig,
}

/// One built-in detector's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Whether the detector runs (default `true`).
    pub enabled: bool,
    /// What happens to a match (default [`Action::Mask`]).
    pub action: Action,
    /// The mask text (default `[REDACTED:<detector>]`).
    pub replacement: Option<String>,
}

impl Default for DetectorConfig {
    fn default() -> DetectorConfig {
        DetectorConfig {
            enabled: true,
            action: Action::Mask,
            replacement: None,
        }
    }
}

/// A pattern of your own: `{ name = "employee_id", regex = "EMP-[0-9]{6}", action = "mask" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// Names the pattern in errors and in its mask (`[REDACTED:employee_id]`): letters,
    /// digits, `_`, `-` and `.`.
    pub name: String,
    /// A regular expression in the syntax of the `regex` crate, which matches in linear time.
    /// The plugin is built without Unicode case tables: for case-insensitive matching write
    /// `(?i-u:emp-[0-9]{6})`, which folds ASCII letters.
    pub regex: String,
    /// What happens to a match (default [`Action::Mask`]).
    #[serde(default = "mask")]
    pub action: Action,
    /// The mask text (default `[REDACTED:<name>]`).
    #[serde(default)]
    pub replacement: Option<String>,
}

/// The default action.
fn mask() -> Action {
    Action::Mask
}

/// A secret string: read like any string, but never shown by `Debug`, so a config that ends up
/// in a log line or an error does not leak it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The default `sanitizers.url.keys`: the semantic conventions' attributes that hold a URL,
/// part of one, or a connection string. `url.original` is included although the conventions
/// ask instrumentations to leave its credentials in: this processor is where they come out.
pub const URL_KEYS: &[&str] = &[
    "url.full",
    "url.original",
    "url.path",
    "url.query",
    "http.url",
    "http.target",
    "db.connection_string",
];

/// The default `sanitizers.sql.keys`: the statement attributes of the semantic conventions,
/// current and deprecated (`db.query.summary` holds no literal and is left alone).
pub const SQL_KEYS: &[&str] = &["db.statement", "db.query.text"];

/// The default `sanitizers.url.secret_params`: globs (ASCII case ignored) of the parameter
/// names whose values are credentials. They cover OAuth (`access_token`, `refresh_token`,
/// `code`, `client_secret`), API keys (`api_key`, `apiKey`, `x-api-key`, `key`), signed URLs
/// (AWS `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`, `AWSAccessKeyId`,
/// `Signature`; Azure `sig`; Google `X-Goog-Signature`, `X-Goog-Credential`), session ids
/// (`jsessionid`, `PHPSESSID`, `session_id`) and passwords (`password`, `Pwd` in a connection
/// string). Names that merely contain a word stay: `token_type`, `max_tokens`, `keyword`.
pub const SECRET_PARAMS: &[&str] = &[
    "*token",
    "*secret*",
    "*password*",
    "*passwd*",
    "pwd",
    "pass",
    "key",
    "*apikey",
    "*api?key",
    "*accesskey*",
    "*access?key*",
    "sig",
    "*signature",
    "*credential*",
    "auth",
    "authorization",
    "code",
    "*sessionid",
    "*session?id",
    "*sessid",
];

/// The sanitizers: `[processors.config.sanitizers]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sanitizers {
    /// URLs: userinfo passwords and secret parameters.
    pub url: UrlSanitizerConfig,
    /// SQL statements: literals and comments.
    pub sql: SqlSanitizerConfig,
}

/// The URL sanitizer's settings: `url = { keys = [...], secret_params = [...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UrlSanitizerConfig {
    /// Whether it runs (default `true`).
    pub enabled: bool,
    /// Globs of the keys whose whole value is a URL, a path with a query, a bare query or a
    /// connection string (default [`URL_KEYS`]; a list given here replaces it).
    pub keys: Vec<String>,
    /// Also sanitize each `scheme://` URL found inside any other scanned string: an exception
    /// message quoting `postgres://app:s3cr3t@db/shop` (default `true`).
    pub in_text: bool,
    /// Globs of the parameter names whose values are masked (default [`SECRET_PARAMS`]; a
    /// list given here replaces it).
    pub secret_params: Vec<String>,
    /// What happens to a password or a secret parameter's value (default [`Action::Mask`]).
    pub action: Action,
    /// The mask text (default `[REDACTED:url_password]` for a password and
    /// `[REDACTED:url_param]` for a parameter's value).
    pub replacement: Option<String>,
}

impl Default for UrlSanitizerConfig {
    fn default() -> UrlSanitizerConfig {
        UrlSanitizerConfig {
            enabled: true,
            keys: URL_KEYS.iter().map(|&k| k.to_owned()).collect(),
            in_text: true,
            secret_params: SECRET_PARAMS.iter().map(|&p| p.to_owned()).collect(),
            action: Action::Mask,
            replacement: None,
        }
    }
}

/// The SQL sanitizer's settings: `sql = { keys = [...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SqlSanitizerConfig {
    /// Whether it runs (default `true`).
    pub enabled: bool,
    /// Globs of the keys whose values are SQL statements (default [`SQL_KEYS`]; a list given
    /// here replaces it).
    pub keys: Vec<String>,
    /// What happens to a literal (default [`Action::Mask`]; `drop` removes a statement that
    /// holds any). Comments are removed whatever the action.
    pub action: Action,
    /// The mask text (default `?`).
    pub replacement: Option<String>,
}

impl Default for SqlSanitizerConfig {
    fn default() -> SqlSanitizerConfig {
        SqlSanitizerConfig {
            enabled: true,
            keys: SQL_KEYS.iter().map(|&k| k.to_owned()).collect(),
            action: Action::Mask,
            replacement: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_enables_every_detector_with_mask() {
        let config: Config = weft_sdk::parse_config("{}").unwrap();
        assert_eq!(config.mode, Mode::Detect);
        assert!(config.detectors.email.enabled && config.detectors.ssn.enabled);
        assert_eq!(config.detectors.phone.action, Action::Mask);
        assert_eq!(config.hash_length, 16);
        assert!(config.hash_key.is_none() && config.count_attribute.is_none());
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let error =
            weft_sdk::parse_config::<Config>(r#"{"detectors": {"emial": {}}}"#).unwrap_err();
        assert!(
            error.starts_with("invalid config at `detectors.emial`: unknown field"),
            "{error}"
        );
        let error =
            weft_sdk::parse_config::<Config>(r#"{"detectors": {"email": {"action": "erase"}}}"#)
                .unwrap_err();
        assert!(
            error.starts_with("invalid config at `detectors.email.action`"),
            "{error}"
        );
    }

    #[test]
    fn debug_output_hides_the_hash_key() {
        let config: Config =
            weft_sdk::parse_config(r#"{"hash_key": "correct horse battery staple"}"#).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("horse"), "{printed}");
        assert_eq!(
            config.hash_key.unwrap().expose(),
            "correct horse battery staple"
        );
    }
}
