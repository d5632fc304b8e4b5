//! The configuration schema, and its validation.
//!
//! Everything a config can get wrong is rejected here, while Weft loads the plugin, with a
//! message naming the offending key (``invalid config at `rules[2].ratio`: ...``). Once a
//! [`Config`] exists it is valid, and the sampler never has to check it again.

use std::num::NonZeroU32;

use serde::Deserialize;

pub use weft_sdk::sampling::{AttributeKey, Pattern, Ratio};

/// The processor's configuration: the `config` table of its `[[processors]]` entry.
///
/// ```
/// use weft_plugin_sample::config::Config;
///
/// let config: Config = weft_sdk::parse_config(r#"{
///     "default_ratio": 0.1,
///     "rules": [{"keep_errors": true}, {"route": "/healthz", "ratio": 0}]
/// }"#).unwrap();
/// assert_eq!(config.rules.len(), 2);
/// assert_eq!(config.route_attribute.as_str(), "http.route");
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The probability of keeping a span that no rule matches. Required.
    pub default_ratio: Ratio,
    /// The rules, tried in order: the first that matches a span decides it.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// The span attribute that `route` rules match. Default: `http.route`.
    #[serde(default = "default_route_attribute")]
    pub route_attribute: AttributeKey,
    /// A span attribute to record the sampling probability on, for spans kept by a ratio
    /// below 1 (the conventional name is `sampling.ratio`). Default: none.
    #[serde(default)]
    pub ratio_attribute: Option<AttributeKey>,
}

fn default_route_attribute() -> AttributeKey {
    AttributeKey::try_from("http.route".to_owned()).expect("a non-empty key")
}

/// One rule: conditions, all of which a span must meet, and what to do with the spans that do.
///
/// A rule needs at least one condition; spans no rule matches get the `default_ratio`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawRule")]
pub struct RuleConfig {
    /// Condition: the span's status is `Error` (only `true` is a condition).
    pub keep_errors: bool,
    /// Condition: the span lasted longer than this many milliseconds.
    pub slower_than_ms: Option<u64>,
    /// Condition: the resource's `service.name` matches (exact, or a prefix with a trailing `*`).
    pub service: Option<Pattern>,
    /// Condition: the route attribute matches (exact, or a prefix with a trailing `*`).
    pub route: Option<Pattern>,
    /// The probability of keeping a matching span. Default: 1 (keep them all).
    pub ratio: Ratio,
    /// At most this many matching spans are kept per second (of span end time), per worker.
    pub max_per_second: Option<NonZeroU32>,
}

/// A rule as written, before the checks that involve several of its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    keep_errors: bool,
    slower_than_ms: Option<u64>,
    service: Option<Pattern>,
    route: Option<Pattern>,
    ratio: Option<Ratio>,
    max_per_second: Option<NonZeroU32>,
}

impl TryFrom<RawRule> for RuleConfig {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, String> {
        let has_condition = raw.keep_errors
            || raw.slower_than_ms.is_some()
            || raw.service.is_some()
            || raw.route.is_some();
        if !has_condition {
            return Err(
                "a rule needs a condition: keep_errors = true, slower_than_ms, \
                 service or route (default_ratio decides spans no rule matches)"
                    .to_owned(),
            );
        }
        let ratio = raw.ratio.unwrap_or(Ratio::ONE);
        if ratio == Ratio::ZERO && raw.max_per_second.is_some() {
            return Err(
                "max_per_second has no effect with ratio = 0: the rule keeps no span".to_owned(),
            );
        }
        Ok(RuleConfig {
            keep_errors: raw.keep_errors,
            slower_than_ms: raw.slower_than_ms,
            service: raw.service,
            route: raw.route,
            ratio,
            max_per_second: raw.max_per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Config, String> {
        weft_sdk::parse_config(json)
    }

    fn refusal(json: &str) -> String {
        parse(json).unwrap_err()
    }

    #[test]
    fn parses_the_documented_example() {
        let config = parse(
            r#"{"default_ratio": 0.1, "rules": [
                {"keep_errors": true},
                {"slower_than_ms": 2000},
                {"service": "checkout", "ratio": 1.0},
                {"route": "/healthz", "ratio": 0.0},
                {"service": "search", "ratio": 0.25, "max_per_second": 100}
            ]}"#,
        )
        .unwrap();
        assert_eq!(config.default_ratio.get(), 0.1);
        assert_eq!(config.rules.len(), 5);
        assert!(config.rules[0].keep_errors);
        assert_eq!(config.rules[1].ratio, Ratio::ONE);
        assert_eq!(config.rules[3].ratio, Ratio::ZERO);
        assert_eq!(config.rules[4].max_per_second, NonZeroU32::new(100));
        assert_eq!(config.ratio_attribute, None);
    }

