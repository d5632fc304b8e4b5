//! Weft reference tail-sampling policy: keeps or drops whole traces by ordered rules.
//!
//! A tail-sampling stage buffers each trace for its `decision_wait`, then asks this policy about
//! the whole trace. This configuration keeps every trace with an error, every trace over two
//! seconds, checkout payments slower than 500 ms, every premium customer's trace, drops health
//! checks, and keeps a tenth of the rest, at most 100 a second:
//!
//! ```toml
//! [[processors]]
//! name = "tail"
//! plugin = "builtin:tail-policy"
//! [processors.tail_sampling]
//! decision_wait_ms = 10000
//! [processors.config]
//! rules = [
//!   { name = "error", error = true },
//!   { name = "slow", slower_than_ms = 2000 },
//!   { name = "slow-payment", service = "checkout", route = "/pay", span_slower_than_ms = 500 },
//!   { name = "premium", attribute = "enduser.tier", equals = "premium" },
//!   { name = "health", route = "/healthz", keep = false },
//!   { name = "baseline", ratio = 0.1, max_per_second = 100 },
//! ]
//! ```
//!
//! # Configuration
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `rules` | `[]` | rules tried in order; the **first** a trace meets decides it |
//! | `default` | `"drop"` | `"keep"` or `"drop"` the traces no rule matches |
//! | `route_attribute` | `"http.route"` | the span attribute `route` conditions match |
//!
//! A rule's **span conditions** must all hold for one single span of the trace:
//!
//! | condition | a span meets it when |
//! |---|---|
//! | `error = true` | its status code is `Error` |
//! | `service = "P"` | its resource's `service.name` matches `P` |
//! | `route = "P"` | its route attribute (a string) matches `P` |
//! | `span_name = "P"` | its name matches `P` |
//! | `span_slower_than_ms = N` | it lasted longer than `N` ms |
//! | `attribute = "K"` | it has attribute `K` (any value, or with `equals = "P"` one matching `P`; numbers and booleans match as text) |
//!
//! and its **trace conditions** must hold for the trace:
//!
//! | condition | the trace meets it when |
//! |---|---|
//! | `slower_than_ms = N` | earliest start to latest end is longer than `N` ms |
//! | `root_slower_than_ms = N` | its root span has arrived and lasted longer than `N` ms |
//!
//! A rule with no condition matches every trace: a baseline at the end of the list. Its
//! **actions**:
//!
//! | action | default | meaning |
//! |---|---|---|
//! | `keep = false` | `true` | drop the matching traces |
//! | `ratio = R` | `1.0` | keep this share of matching traces, consistently by trace id |
//! | `max_per_second = N` | none | of those, keep at most `N` traces a second (of host time) |
//!
//! A pattern matches exactly, or, with a trailing `*`, by prefix (`"/api/*"`). The decision's
//! reason is the rule's `name` (default `rule-N`, counting from 1), `NAME-rate-limited` for a
//! trace a rate limit refused, and `default` for traces no rule matched; Weft counts decisions
//! by reason in `weft_tail_decisions_total`.
//!
//! # Consistency
//!
//! `ratio` uses OpenTelemetry's consistent probability sampling: the trace is kept when the
//! low 56 bits of its id are at least `2^56 × (1 − R)` (see [`weft_sdk::sampling::ratio`]).
//! Every Weft instance, and every OpenTelemetry SDK with a `TraceIdRatioBased` sampler of the
//! same ratio, keeps exactly the same traces.

pub mod config;
pub mod rules;

use weft_sdk::{AttributeSelection, Decision, Interest, Trace, TracePolicy};

use crate::config::Config;
use crate::rules::Rules;

/// The rule-based tail-sampling policy.
#[derive(Debug)]
pub struct TailPolicy {
    rules: Rules,
}

