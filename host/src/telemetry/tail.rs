//! Metrics of the tail-sampling stage.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::exposition::{escape, family};

/// Distinct decision reasons kept as labels; later ones count as `other`.
pub const MAX_REASONS: usize = 32;

/// Longest reason label kept; longer ones are cut.
const MAX_REASON_LEN: usize = 64;

/// Counters and gauges of the tail-sampling stage.
#[derive(Debug, Default)]
pub struct TailMetrics {
    /// Traces waiting for a decision.
    pub traces_buffered: AtomicU64,
    /// Spans waiting for a decision.
    pub spans_buffered: AtomicU64,
    /// Protobuf bytes waiting for a decision.
    pub bytes_buffered: AtomicU64,
    /// Traces decided before their wait was over, because the buffer was full.
    pub decided_early: AtomicU64,
    /// Traces decided (or exported) at shutdown.
    pub decided_at_shutdown: AtomicU64,
    /// Spans that arrived after their trace was decided and were kept.
    pub late_spans_kept: AtomicU64,
    /// Spans that arrived after their trace was decided and were dropped.
    pub late_spans_dropped: AtomicU64,
    /// Buffered spans dropped because they could not be decoded when their trace was taken
    /// out (a processor's edits nested their values past the decoder's depth limit).
    pub spans_undecodable: AtomicU64,
    /// Traces decided, by (kept, reason).
    decisions: Mutex<BTreeMap<(bool, String), u64>>,
}

impl TailMetrics {
    /// Counts `traces` decisions of one verdict and reason. The set of reasons is bounded.
    pub fn count_decisions(&self, keep: bool, reason: &str, traces: u64) {
        let mut decisions = crate::sync::lock(&self.decisions);
        let mut reason = reason.chars().take(MAX_REASON_LEN).collect::<String>();
        let known = decisions.keys().any(|(_, r)| *r == reason);
        let distinct = decisions
            .keys()
            .map(|(_, r)| r.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if !known && distinct >= MAX_REASONS {
            reason = "other".to_owned();
        }
        *decisions.entry((keep, reason)).or_default() += traces;
    }

    /// Traces decided with this verdict and reason so far.
    pub fn decisions(&self, keep: bool, reason: &str) -> u64 {
        crate::sync::lock(&self.decisions)
            .get(&(keep, reason.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Renders the stage's metrics in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "weft_tail_traces_buffered",
                "gauge",
                "Traces waiting for a tail-sampling decision.",
                get(&self.traces_buffered),
            ),
            (
                "weft_tail_spans_buffered",
                "gauge",
                "Spans waiting for a tail-sampling decision.",
                get(&self.spans_buffered),
            ),
            (
                "weft_tail_buffered_bytes",
                "gauge",
                "Protobuf bytes of the spans waiting for a tail-sampling decision.",
                get(&self.bytes_buffered),
            ),
            (
                "weft_tail_traces_decided_early_total",
                "counter",
                "Traces decided before their decision_wait because the buffer was full.",
                get(&self.decided_early),
            ),
            (
                "weft_tail_traces_decided_at_shutdown_total",
                "counter",
                "Traces decided or exported at shutdown.",
                get(&self.decided_at_shutdown),
            ),
            (
                "weft_tail_spans_undecodable_total",
                "counter",
                "Buffered spans dropped because they could not be decoded (values nested past the decoder's depth limit).",
                get(&self.spans_undecodable),
            ),
        ] {
            family(out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        family(
            out,
            "weft_tail_late_spans_total",
            "counter",
            "Spans that arrived after their trace was decided, by the decision they followed.",
        );
        for (decision, value) in [
            ("keep", get(&self.late_spans_kept)),
            ("drop", get(&self.late_spans_dropped)),
        ] {
            let _ = writeln!(
                out,
                "weft_tail_late_spans_total{{decision=\"{decision}\"}} {value}"
            );
        }
        family(
            out,
            "weft_tail_decisions_total",
            "counter",
            "Traces decided by the tail-sampling policy, by decision and reason.",
        );
        for ((keep, reason), value) in crate::sync::lock(&self.decisions).iter() {
            let decision = if *keep { "keep" } else { "drop" };
            let _ = writeln!(
                out,
                "weft_tail_decisions_total{{decision=\"{decision}\",reason=\"{}\"}} {value}",
                escape(reason)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded() {
        let metrics = TailMetrics::default();
        for n in 0..40 {
            metrics.count_decisions(n % 2 == 0, &format!("reason-{n}"), 1);
        }
        metrics.count_decisions(true, "reason-0", 2);
        assert_eq!(metrics.decisions(true, "reason-0"), 3);
        assert_eq!(metrics.decisions(true, "reason-39"), 0);
        assert_eq!(
            metrics.decisions(true, "other") + metrics.decisions(false, "other"),
            8
        );
        let mut text = String::new();
        metrics.render(&mut text);
        assert!(
            text.contains("weft_tail_decisions_total{decision=\"keep\",reason=\"reason-0\"} 3")
        );
    }
}
