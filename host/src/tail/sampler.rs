//! The tail-sampling stage: workers feed it batches, its decision thread asks the policy about
//! whole traces and exports the kept ones.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::buffer::{PendingTrace, TraceBuffer};
use super::decided::DecisionCache;
use super::fragments::{Fragment, TraceKey, join_traces};
use crate::config::{OnError, OnShutdown, TailSamplingConfig};
use crate::contract::bindings::Range as TraceRange;
use crate::exporter::ExportFanout;
use crate::pdata::traces::join_fragments;
use crate::pdata::traces::patch::{AttributesOf, string_value};
use crate::pdata::{DecodeError, Traces};
use crate::pipeline::{Chain, ChainSpec};
use crate::telemetry::{Component, Metrics, PipelineStats, ProcessorMetrics};

/// How often the decision thread looks for traces whose wait is over.
const TICK: Duration = Duration::from_millis(20);

/// At most this many spans go to the policy in one call (a larger trace goes alone).
const MAX_SPANS_PER_CALL: usize = 4096;

/// At most this many traces go to the policy in one call.
const MAX_TRACES_PER_CALL: usize = 512;

/// The host-owned state of the tail-sampling stage, shared by workers and the decision thread.
/// It outlives chain swaps: a reload changes the policy, never the buffered traces.
pub struct TailSampler {
    state: Mutex<TailState>,
    /// Wakes the decision thread: the buffer is full, or the pipeline is stopping.
    wake: Condvar,
    /// Wakes workers waiting for room in a full buffer.
    room: Condvar,
    metrics: Arc<Metrics>,
    /// Whether undecodable spans were logged already (they are logged once).
    warned_undecodable: AtomicBool,
}

struct TailState {
    buffer: TraceBuffer,
    decided: DecisionCache,
    /// Traces taken out for a decision, with the fragments that arrived meanwhile.
    in_flight: HashMap<TraceKey, Vec<Fragment>>,
    /// The settings last seen in a chain, for the cache bounds.
    settings: Option<Arc<TailSamplingConfig>>,
    stopping: bool,
}

impl TailState {
    fn apply(&mut self, settings: &Arc<TailSamplingConfig>) {
        if self.settings.as_ref() != Some(settings) {
            self.decided
                .resize(settings.decision_cache, settings.decision_cache_ttl());
            self.settings = Some(settings.clone());
        }
    }

    fn over_limits(&self, settings: &TailSamplingConfig) -> bool {
        self.buffer.traces() > settings.max_traces
            || self.buffer.bytes() > settings.max_buffered_bytes()
    }
}

