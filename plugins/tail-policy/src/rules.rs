//! The rules compiled from the config, and how a trace meets them.

use weft_sdk::sampling::rate::TokenBucket;
use weft_sdk::sampling::ratio::Threshold;
use weft_sdk::sampling::{Pattern, ratio};
use weft_sdk::{Decision, Span, StatusCode, Trace, ValueRef};

use crate::config::{Config, RuleConfig, SpanConditions};

const NANOS_PER_MS: u64 = 1_000_000;

/// The compiled policy: rules in order, the default, and each rule's rate limiter.
#[derive(Debug)]
pub struct Rules {
    rules: Vec<Rule>,
    default_keep: bool,
    route_attribute: String,
}

#[derive(Debug)]
struct Rule {
    reason: String,
    span: SpanConditions,
    slower_than_nanos: Option<u64>,
    root_slower_than_nanos: Option<u64>,
    keep: bool,
    threshold: Threshold,
    limiter: Option<TokenBucket>,
}

impl Rules {
    /// Compiles a validated config.
    pub fn new(config: &Config) -> Rules {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| Rule::new(index, rule))
            .collect();
        Rules {
            rules,
            default_keep: config.default_keep(),
            route_attribute: config.route_attribute.as_str().to_owned(),
        }
    }

    /// The span attributes some rule reads: the route attribute and every `attribute` key.
    pub fn attribute_keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for rule in &self.rules {
            if rule.span.route.is_some() && !keys.contains(&self.route_attribute) {
                keys.push(self.route_attribute.clone());
            }
            if let Some(key) = &rule.span.attribute
                && !keys.iter().any(|k| k == key.as_str())
            {
                keys.push(key.as_str().to_owned());
            }
        }
        keys
    }

    /// Decides `trace`: the first rule it meets decides; with none, the default does.
    pub fn decide(&mut self, trace: &Trace<'_>, now_unix_nano: u64) -> Decision {
        let route_attribute = self.route_attribute.as_str();
        for rule in &mut self.rules {
            if rule.matches(trace, route_attribute) {
                return rule.act(trace, now_unix_nano);
            }
        }
        if self.default_keep {
            Decision::keep("default")
        } else {
            Decision::drop("default")
        }
    }
}

impl Rule {
    fn new(index: usize, config: &RuleConfig) -> Rule {
        Rule {
            reason: config
                .name
                .clone()
                .unwrap_or_else(|| format!("rule-{}", index + 1)),
            span: config.span.clone(),
            slower_than_nanos: config
                .slower_than_ms
                .map(|ms| ms.saturating_mul(NANOS_PER_MS)),
            root_slower_than_nanos: config
                .root_slower_than_ms
                .map(|ms| ms.saturating_mul(NANOS_PER_MS)),
            keep: config.keep,
            threshold: Threshold::from_ratio(config.ratio.get()),
            limiter: config.max_per_second.map(TokenBucket::new),
        }
    }

    fn matches(&self, trace: &Trace<'_>, route_attribute: &str) -> bool {
        if let Some(limit) = self.slower_than_nanos
            && trace.duration_nanos() <= limit
        {
            return false;
        }
        if let Some(limit) = self.root_slower_than_nanos {
            match trace.root() {
                Some(root) if Trace::span_duration_nanos(root) > limit => {}
                _ => return false,
            }
        }
        !self.span.any()
            || trace
                .spans()
                .iter()
                .any(|span| self.span_matches(trace, span, route_attribute))
    }

    fn span_matches(&self, trace: &Trace<'_>, span: &Span, route_attribute: &str) -> bool {
        let conditions = &self.span;
        if conditions.error && span.status.code != StatusCode::Error {
            return false;
        }
        if let Some(limit) = conditions.span_slower_than_ms
            && Trace::span_duration_nanos(span) <= limit.saturating_mul(NANOS_PER_MS)
        {
            return false;
        }
        if !matches_optional(&conditions.span_name, Some(trace.name(span))) {
            return false;
        }
        if !matches_optional(&conditions.service, trace.service_name(span)) {
            return false;
        }
        if conditions.route.is_some() {
            let route = trace
                .attribute(span, route_attribute)
                .and_then(|v| v.as_str());
            if !matches_optional(&conditions.route, route) {
                return false;
            }
        }
        if let Some(key) = &conditions.attribute {
            let Some(value) = trace.attribute(span, key.as_str()) else {
                return false;
            };
            if let Some(pattern) = &conditions.equals {
                let matched = match value {
                    ValueRef::Str(text) => pattern.matches(text),
                    ValueRef::Bool(b) => pattern.matches(&b.to_string()),
                    ValueRef::Int(i) => pattern.matches(&i.to_string()),
                    ValueRef::Double(d) => pattern.matches(&d.to_string()),
                    _ => false,
                };
                if !matched {
                    return false;
                }
            }
        }
        true
    }

    fn act(&mut self, trace: &Trace<'_>, now_unix_nano: u64) -> Decision {
        if !self.keep {
            return Decision::drop(&self.reason);
        }
        let randomness = ratio::trace_randomness(trace.trace_id());
        if !self.threshold.keeps(randomness) {
            return Decision::drop(&self.reason);
        }
        if let Some(limiter) = &mut self.limiter
            && !limiter.try_take(now_unix_nano)
        {
            return Decision::drop(&format!("{}-rate-limited", self.reason));
        }
        Decision::keep(&self.reason)
    }
}

/// Whether `value` matches `pattern`; no pattern matches anything, a missing value nothing.
fn matches_optional(pattern: &Option<Pattern>, value: Option<&str>) -> bool {
    match (pattern, value) {
        (None, _) => true,
        (Some(pattern), Some(value)) => pattern.matches(value),
        (Some(_), None) => false,
    }
}
