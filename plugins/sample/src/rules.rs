//! The sampling policy: which rule matches a span, and the verdict it gets.
//!
//! The policy reads a handful of facts about each span ([`SpanFacts`]), tries the rules in
//! order, and the first rule whose conditions all hold decides; spans no rule matches get the
//! default ratio. Deciding is two steps: the ratio (a consistent decision by trace
//! randomness, see [`crate::ratio`]), then, for spans the ratio keeps, the rule's rate limit if
//! it has one (see [`crate::rate`]).

use weft_sdk::{AttributeSelection, Batch, Interest, Span, SpanFields, StatusCode};

use crate::config::{Config, RuleConfig};
use crate::rate::TokenBucket;
use crate::ratio::{Threshold, outbound_threshold, trace_randomness};
use crate::tracestate::{self, OtSampling};
pub use weft_sdk::sampling::Pattern;

/// What the policy knows about one span, borrowed from the batch (nothing is copied).
///
/// The facts that take a look-up (service, route, trace-state) are read only if some rule
/// needs them; the others are left at their defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpanFacts<'a> {
    /// The span's status is `Error`.
    pub error: bool,
    /// End time minus start time, in nanoseconds (0 if the end precedes the start).
    pub duration_nanos: u64,
    /// The end time, in Unix nanoseconds: the rate limiters' clock.
    pub end_unix_nano: u64,
    /// The resource's `service.name`, if it is a string.
    pub service: Option<&'a str>,
    /// The route attribute, if present and a string.
    pub route: Option<&'a str>,
    /// The 56-bit randomness: `ot=rv:` from the trace-state if present, else from the trace id.
    pub randomness: u64,
    /// The threshold an earlier sampling stage recorded in the trace-state (`ot=th:`).
    pub incoming_threshold: Option<Threshold>,
}

/// The verdict for one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keep the span unchanged: it was chosen with probability 1.
    Keep,
    /// Keep the span, recording in its trace-state that it was kept with this threshold.
    KeepSampled(Threshold),
    /// Drop the span: its trace's randomness is below the threshold.
    Drop,
    /// Drop the span: the ratio kept it, but its rule's rate limit is used up.
    RateLimited,
}

/// One compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    errors: bool,
    slower_than_nanos: Option<u64>,
    service: Option<Pattern>,
    route: Option<Pattern>,
    threshold: Threshold,
    limiter: Option<TokenBucket>,
}

impl Rule {
    fn new(config: &RuleConfig) -> Rule {
        Rule {
            errors: config.keep_errors,
            slower_than_nanos: config.slower_than_ms.map(|ms| ms.saturating_mul(1_000_000)),
            service: config.service.clone(),
            route: config.route.clone(),
            threshold: Threshold::from_ratio(config.ratio.get()),
            limiter: config.max_per_second.map(TokenBucket::new),
        }
    }

    /// Whether the span meets every condition of this rule. A missing service or route
    /// meets no pattern.
    fn matches(&self, span: &SpanFacts<'_>) -> bool {
        let meets = |pattern: &Option<Pattern>, value: Option<&str>| {
            pattern
                .as_ref()
                .is_none_or(|pattern| value.is_some_and(|value| pattern.matches(value)))
        };
        (!self.errors || span.error)
            && self
                .slower_than_nanos
                .is_none_or(|limit| span.duration_nanos > limit)
            && meets(&self.service, span.service)
            && meets(&self.route, span.route)
    }
}

/// Which parts of a span the rules need: the processor's interest, and the facts it reads.
#[derive(Debug, Clone, Copy, Default)]
struct Reads {
    /// Some ratio is strictly between 0 and 1: read ids and trace-state.
    randomness: bool,
    status: bool,
    times: bool,
    service: bool,
    route: bool,
}

/// The compiled rules, the default ratio, and the state of the rate limiters.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Threshold,
    route_attribute: String,
    reads: Reads,
}

impl Policy {
    /// Compiles a validated config.
    pub fn new(config: &Config) -> Policy {
        let rules: Vec<Rule> = config.rules.iter().map(Rule::new).collect();
        let default = Threshold::from_ratio(config.default_ratio.get());
        let fractional = |t: Threshold| t != Threshold::ALWAYS && t != Threshold::NEVER;
        let reads = Reads {
            randomness: fractional(default) || rules.iter().any(|r| fractional(r.threshold)),
            status: rules.iter().any(|r| r.errors),
            times: rules
                .iter()
                .any(|r| r.slower_than_nanos.is_some() || r.limiter.is_some()),
            service: rules.iter().any(|r| r.service.is_some()),
            route: rules.iter().any(|r| r.route.is_some()),
        };
        Policy {
            rules,
            default,
            route_attribute: config.route_attribute.as_str().to_owned(),
            reads,
        }
    }