impl TailSampler {
    /// An empty stage.
    pub fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        let defaults = TailSamplingConfig::default();
        Arc::new(TailSampler {
            state: Mutex::new(TailState {
                buffer: TraceBuffer::default(),
                decided: DecisionCache::new(defaults.decision_cache, defaults.decision_cache_ttl()),
                in_flight: HashMap::new(),
                settings: None,
                stopping: false,
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
            metrics,
            warned_undecodable: AtomicBool::new(false),
        })
    }

    /// Takes a batch that reached the stage. Spans of traces still waiting are buffered; spans
    /// of traces already decided follow the decision: the kept ones are returned, to go on
    /// through the rest of the chain now. When the buffer is full, waits (up to the point of
    /// pushing back on receivers) until the decision thread makes room.
    pub fn ingest(
        &self,
        batch: Traces,
        settings: &Arc<TailSamplingConfig>,
        counters: &ProcessorMetrics,
    ) -> Option<Traces> {
        let now = Instant::now();
        let spans = batch.span_count();
        PipelineStats::add(&counters.spans_in, spans as u64);
        // Split outside the lock: the buffer keeps each trace's spans as their bytes.
        let fragments = match batch.split_by_trace() {
            Ok(fragments) => fragments,
            Err(error) => {
                self.note_undecodable(spans, &error);
                self.count_dropped(counters, spans);
                return None;
            }
        };
        let (mut late_kept, mut late_kept_spans, mut late_dropped_spans) = (Vec::new(), 0, 0);
        let mut state = crate::sync::lock(&self.state);
        state.apply(settings);
        for fragment in fragments {
            let key = fragment.trace_id;
            if let Some(waiting) = state.in_flight.get_mut(&key) {
                waiting.push(fragment);
                continue;
            }
            if !state.buffer.contains(&key) {
                match state.decided.get(&key, now) {
                    Some(true) => {
                        late_kept_spans += fragment.count;
                        late_kept.push(fragment);
                        continue;
                    }
                    Some(false) => {
                        late_dropped_spans += fragment.count;
                        continue;
                    }
                    None => {}
                }
            }
            state.buffer.add(key, fragment, now);
        }
        self.publish_gauges(&state);
        if state.over_limits(settings) {
            self.wake.notify_one();
            while state.over_limits(settings) && !state.stopping {
                state = crate::sync::wait_timeout(&self.room, state, TICK).0;
            }
        }
        drop(state);
        let tail = &self.metrics.tail;
        PipelineStats::add(&tail.late_spans_kept, late_kept_spans as u64);
        PipelineStats::add(&tail.late_spans_dropped, late_dropped_spans as u64);
        self.count_dropped(counters, late_dropped_spans);
        if late_kept.is_empty() {
            return None;
        }
        match Traces::decode_unchecked_ids(join_fragments(&late_kept).into()) {
            Ok(batch) => {
                PipelineStats::add(&counters.spans_out, late_kept_spans as u64);
                Some(batch)
            }
            Err(error) => {
                self.note_undecodable(late_kept_spans, &error);
                self.count_dropped(counters, late_kept_spans);
                None
            }
        }
    }

    /// Starts the decision thread, which follows chain and exporter swaps like a worker.
    pub fn start(
        self: &Arc<Self>,
        chain: watch::Receiver<Arc<ChainSpec>>,
        fanout: watch::Receiver<Arc<ExportFanout>>,
    ) -> TailThread {
        let sampler = self.clone();
        let thread = std::thread::Builder::new()
            .name("weft-tail".into())
            .spawn(move || sampler.run(chain, fanout))
            .expect("spawning the tail-sampling thread");
        TailThread {
            sampler: self.clone(),
            thread,
        }
    }

    fn run(
        &self,
        mut chain_updates: watch::Receiver<Arc<ChainSpec>>,
        mut fanout_updates: watch::Receiver<Arc<ExportFanout>>,
    ) {
        let mut chain = Chain::new(chain_updates.borrow_and_update().clone(), &self.metrics);
        let mut fanout = fanout_updates.borrow_and_update().clone();
        // The traces the current round took out of the buffer, with their span counts.
        let mut taken: Vec<(TraceKey, usize)> = Vec::new();
        loop {
            taken.clear();
            let round = std::panic::catch_unwind(AssertUnwindSafe(|| {
                if chain_updates.has_changed().unwrap_or(false) {
                    chain = Chain::new(chain_updates.borrow_and_update().clone(), &self.metrics);
                }
                if fanout_updates.has_changed().unwrap_or(false) {
                    fanout = fanout_updates.borrow_and_update().clone();
                }
                self.round(&mut chain, &fanout, &mut taken)
            }));
            match round {
                Ok(Round::Continue) => {}
                Ok(Round::Stop) => return,
                Err(payload) => {
                    self.metrics
                        .panics
                        .record(Component::Tail, payload.as_ref());
                    self.lose_undecided(&taken);
                    chain = Chain::new(chain.spec().clone(), &self.metrics);
                }
            }
        }
    }

    /// One round of the decision thread: take the traces that are due (or wait a tick for
    /// some), decide them, and send the kept ones on. What it took is listed in `taken`, so a
    /// round that panics can account for it.
    fn round(
        &self,
        chain: &mut Chain,
        fanout: &ExportFanout,
        taken: &mut Vec<(TraceKey, usize)>,
    ) -> Round {
        let spec = chain.spec().clone();
        let position = spec.tail_position();
        let mut state = crate::sync::lock(&self.state);
        let stopping = state.stopping;
        let (due, early) = match position.and_then(|p| spec.stages[p].tail.clone()) {
            Some(settings) if !stopping => {
                state.apply(&settings);
                state.buffer.take_due(
                    settings.decision_wait(),
                    settings.max_traces,
                    settings.max_buffered_bytes(),
                    Instant::now(),
                )
            }
            // Stopping, or a reload removed the stage: nothing waits any more.
            _ => (state.buffer.take_all(), 0),
        };
        if due.is_empty() {
            if stopping {
                return Round::Stop;
            }
            drop(crate::sync::wait_timeout(&self.wake, state, TICK));
            return Round::Continue;
        }
        for trace in &due {
            state.in_flight.insert(trace.key, Vec::new());
        }
        taken.extend(due.iter().map(|t| (t.key, t.spans)));
        self.publish_gauges(&state);
        drop(state);
        self.room.notify_all();
        let tail = &self.metrics.tail;
        PipelineStats::add(&tail.decided_early, early as u64);
        if stopping {
            PipelineStats::add(&tail.decided_at_shutdown, due.len() as u64);
        }
        self.decide_round(chain, position, stopping, due, fanout);
        Round::Continue
    }

    /// Joins the traces taken out of the buffer into batches (many traces per policy call),
    /// asks the policy about them and sends the kept ones on.
    fn decide_round(
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

    /// After a round that panicked (a bug in Weft): the traces of `taken` it had not finished
    /// (still in flight) are lost, with the spans that arrived for them meanwhile. They are
    /// counted, and their ids are released so later spans start new traces instead of waiting
    /// forever.
    fn lose_undecided(&self, taken: &[(TraceKey, usize)]) {
        let mut state = crate::sync::lock(&self.state);
        let mut lost = 0u64;
        for (key, spans) in taken {
            if let Some(stragglers) = state.in_flight.remove(key) {
                lost += *spans as u64;
                lost += stragglers.iter().map(|f| f.count as u64).sum::<u64>();
            }
        }
        self.publish_gauges(&state);
        drop(state);
        PipelineStats::add(&self.metrics.pipeline.spans_lost_to_panics, lost);
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
        let mut kept: Vec<(usize, Vec<Fragment>)> = Vec::new();
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
            fanout.send_blocking(processed, &self.metrics.pipeline);
        }
    }

    /// Counts spans the stage dropped: on its own counters if it is still in the chain, else
    /// as dropped by processors.
    fn count_stage_dropped(&self, chain: &Chain, position: Option<usize>, spans: usize) {
        match position {
            Some(position) => self.count_dropped(chain.stage_metrics(position), spans),
            None => PipelineStats::add(
                &self.metrics.pipeline.spans_dropped_by_processors,
                spans as u64,
            ),
        }
    }

    /// Counts spans lost because a batch could not be read back (as undecodable; the
    /// caller counts them dropped), and logs the first time it happens, with the reason.
    fn note_undecodable(&self, spans: usize, error: &DecodeError) {
        PipelineStats::add(&self.metrics.tail.spans_undecodable, spans as u64);
        if !self.warned_undecodable.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, spans, "Dropped spans the tail-sampling stage could not read back (a processor nested values past the protobuf depth limit). Counted in weft_tail_spans_undecodable_total; not logged again.");
        }
    }

    fn count_dropped(&self, counters: &ProcessorMetrics, spans: usize) {
        PipelineStats::add(&counters.spans_dropped, spans as u64);
        PipelineStats::add(
            &self.metrics.pipeline.spans_dropped_by_processors,
            spans as u64,
        );
    }

    fn publish_gauges(&self, state: &MutexGuard<'_, TailState>) {
        let tail = &self.metrics.tail;
        let buffered = &state.buffer;
        let in_flight = state.in_flight.len();
        tail.traces_buffered
            .store((buffered.traces() + in_flight) as u64, Ordering::Relaxed);
        tail.spans_buffered
            .store(buffered.spans() as u64, Ordering::Relaxed);
        tail.bytes_buffered
            .store(buffered.bytes() as u64, Ordering::Relaxed);
    }

    /// Traces buffered right now (waiting, or being decided).
    pub fn traces_buffered(&self) -> usize {
        let state = crate::sync::lock(&self.state);
        state.buffer.traces() + state.in_flight.len()
    }
}