    #[test]
    fn accepts_integer_ratios() {
        // TOML `ratio = 1` arrives as a JSON integer.
        let config = parse(r#"{"default_ratio": 1, "rules": [{"route": "/x", "ratio": 0}]}"#);
        assert_eq!(config.unwrap().default_ratio, Ratio::ONE);
    }

    #[test]
    fn requires_a_default_ratio() {
        let error = refusal("{}");
        assert!(error.contains("missing field `default_ratio`"), "{error}");
    }

    #[test]
    fn rejects_ratios_outside_zero_to_one() {
        let error = refusal(r#"{"default_ratio": 1.5}"#);
        // serde_json appends the position in the JSON text (" at line 1 column 22").
        assert!(
            error.starts_with(
                "invalid config at `default_ratio`: a ratio is a probability from 0 to 1 \
                 (0.25 keeps a quarter), got 1.5"
            ),
            "{error}"
        );
        let error = refusal(r#"{"default_ratio": 1, "rules": [{"route": "/", "ratio": -0.1}]}"#);
        assert!(
            error.starts_with("invalid config at `rules[0].ratio`"),
            "{error}"
        );
        let error = refusal(r#"{"default_ratio": 1e-20}"#);
        assert!(error.contains("smallest sampling probability"), "{error}");
    }

    #[test]
    fn rejects_a_rule_without_a_condition() {
        for rule in [r#"{"ratio": 0.5}"#, r#"{"keep_errors": false}"#, "{}"] {
            let json =
                format!(r#"{{"default_ratio": 1, "rules": [{{"keep_errors": true}}, {rule}]}}"#);
            let error = refusal(&json);
            assert!(
                error.starts_with("invalid config at `rules[1]`: a rule needs a condition"),
                "{error}"
            );
        }
    }

    #[test]
    fn rejects_unknown_keys_naming_them() {
        let error = refusal(r#"{"default_ratio": 1, "rules": [{"servce": "x"}]}"#);
        assert!(error.starts_with("invalid config at `rules[0]"), "{error}");
        assert!(error.contains("unknown field `servce`"), "{error}");
        let error = refusal(r#"{"default_ratio": 1, "ratio": 0.5}"#);
        assert!(error.contains("unknown field `ratio`"), "{error}");
    }

    #[test]
    fn rejects_a_useless_or_zero_rate_limit() {
        let error = refusal(
            r#"{"default_ratio": 1, "rules": [{"route": "/", "ratio": 0, "max_per_second": 5}]}"#,
        );
        assert!(error.contains("max_per_second has no effect"), "{error}");
        let error =
            refusal(r#"{"default_ratio": 1, "rules": [{"route": "/", "max_per_second": 0}]}"#);
        assert!(
            error.starts_with("invalid config at `rules[0].max_per_second`"),
            "{error}"
        );
    }

    #[test]
    fn rejects_bad_patterns_and_keys() {
        let error = refusal(r#"{"default_ratio": 1, "rules": [{"route": "/a/*/b"}]}"#);
        assert!(
            error.starts_with("invalid config at `rules[0].route`"),
            "{error}"
        );
        let error = refusal(r#"{"default_ratio": 1, "rules": [{"service": ""}]}"#);
        assert!(
            error.starts_with("invalid config at `rules[0].service`"),
            "{error}"
        );
        let error = refusal(r#"{"default_ratio": 1, "route_attribute": ""}"#);
        assert!(
            error.starts_with("invalid config at `route_attribute`"),
            "{error}"
        );
        let error = refusal(r#"{"default_ratio": 1, "slower_than_ms": 5}"#);
        assert!(error.contains("unknown field `slower_than_ms`"), "{error}");
    }
}
