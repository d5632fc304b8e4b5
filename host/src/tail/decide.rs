//! Deciding traces taken out of the buffer: joining them into policy calls, asking the
//! policy, and sending the kept traces (stamped with their reason) on through the chain.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::buffer::PendingTrace;
use super::fragments::{TraceFragment, join_traces};
use super::sampler::TailSampler;
use crate::config::{OnError, OnShutdown};
use crate::contract::bindings::Range as TraceRange;
use crate::exporter::ExportFanout;
use crate::pdata::Lineage;
use crate::pdata::Traces;
use crate::pdata::traces::patch::{AttributesOf, string_value};
use crate::pipeline::Chain;
use crate::telemetry::PipelineStats;

/// At most this many spans go to the policy in one call (a larger trace goes alone).
const MAX_SPANS_PER_CALL: usize = 4096;

/// At most this many traces go to the policy in one call.
const MAX_TRACES_PER_CALL: usize = 512;

impl TailSampler {
    /// Joins the traces taken out of the buffer into batches (many traces per policy call),
    /// asks the policy about them and sends the kept ones on.
    pub(super) fn decide_round(
        &self,
        chain: &mut Chain,
        position: Option<usize>,
        stopping: bool,
        due: Vec<PendingTrace>,
        fanout: &ExportFanout,
    ) {
        for chunk in chunks(due) {
            let verdicts = match join_traces(chunk.iter().map(|t| &t.fragments)) {
                Ok((batch, ranges)) => self.verdicts(chain, position, stopping, &batch, &ranges),
                Err(error) => {
                    // Fragments are split from valid batches: this is a bug, not bad input.
                    self.note_undecodable(chunk.iter().map(|t| t.spans).sum(), &error);
                    vec![(false, "undecodable".to_owned()); chunk.len()]
                }
            };
            self.finish(chain, position, &chunk, verdicts, fanout);
        }
    }

    /// The verdict and reason for each trace of a joined `batch` (at `ranges`), from the
    /// policy or from the stage's rules for when it cannot be asked.
    fn verdicts(
        &self,
        chain: &mut Chain,
        position: Option<usize>,
        stopping: bool,
        batch: &Traces,
        ranges: &[TraceRange],
    ) -> Vec<(bool, String)> {
        let traces = ranges.len();
        let every = |keep: bool, reason: &str| vec![(keep, reason.to_owned()); traces];
        let Some(position) = position else {
            return every(true, "no-policy");
        };
        let stage = &chain.spec().stages[position];
        let settings = stage.tail.as_ref().expect("the tail stage");
        if stopping && settings.on_shutdown == OnShutdown::Export {
            return every(true, "shutdown");
        }
        let on_error = stage.on_error;
        let name = stage.plugin.name().to_owned();
        let outcome = chain.decide(position, batch, ranges, unix_nanos());
        match outcome {
            Ok(decisions) => decisions.into_iter().map(|d| (d.keep, d.reason)).collect(),
            Err(error) => {
                PipelineStats::add(&self.metrics.pipeline.processor_failures, 1);
                if !matches!(error, crate::sandbox::PluginError::Quarantined { .. }) {
                    tracing::warn!(processor = %name, error = %error, traces, on_error = ?on_error, "Tail-sampling policy failed; its traces follow on_error.");
                }
                match on_error {
                    OnError::Pass => {
                        let spans: u64 = ranges.iter().map(|r| u64::from(r.len)).sum();
                        let counters = chain.stage_metrics(position);
                        PipelineStats::add(&counters.spans_bypassed, spans);
                        every(true, "policy-failed")
                    }
                    OnError::Drop => every(false, "policy-failed"),
                }
            }
        }
    }