impl TracePolicy for TailPolicy {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = weft_sdk::parse_config(config)?;
        Ok(TailPolicy {
            rules: Rules::new(&config),
        })
    }

    fn interest(&self) -> Interest {
        let keys = self.rules.attribute_keys();
        Interest {
            span_attributes: if keys.is_empty() {
                AttributeSelection::None
            } else {
                AttributeSelection::Keys(keys)
            },
            ..Interest::nothing()
        }
    }

    fn decide(&mut self, trace: &Trace<'_>, now_unix_nano: u64) -> Result<Decision, String> {
        Ok(self.rules.decide(trace, now_unix_nano))
    }
}

weft_sdk::export_trace_policy!(TailPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::testing::{BatchBuilder, decide};
    use weft_sdk::{StatusCode, TraceId};

    const SECOND: u64 = 1_000_000_000;
    const START: u64 = 1_700_000_000_000_000_000;

    fn policy(json: &str) -> TailPolicy {
        TailPolicy::init(json).unwrap()
    }

    fn trace(n: u64) -> TraceId {
        TraceId {
            high: n,
            low: n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    /// A root span of trace `n` lasting `ms`, with a child span of the same trace.
    fn two_span_trace(builder: BatchBuilder, n: u64, ms: u64, child_error: bool) -> BatchBuilder {
        builder
            .span_with("GET /checkout", |s| {
                s.trace_id = trace(n);
                s.span_id = n * 10;
                s.start_time_unix_nano = START;
                s.end_time_unix_nano = START + ms * 1_000_000;
            })
            .span_with("SELECT", |s| {
                s.trace_id = trace(n);
                s.span_id = n * 10 + 1;
                s.parent_span_id = n * 10;
                s.start_time_unix_nano = START + 1_000_000;
                s.end_time_unix_nano = START + 2_000_000;
                if child_error {
                    s.status_code = StatusCode::Error;
                }
            })
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let mut policy = policy(
            r#"{"rules": [
                {"name": "error", "error": true},
                {"name": "slow", "slower_than_ms": 2000},
                {"name": "rest", "keep": false}
            ]}"#,
        );
        let batch = two_span_trace(BatchBuilder::new(), 1, 10, true);
        let batch = two_span_trace(batch, 2, 3000, false);
        let batch = two_span_trace(batch, 3, 10, false).build();
        let decisions = decide(&mut policy, &batch, START).unwrap();
        assert_eq!(
            decisions,
            vec![
                Decision::keep("error"),
                Decision::keep("slow"),
                Decision::drop("rest")
            ]
        );
    }

    #[test]
    fn span_conditions_must_hold_on_one_span() {
        // The error is on the database span, the route on the HTTP span: no single span has
        // both, so the rule does not match.
        let mut policy = policy(
            r#"{"rules": [{"name": "pay-error", "error": true, "route": "/pay"}], "default": "keep"}"#,
        );
        let batch = BatchBuilder::new()
            .span_with("POST /pay", |s| s.trace_id = trace(1))
            .attribute("http.route", "/pay")
            .span_with("charge", |s| {
                s.trace_id = trace(1);
                s.status_code = StatusCode::Error;
            })
            .span_with("POST /pay", |s| {
                s.trace_id = trace(2);
                s.status_code = StatusCode::Error;
            })
            .attribute("http.route", "/pay")
            .build();
        let decisions = decide(&mut policy, &batch, START).unwrap();
        assert_eq!(
            decisions,
            vec![Decision::keep("default"), Decision::keep("pay-error")]
        );
    }

    #[test]
    fn latency_per_service_and_attribute_matches() {
        let mut policy = policy(
            r#"{"rules": [
                {"name": "slow-checkout", "service": "checkout", "span_slower_than_ms": 500},
                {"name": "premium", "attribute": "enduser.tier", "equals": "premium"},
                {"name": "retries", "attribute": "retry.count", "equals": "3"}
            ]}"#,
        );
        let batch = BatchBuilder::new()
            .resource_attribute("service.name", "checkout")
            .span_with("pay", |s| {
                s.trace_id = trace(1);
                s.end_time_unix_nano = s.start_time_unix_nano + SECOND;
            })
            .span_with("pay", |s| s.trace_id = trace(2))
            .attribute("enduser.tier", "premium")
            .span_with("pay", |s| s.trace_id = trace(3))
            .attribute("retry.count", 3i64)
            .resource()
            .resource_attribute("service.name", "search")
            .span_with("query", |s| {
                s.trace_id = trace(4);
                s.end_time_unix_nano = s.start_time_unix_nano + SECOND;
            })
            .build();
        let decisions = decide(&mut policy, &batch, START).unwrap();
        assert_eq!(
            decisions,
            vec![
                Decision::keep("slow-checkout"),
                Decision::keep("premium"),
                Decision::keep("retries"),
                Decision::drop("default"),
            ]
        );
    }

    #[test]
    fn the_root_condition_waits_for_the_root() {
        let mut policy =
            policy(r#"{"rules": [{"name": "slow-root", "root_slower_than_ms": 100}]}"#);
        let batch = BatchBuilder::new()
            // A child only: no root yet, so the rule cannot match.
            .span_with("child", |s| {
                s.trace_id = trace(1);
                s.parent_span_id = 7;
                s.end_time_unix_nano = s.start_time_unix_nano + SECOND;
            })
            .span_with("root", |s| {
                s.trace_id = trace(2);
                s.end_time_unix_nano = s.start_time_unix_nano + SECOND;
            })
            .build();
        let decisions = decide(&mut policy, &batch, START).unwrap();
        assert_eq!(
            decisions,
            vec![Decision::drop("default"), Decision::keep("slow-root")]
        );
    }

    #[test]
    fn the_baseline_agrees_with_the_opentelemetry_ratio_sampler() {
        let mut policy = policy(r#"{"rules": [{"name": "baseline", "ratio": 0.25}]}"#);
        let mut builder = BatchBuilder::new();
        for n in 1..=4000 {
            builder = builder.span_with("op", |s| s.trace_id = trace(n));
        }
        let batch = builder.build();
        let decisions = decide(&mut policy, &batch, START).unwrap();
        let mut kept = 0;
        for (n, decision) in (1..=4000).zip(&decisions) {
            let expected = weft_sdk::sampling::ratio::sampled(trace(n), 0.25);
            assert_eq!(decision.keep, expected, "trace {n}");
            kept += usize::from(decision.keep);
        }
        // 1000 expected; 4 sigma is about 110.
        assert!((890..=1110).contains(&kept), "kept {kept}");
        // The same ids get the same verdicts.
        assert_eq!(decide(&mut policy, &batch, START).unwrap(), decisions);
    }

    #[test]
    fn the_rate_limit_counts_traces_per_second_of_host_time() {
        let mut policy = policy(r#"{"rules": [{"name": "all", "max_per_second": 10}]}"#);
        let mut builder = BatchBuilder::new();
        for n in 1..=50 {
            builder = builder.span_with("op", |s| s.trace_id = trace(n));
        }
        let batch = builder.build();
        let first = decide(&mut policy, &batch, START).unwrap();
        assert_eq!(first.iter().filter(|d| d.keep).count(), 10);
        assert_eq!(first[49], Decision::drop("all-rate-limited"));
        // Half a second later, five more tokens.
        let later = decide(&mut policy, &batch, START + SECOND / 2).unwrap();
        assert_eq!(later.iter().filter(|d| d.keep).count(), 5);
    }

    #[test]
    fn interest_asks_only_for_the_attributes_rules_read() {
        let none = policy(r#"{"rules": [{"error": true}]}"#);
        assert_eq!(none.interest().span_attributes, AttributeSelection::None);
        let some = policy(
            r#"{"rules": [{"route": "/pay"}, {"attribute": "enduser.tier"}, {"route": "/x"}]}"#,
        );
        assert_eq!(
            some.interest().span_attributes,
            AttributeSelection::Keys(vec!["http.route".into(), "enduser.tier".into()])
        );
    }
}
