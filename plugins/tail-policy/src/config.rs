//! The configuration schema, and its validation.
//!
//! Everything a config can get wrong is rejected while Weft loads the plugin, with a message
//! naming the offending key (``invalid config at `rules[1].ratio`: ...``).

use std::num::NonZeroU32;

use serde::Deserialize;
use weft_sdk::sampling::{AttributeKey, Pattern, Ratio};

/// The policy's configuration: the `config` table of its `[[processors]]` entry.
///
/// ```
/// use weft_plugin_tail_policy::config::Config;
///
/// let config: Config = weft_sdk::parse_config(r#"{
///     "rules": [{"name": "errors", "error": true}, {"name": "baseline", "ratio": 0.1}]
/// }"#).unwrap();
/// assert_eq!(config.rules.len(), 2);
/// assert!(!config.default_keep());
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The rules, tried in order: the first that matches a trace decides it.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// What happens to a trace no rule matches: `"drop"` (the default) or `"keep"`.
    #[serde(default)]
    pub default: DefaultAction,
    /// The span attribute that `route` conditions match. Default: `http.route`.
    #[serde(default = "default_route_attribute")]
    pub route_attribute: AttributeKey,
}

impl Config {
    /// Whether traces no rule matches are kept.
    pub fn default_keep(&self) -> bool {
        self.default == DefaultAction::Keep
    }
}

fn default_route_attribute() -> AttributeKey {
    AttributeKey::try_from("http.route".to_owned()).expect("a non-empty key")
}

/// The decision for traces no rule matches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAction {
    /// Drop them.
    #[default]
    Drop,
    /// Keep them.
    Keep,
}

/// One rule: conditions, all of which a trace must meet, and what to do with the traces that
/// do. A rule without conditions matches every trace (a baseline at the end of the list).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "RawRule")]
pub struct RuleConfig {
    /// The reason recorded for the traces this rule decides.
    pub name: Option<String>,
    /// Span conditions: some single span of the trace must meet all that are set.
    pub span: SpanConditions,
    /// Condition: the whole trace (earliest start to latest end) lasted longer than this.
    pub slower_than_ms: Option<u64>,
    /// Condition: the root span has arrived and lasted longer than this.
    pub root_slower_than_ms: Option<u64>,
    /// Keep the traces the rule matches (`true`, the default) or drop them.
    pub keep: bool,
    /// The share of matching traces kept, consistently by trace id. Default: 1.
    pub ratio: Ratio,
    /// At most this many matching traces kept per second of host time.
    pub max_per_second: Option<NonZeroU32>,
}

/// Conditions on one span; a trace meets them when some span of it meets all that are set.
#[derive(Debug, Clone, Default)]
pub struct SpanConditions {
    /// The span's status is `Error`.
    pub error: bool,
    /// The resource's `service.name` matches.
    pub service: Option<Pattern>,
    /// The route attribute matches.
    pub route: Option<Pattern>,
    /// The span's name matches.
    pub span_name: Option<Pattern>,
    /// The span lasted longer than this many milliseconds.
    pub span_slower_than_ms: Option<u64>,
    /// The span has this attribute (with a value matching `equals` if given, as a string).
    pub attribute: Option<AttributeKey>,
    /// The pattern the attribute's value must match.
    pub equals: Option<Pattern>,
}

impl SpanConditions {
    /// Whether any span condition is set.
    pub fn any(&self) -> bool {
        self.error
            || self.service.is_some()
            || self.route.is_some()
            || self.span_name.is_some()
            || self.span_slower_than_ms.is_some()
            || self.attribute.is_some()
    }
}

/// A rule as written, before the checks that involve several of its keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    #[serde(default)]
    error: bool,
    service: Option<Pattern>,
    route: Option<Pattern>,
    span_name: Option<Pattern>,
    span_slower_than_ms: Option<u64>,
    attribute: Option<AttributeKey>,
    equals: Option<Pattern>,
    slower_than_ms: Option<u64>,
    root_slower_than_ms: Option<u64>,
    keep: Option<bool>,
    ratio: Option<Ratio>,
    max_per_second: Option<NonZeroU32>,
}

impl TryFrom<RawRule> for RuleConfig {
    type Error = String;

    fn try_from(raw: RawRule) -> Result<Self, String> {
        if raw.equals.is_some() && raw.attribute.is_none() {
            return Err("`equals` needs `attribute`: the key whose value it matches".to_owned());
        }
        let keep = raw.keep.unwrap_or(true);
        if !keep && (raw.ratio.is_some() || raw.max_per_second.is_some()) {
            return Err(
                "`ratio` and `max_per_second` choose which matching traces to keep; \
                 they have no effect with keep = false"
                    .to_owned(),
            );
        }
        let ratio = raw.ratio.unwrap_or(Ratio::ONE);
        if ratio == Ratio::ZERO && raw.max_per_second.is_some() {
            return Err(
                "max_per_second has no effect with ratio = 0: the rule keeps no trace".to_owned(),
            );
        }
        if raw.name.as_deref() == Some("") {
            return Err("a rule's name must not be empty (leave it out instead)".to_owned());
        }
        Ok(RuleConfig {
            name: raw.name,
            span: SpanConditions {
                error: raw.error,
                service: raw.service,
                route: raw.route,
                span_name: raw.span_name,
                span_slower_than_ms: raw.span_slower_than_ms,
                attribute: raw.attribute,
                equals: raw.equals,
            },
            slower_than_ms: raw.slower_than_ms,
            root_slower_than_ms: raw.root_slower_than_ms,
            keep,
            ratio,
            max_per_second: raw.max_per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(json: &str) -> String {
        weft_sdk::parse_config::<Config>(json).unwrap_err()
    }

    #[test]
    fn an_empty_config_drops_everything() {
        let config: Config = weft_sdk::parse_config("{}").unwrap();
        assert!(config.rules.is_empty());
        assert!(!config.default_keep());
    }

    #[test]
    fn errors_name_the_key() {
        let message = refusal(r#"{"rules": [{"error": true}, {"ratio": 1.5}]}"#);
        assert!(message.contains("rules[1]"), "{message}");
        assert!(message.contains("probability from 0 to 1"), "{message}");
        let message = refusal(r#"{"rules": [{"servce": "checkout"}]}"#);
        assert!(message.contains("servce"), "{message}");
        let message = refusal(r#"{"default": "maybe"}"#);
        assert!(message.contains("default"), "{message}");
    }

    #[test]
    fn contradictory_rules_are_refused() {
        assert!(refusal(r#"{"rules": [{"equals": "premium"}]}"#).contains("needs `attribute`"));
        assert!(refusal(r#"{"rules": [{"keep": false, "ratio": 0.5}]}"#).contains("no effect"));
        assert!(refusal(r#"{"rules": [{"ratio": 0, "max_per_second": 5}]}"#).contains("no effect"));
        assert!(refusal(r#"{"rules": [{"route": "/a/*/b"}]}"#).contains("may only end"));
        assert!(refusal(r#"{"rules": [{"max_per_second": 0}]}"#).contains("max_per_second"));
    }
}