    /// Applies the verdicts: remembers them, counts them, and sends the kept traces (with
    /// the spans that arrived while they were decided) through the rest of the chain.
    fn finish(
        &self,
        chain: &mut Chain,
        position: Option<usize>,
        traces: &[PendingTrace],
        verdicts: Vec<(bool, String)>,
        fanout: &ExportFanout,
    ) {
        let now = Instant::now();
        let (mut kept_spans, mut dropped_spans) = (0usize, 0usize);
        // Each kept trace's index, with the fragments that arrived while it was decided.
        let mut kept: Vec<(usize, Vec<TraceFragment>)> = Vec::new();
        let mut reasons: BTreeMap<(bool, &str), u64> = BTreeMap::new();
        let mut state = crate::sync::lock(&self.state);
        for (index, (trace, (keep, reason))) in traces.iter().zip(&verdicts).enumerate() {
            let stragglers = state.in_flight.remove(&trace.key).unwrap_or_default();
            state.decided.insert(trace.key, *keep, now);
            let spans = trace.spans + stragglers.iter().map(|f| f.count).sum::<usize>();
            if *keep {
                kept_spans += spans;
                kept.push((index, stragglers));
            } else {
                dropped_spans += spans;
            }
            *reasons.entry((*keep, reason.as_str())).or_default() += 1;
        }
        self.publish_gauges(&state);
        drop(state);
        for ((keep, reason), traces) in reasons {
            self.metrics.tail.count_decisions(keep, reason, traces);
        }
        // The kept spans' sources stay held until the exporters have taken them.
        let lineage = Lineage::gather(kept.iter().flat_map(|(index, stragglers)| {
            traces[*index]
                .fragments
                .iter()
                .chain(stragglers)
                .map(|f| &f.origin.lineage)
        }));
        let output =
            (!kept.is_empty())
                .then(|| {
                    join_traces(kept.iter().map(|(index, stragglers)| {
                        traces[*index].fragments.iter().chain(stragglers)
                    }))
                })
                .transpose()
                .unwrap_or_else(|error| {
                    self.note_undecodable(kept_spans, &error);
                    dropped_spans += std::mem::take(&mut kept_spans);
                    None
                });
        if let Some(position) = position {
            PipelineStats::add(&chain.stage_metrics(position).spans_out, kept_spans as u64);
        }
        self.count_stage_dropped(chain, position, dropped_spans);
        let Some((mut batch, ranges)) = output else {
            return;
        };
        let reason_key = position
            .and_then(|p| chain.spec().stages[p].tail.clone())
            .and_then(|t| t.reason_attribute.clone());
        if let Some(key) = reason_key {
            let reasons = kept.iter().map(|(index, _)| verdicts[*index].1.as_str());
            stamp_reasons(&mut batch, &key, reasons.zip(&ranges));
        }
        let after = position.map_or(0, |p| p + 1);
        let stages = chain.spec().stages.len();
        if let Some(processed) = chain.run_stages(after..stages, batch, &self.metrics) {
            fanout.send_blocking(processed, &lineage, &self.metrics.pipeline);
        }
    }
}

/// Splits traces into policy calls of at most [`MAX_TRACES_PER_CALL`] traces and about
/// [`MAX_SPANS_PER_CALL`] spans.
fn chunks(traces: Vec<PendingTrace>) -> Vec<Vec<PendingTrace>> {
    let mut chunks = Vec::new();
    let mut current: Vec<PendingTrace> = Vec::new();
    let mut spans = 0;
    for trace in traces {
        if !current.is_empty()
            && (current.len() >= MAX_TRACES_PER_CALL || spans + trace.spans > MAX_SPANS_PER_CALL)
        {
            chunks.push(std::mem::take(&mut current));
            spans = 0;
        }
        spans += trace.spans;
        current.push(trace);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Records each trace's reason (when it has one) under `key` on the spans of its range.
fn stamp_reasons<'a>(
    batch: &mut Traces,
    key: &str,
    reasons: impl Iterator<Item = (&'a str, &'a TraceRange)>,
) {
    for (reason, range) in reasons {
        if reason.is_empty() {
            continue;
        }
        let attribute = batch.append_key_value(key, |out| string_value(out, reason));
        for span in range.start..range.start + range.len {
            batch
                .attributes_mut(AttributesOf::Span(span as usize))
                .set(attribute);
        }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