/// The decision thread; stopping it decides (or exports) every buffered trace first.
pub struct TailThread {
    sampler: Arc<TailSampler>,
    thread: JoinHandle<()>,
}

impl TailThread {
    /// Decides every buffered trace per the stage's `on_shutdown`, exports the kept ones and
    /// stops. Call once no worker feeds the stage any more.
    pub fn stop(self) {
        crate::sync::lock(&self.sampler.state).stopping = true;
        self.sampler.wake.notify_all();
        self.sampler.room.notify_all();
        if self.thread.join().is_err() {
            tracing::error!("The tail-sampling thread panicked.");
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

/// What the decision thread does after a round.
enum Round {
    /// Take the next round.
    Continue,
    /// The stage is stopping and holds nothing more.
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::Origin;

    fn straggler(spans: usize) -> Fragment {
        Fragment {
            trace_id: [1; 16],
            origin: Arc::new(Origin {
                resource: Arc::default(),
                scope: Vec::new(),
            }),
            spans: Vec::new(),
            count: spans,
        }
    }

    #[test]
    fn a_round_lost_to_a_panic_is_counted_and_frees_its_trace_ids() {
        let metrics = Arc::new(Metrics::default());
        let sampler = TailSampler::new(metrics.clone());
        let straggler = straggler(2);
        {
            let mut state = crate::sync::lock(&sampler.state);
            state.in_flight.insert([1; 16], vec![straggler]);
            state.in_flight.insert([2; 16], Vec::new());
            // Trace 3 was finished before the panic: no longer in flight.
        }
        sampler.lose_undecided(&[([1; 16], 5), ([2; 16], 3), ([3; 16], 4)]);
        assert!(crate::sync::lock(&sampler.state).in_flight.is_empty());
        assert_eq!(
            metrics.pipeline.snapshot().spans_lost_to_panics,
            5 + 2 + 3,
            "the unfinished traces and the spans that waited for them"
        );
    }
}
