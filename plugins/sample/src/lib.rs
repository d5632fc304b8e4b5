//! Weft reference processor: head sampling by rules.
//!
//! Decides span by span which spans to keep. This configuration keeps every error, every span
//! slower than two seconds, all of `checkout`, none of the health checks, a quarter of
//! `search` but at most 100 of its spans a second, and a tenth of everything else:
//!
//! ```toml
//! [[processors]]
//! name = "sample"
//! plugin = "plugins/weft_plugin_sample.wasm"
//! config = { default_ratio = 0.1, rules = [
//!   { keep_errors = true },
//!   { slower_than_ms = 2000 },
//!   { service = "checkout", ratio = 1.0 },
//!   { route = "/healthz", ratio = 0.0 },
//!   { service = "search", ratio = 0.25, max_per_second = 100 },
//! ] }
//! ```
//!
//! # Configuration
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `default_ratio` | required | probability of keeping a span that no rule matches |
//! | `rules` | `[]` | rules tried in order; the **first** that matches a span decides it |
//! | `route_attribute` | `"http.route"` | the span attribute that `route` conditions match |
//! | `ratio_attribute` | none | span attribute to record the sampling probability on, e.g. `"sampling.ratio"` |
//!
//! A rule has one or more **conditions**, all of which a span must meet:
//!
//! | condition | a span meets it when |
//! |---|---|
//! | `keep_errors = true` | its status code is `Error` |
//! | `slower_than_ms = N` | it lasted (end − start) longer than `N` milliseconds |
//! | `service = "P"` | its resource's `service.name` matches pattern `P` |
//! | `route = "P"` | its route attribute (a string) matches pattern `P` |
//!
//! and **actions**, which say what to do with the spans that meet them:
//!
//! | action | default | meaning |
//! |---|---|---|
//! | `ratio = R` | `1.0` | keep this share of matching spans, consistently by trace id (below) |
//! | `max_per_second = N` | none | of the spans the ratio keeps, keep at most `N` a second (below) |
//!
//! A pattern matches exactly, or, with a trailing `*`, by prefix: `"/api/*"` matches
//! `/api/users`, and `"*"` matches any value that is present. A span without the attribute
//! (or whose route attribute is not a string) matches no pattern.
//!
//! Weft refuses to load a config with a ratio outside `[0, 1]`, a rule without a condition,
//! an unknown key (a misspelt `servce` is an error, not a rule that matches everything), a `*`
//! anywhere but at the end of a pattern, `max_per_second = 0`, or `max_per_second` on a rule with
//! `ratio = 0`. The message names the key: ``invalid config at `rules[2].ratio`: a ratio is a
//! probability from 0 to 1 (0.25 keeps a quarter), got 1.5``, followed by the position in
//! the JSON text Weft converts the TOML table to.
//!
//! # Consistent ratio sampling
//!
//! A ratio decision is a function of the trace id alone, computed as OpenTelemetry
//! specifies consistent probability sampling (the `TraceIdRatioBased` sampler, and the
//! `th`/`rv` trace-state keys), so Weft instances, OpenTelemetry SDKs and collectors in any
//! language agree on it:
//!
//! - randomness `R` = the least-significant 56 bits of the trace id (bytes 9 to 16, which
//!   W3C Trace Context Level 2 makes random): `trace_id.low & (2^56 - 1)`;
//! - rejection threshold `T = round((1 - ratio) * 2^56)`, computed as
//!   `2^56 - round(ratio * 2^56)` to keep the precision of small ratios: `T = 0` for ratio 1
//!   keeps everything, `T = 2^56` for ratio 0 keeps nothing;
//! - keep the span if and only if `R >= T`.
//!
//! Two samplers with the same ratio agree on every trace, wherever they run, and a trace kept
//! at some ratio is kept at every higher ratio. If a span's trace-state carries an explicit
//! randomness value (`ot=rv:<14 hex digits>`), the specification makes it `R` in place of the
//! trace id's bits; this processor follows it. See [`ratio`].
//!
//! # Marking kept spans
//!
//! A span kept by a ratio below 1 represents `1 / probability` spans. So that a backend can
//! re-weight it (count 10 requests for each one kept at 0.1), the processor writes the
//! threshold into the span's W3C trace-state, as OpenTelemetry specifies: `ot=th:<T>`, with `T`
//! as up to 14 hex digits without trailing zeros (`th:8` is 1/2, `th:e6666666666666` is
//! 1/10). The `ot` member goes first, `th` first within it; its other sub-keys (`rv` among them)
//! and other vendors' members are kept in order. If an earlier stage already sampled the span
//! harder (a higher `th`), that threshold stays: sampling again cannot raise a span's
//! probability (the specification's *equalizing* sampler). See [`tracestate`].
//!
//! With `ratio_attribute` set, the same probability is also written as a double attribute,
//! for backends that do not read trace-state. Spans kept with probability 1 (errors, slow
//! spans, ratio-1 rules) are left untouched.
//!
//! # Rate limits
//!
//! `max_per_second` caps a rule with a token bucket holding one second of burst. A plugin has
//! no clock, and the time that matters is when spans happened, not when a batch arrived, so
//! **the bucket's clock is the span end timestamps**: it refills as the latest end time it has
//! seen advances. Spans arriving out of order do not refill it twice, and a span from a host
//! whose clock runs more than a minute ahead cannot stall it (see [`rate`]). Consequences:
//!
//! - Weft runs one instance per worker, each with its own buckets: the limit is per worker,
//!   so the pipeline keeps up to `workers × max_per_second` spans a second for the rule.
//! - The limiter is not consistent: it may keep one span of a trace and drop the next.
//! - While it drops spans, the kept spans stand for more than their `th` says, so counts
//!   re-weighted from `th` are low. It is a safety valve for bursts, not a way to sample.
//!
//! # What per-span decisions cannot do
//!
//! A head sampler decides each span on its own, without seeing the rest of its trace.
//!
//! Ratio decisions depend on the trace id alone, so they are consistent across a trace: spans
//! of one trace that get the same ratio get the same verdict, in every instance, and spans that
//! get different ratios get nested verdicts (a trace kept at 0.1 is also kept at 0.25). With
//! only `default_ratio`, whole traces are kept or dropped.
//!
//! *Which* rule applies, though, is decided per span, and rules look at per-span properties:
//! the failing span of a trace is kept by `keep_errors` while its healthy parent falls to the
//! default ratio; a slow span is kept and its fast children are not; a `/healthz` call inside a
//! kept request is dropped; a trace crossing `checkout` (ratio 1) and `search` (0.25) keeps its
//! `checkout` spans and, three times in four, loses its `search` spans. Such traces are
//! exported **partially**, and the rate limiter can cut any trace. Keeping or dropping whole
//! traces by what happened anywhere in them ("keep every trace that has an error") needs tail
//! sampling, which buffers spans until their trace completes; that comes later, as a separate
//! processor.
//!
//! # What it reads
//!
//! Only what the configured rules need: trace ids and trace-state if some ratio lies strictly
//! between 0 and 1, status for `keep_errors`, times for `slower_than_ms` and `max_per_second`,
//! the `service.name` resource attribute for `service`, and the route attribute for `route`. A
//! config of ratio 0 and 1 rules only never reads a trace id.
//!
//! Each batch adds the counters `spans_kept`, `spans_dropped` (by a ratio) and
//! `spans_rate_limited` to the host's plugin metrics.