    /// The parts of a span the rules read, and nothing more.
    pub fn interest(&self) -> Interest {
        let fields = |needed: bool, fields: SpanFields| match needed {
            true => fields,
            false => SpanFields::empty(),
        };
        let span_fields = fields(
            self.reads.randomness,
            SpanFields::IDS | SpanFields::TRACE_STATE,
        ) | fields(self.reads.status, SpanFields::STATUS)
            | fields(self.reads.times, SpanFields::TIMES);
        let keys = |needed: bool, key: &str| match needed {
            true => AttributeSelection::Keys(vec![key.to_owned()]),
            false => AttributeSelection::None,
        };
        Interest {
            span_fields,
            span_attributes: keys(self.reads.route, &self.route_attribute),
            resource_attributes: keys(self.reads.service, "service.name"),
            ..Interest::nothing()
        }
    }

    /// Reads the facts the rules need about `span`.
    pub fn facts<'a>(&self, batch: &'a Batch, span: &Span) -> SpanFacts<'a> {
        let reads = self.reads;
        let sampling = match reads.randomness {
            true => tracestate::read(batch.text(span.trace_state)),
            false => OtSampling::default(),
        };
        SpanFacts {
            error: reads.status && matches!(span.status.code, StatusCode::Error),
            duration_nanos: span
                .end_time_unix_nano
                .saturating_sub(span.start_time_unix_nano),
            end_unix_nano: span.end_time_unix_nano,
            service: reads.service.then(|| batch.service_name(span)).flatten(),
            route: reads
                .route
                .then(|| batch.attribute(span.attributes, &self.route_attribute))
                .flatten()
                .and_then(|value| value.as_str()),
            randomness: sampling
                .randomness
                .unwrap_or_else(|| trace_randomness(span.trace_id)),
            incoming_threshold: sampling.threshold,
        }
    }

    /// Decides one span: the first matching rule's ratio (or the default ratio), then that
    /// rule's rate limit, if any, for spans the ratio keeps.
    pub fn decide(&mut self, span: &SpanFacts<'_>) -> Verdict {
        let (threshold, limiter) = match self.rules.iter_mut().find(|rule| rule.matches(span)) {
            Some(rule) => (rule.threshold, rule.limiter.as_mut()),
            None => (self.default, None),
        };
        if !threshold.keeps(span.randomness) {
            return Verdict::Drop;
        }
        if let Some(limiter) = limiter
            && !limiter.try_take(span.end_unix_nano)
        {
            return Verdict::RateLimited;
        }
        if threshold == Threshold::ALWAYS {
            Verdict::Keep
        } else {
            Verdict::KeepSampled(outbound_threshold(
                threshold,
                span.incoming_threshold,
                span.randomness,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;
    const LOW: u64 = 0; // randomness no fractional ratio keeps
    const HIGH: u64 = (1 << 56) - 1; // randomness every ratio above 0 keeps

    fn policy(json: &str) -> Policy {
        Policy::new(&weft_sdk::parse_config(json).unwrap())
    }

    fn pattern(text: &str) -> Pattern {
        Pattern::try_from(text.to_owned()).unwrap()
    }

    #[test]
    fn patterns_match_exactly_or_by_prefix() {
        assert!(pattern("/healthz").matches("/healthz"));
        assert!(!pattern("/healthz").matches("/healthz/live"));
        assert!(pattern("/api/*").matches("/api/"));
        assert!(pattern("/api/*").matches("/api/v1/users"));
        assert!(!pattern("/api/*").matches("/api"));
        assert!(pattern("*").matches(""));
        assert_eq!(pattern("*"), Pattern::Prefix(String::new()));
        assert!(Pattern::try_from(String::new()).is_err());
        assert!(Pattern::try_from("*/x".to_owned()).is_err());
        assert!(Pattern::try_from("/a**".to_owned()).is_err());
    }

    #[test]
    fn a_rule_needs_every_condition() {
        let mut p = policy(
            r#"{"default_ratio": 0, "rules": [
                {"service": "search", "route": "/q*", "keep_errors": true, "slower_than_ms": 100}
            ]}"#,
        );
        let all = SpanFacts {
            error: true,
            duration_nanos: 101_000_000,
            service: Some("search"),
            route: Some("/query"),
            ..SpanFacts::default()
        };
        assert_eq!(p.decide(&all), Verdict::Keep);
        let misses = [
            SpanFacts {
                error: false,
                ..all
            },
            SpanFacts {
                duration_nanos: 100_000_000,
                ..all
            },
            SpanFacts {
                service: Some("cart"),
                ..all
            },
            SpanFacts {
                service: None,
                ..all
            },
            SpanFacts {
                route: Some("/x"),
                ..all
            },
            SpanFacts { route: None, ..all },
        ];
        for facts in misses {
            assert_eq!(p.decide(&facts), Verdict::Drop, "{facts:?}");
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let mut p = policy(
            r#"{"default_ratio": 1, "rules": [
                {"keep_errors": true},
                {"route": "/healthz", "ratio": 0}
            ]}"#,
        );
        let health = SpanFacts {
            route: Some("/healthz"),
            ..SpanFacts::default()
        };
        assert_eq!(p.decide(&health), Verdict::Drop);
        assert_eq!(
            p.decide(&SpanFacts {
                error: true,
                ..health
            }),
            Verdict::Keep
        );
        assert_eq!(p.decide(&SpanFacts::default()), Verdict::Keep);
    }

    #[test]
    fn fractional_ratios_decide_by_randomness_and_mark_the_threshold() {
        let mut p = policy(r#"{"default_ratio": 0.25}"#);
        let quarter = Threshold::from_ratio(0.25);
        let high = SpanFacts {
            randomness: HIGH,
            ..SpanFacts::default()
        };
        assert_eq!(p.decide(&high), Verdict::KeepSampled(quarter));
        assert_eq!(
            p.decide(&SpanFacts {
                randomness: LOW,
                ..high
            }),
            Verdict::Drop
        );
        // An earlier stage that sampled harder keeps its threshold.
        let tenth = Threshold::from_ratio(0.1);
        let sampled = SpanFacts {
            incoming_threshold: Some(tenth),
            ..high
        };
        assert_eq!(p.decide(&sampled), Verdict::KeepSampled(tenth));
    }

    #[test]
    fn rate_limits_apply_to_what_the_ratio_keeps() {
        let mut p = policy(
            r#"{"default_ratio": 1, "rules": [
                {"service": "search", "ratio": 0.5, "max_per_second": 2}
            ]}"#,
        );
        let at = |randomness, end| SpanFacts {
            service: Some("search"),
            randomness,
            end_unix_nano: end,
            ..SpanFacts::default()
        };
        let t0 = 1_700_000_000 * SECOND;
        // Spans the ratio drops take no token.
        assert_eq!(p.decide(&at(LOW, t0)), Verdict::Drop);
        assert!(matches!(p.decide(&at(HIGH, t0)), Verdict::KeepSampled(_)));
        assert!(matches!(p.decide(&at(HIGH, t0)), Verdict::KeepSampled(_)));
        assert_eq!(p.decide(&at(HIGH, t0)), Verdict::RateLimited);
        assert!(matches!(
            p.decide(&at(HIGH, t0 + SECOND / 2)),
            Verdict::KeepSampled(_)
        ));
        // Other spans are not limited.
        assert_eq!(p.decide(&SpanFacts::default()), Verdict::Keep);
    }

    #[test]
    fn interest_asks_only_for_what_the_rules_read() {
        let interest = policy(r#"{"default_ratio": 1}"#).interest();
        assert_eq!(interest, Interest::nothing());

        let interest = policy(r#"{"default_ratio": 0.1}"#).interest();
        assert_eq!(
            interest.span_fields,
            SpanFields::IDS | SpanFields::TRACE_STATE
        );
        assert_eq!(interest.span_attributes, AttributeSelection::None);

        let interest = policy(
            r#"{"default_ratio": 1, "route_attribute": "url.template", "rules": [
                {"keep_errors": true}, {"route": "/healthz", "ratio": 0}
            ]}"#,
        )
        .interest();
        assert_eq!(interest.span_fields, SpanFields::STATUS);
        assert_eq!(
            interest.span_attributes,
            AttributeSelection::Keys(vec!["url.template".to_owned()])
        );
        assert_eq!(interest.resource_attributes, AttributeSelection::None);

        let interest = policy(
            r#"{"default_ratio": 0, "rules": [
                {"slower_than_ms": 5}, {"service": "a", "max_per_second": 1}
            ]}"#,
        )
        .interest();
        assert_eq!(interest.span_fields, SpanFields::TIMES);
        assert_eq!(
            interest.resource_attributes,
            AttributeSelection::Keys(vec!["service.name".to_owned()])
        );
    }
}