pub mod config;
pub mod rules;
pub mod tracestate;

pub use weft_sdk::sampling::{rate, ratio};
use weft_sdk::{Batch, Edits, Interest, Processor};

use crate::config::Config;
use crate::ratio::Threshold;
use crate::rules::{Policy, Verdict};

/// The sampling processor.
#[derive(Debug, Clone)]
pub struct Sample {
    policy: Policy,
    ratio_attribute: Option<String>,
}

impl Sample {
    /// A sampler for a validated config.
    pub fn new(config: &Config) -> Sample {
        Sample {
            policy: Policy::new(config),
            ratio_attribute: config
                .ratio_attribute
                .as_ref()
                .map(|key| key.as_str().to_owned()),
        }
    }

    /// Records on a kept span the threshold it was kept with, so that downstream can re-weight
    /// it. `incoming` is the threshold its trace-state already carries.
    fn mark(
        &self,
        index: usize,
        trace_state: &str,
        threshold: Threshold,
        incoming: Option<Threshold>,
        edits: &mut Edits,
    ) {
        if incoming != Some(threshold)
            && let Some(trace_state) = tracestate::with_threshold(trace_state, threshold)
        {
            edits.set_trace_state(index, trace_state);
        }
        if let Some(key) = &self.ratio_attribute {
            edits.set_span_attribute(index, key.as_str(), threshold.probability());
        }
    }
}

impl Processor for Sample {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = weft_sdk::parse_config(config)?;
        Ok(Sample::new(&config))
    }

    fn interest(&self) -> Interest {
        self.policy.interest()
    }

    fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String> {
        let mut tally = Tally::default();
        for (index, span) in batch.spans.iter().enumerate() {
            let facts = self.policy.facts(batch, span);
            let verdict = self.policy.decide(&facts);
            tally.count(verdict);
            match verdict {
                Verdict::Keep => {}
                Verdict::KeepSampled(threshold) => self.mark(
                    index,
                    batch.text(span.trace_state),
                    threshold,
                    facts.incoming_threshold,
                    edits,
                ),
                Verdict::Drop | Verdict::RateLimited => edits.drop_span(index),
            }
        }
        tally.report();
        Ok(())
    }
}

weft_sdk::export_processor!(Sample);

/// The verdicts of one batch, reported to the host as plugin counters.
#[derive(Debug, Default)]
struct Tally {
    kept: u64,
    dropped: u64,
    rate_limited: u64,
}

impl Tally {
    fn count(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Keep | Verdict::KeepSampled(_) => self.kept += 1,
            Verdict::Drop => self.dropped += 1,
            Verdict::RateLimited => self.rate_limited += 1,
        }
    }

    fn report(&self) {
        for (name, count) in [
            ("spans_kept", self.kept),
            ("spans_dropped", self.dropped),
            ("spans_rate_limited", self.rate_limited),
        ] {
            if count > 0 {
                weft_sdk::log::counter_add(name, count);
            }
        }
    }
}
