//! The tail-sampling stage: workers feed it batches, its decision thread asks the policy about
//! whole traces and exports the kept ones.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::buffer::TraceBuffer;
use super::decided::DecisionCache;
use super::fragments::{TraceFragment, TraceId};
use crate::config::TailSamplingConfig;
use crate::exporter::ExportFanout;
use crate::pdata::traces::join_fragments;
use crate::pdata::{DecodeError, Lineage, Traces};
use crate::pipeline::{Chain, ChainSpec};
use crate::telemetry::{Component, Metrics, PipelineStats, ProcessorMetrics};

/// How often the decision thread looks for traces whose wait is over.
const TICK: Duration = Duration::from_millis(20);

/// The host-owned state of the tail-sampling stage, shared by workers and the decision thread.
/// It outlives chain swaps: a reload changes the policy, never the buffered traces.
pub struct TailSampler {
    pub(super) state: Mutex<TailState>,
    /// Wakes the decision thread: the buffer is full, or the pipeline is stopping.
    wake: Condvar,
    /// Wakes workers waiting for room in a full buffer.
    room: Condvar,
    pub(super) metrics: Arc<Metrics>,
    /// Whether undecodable spans were logged already (they are logged once).
    warned_undecodable: AtomicBool,
}

pub(super) struct TailState {
    buffer: TraceBuffer,
    pub(super) decided: DecisionCache,
    /// Traces taken out for a decision, with the fragments that arrived meanwhile.
    pub(super) in_flight: HashMap<TraceId, Vec<TraceFragment>>,
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
    /// pushing back on receivers) until the decision thread makes room. Buffered spans keep
    /// `lineage`, the batch's sources, held until their traces are decided.
    pub fn ingest(
        &self,
        batch: Traces,
        lineage: &Lineage,
        settings: &Arc<TailSamplingConfig>,
        counters: &ProcessorMetrics,
    ) -> Option<Traces> {
        let now = Instant::now();
        let spans = batch.span_count();
        PipelineStats::add(&counters.spans_in, spans as u64);
        // Split outside the lock: the buffer keeps each trace's spans as their bytes.
        let fragments = match batch.split_by_trace(lineage) {
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
        match Traces::decode_trusted(join_fragments(&late_kept).into()) {
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
        let mut taken: Vec<(TraceId, usize)> = Vec::new();
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
        taken: &mut Vec<(TraceId, usize)>,
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

    /// After a round that panicked (a bug in Weft): the traces of `taken` it had not finished
    /// (still in flight) are lost, with the spans that arrived for them meanwhile. They are
    /// counted, and their ids are released so later spans start new traces instead of waiting
    /// forever.
    fn lose_undecided(&self, taken: &[(TraceId, usize)]) {
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

    /// Counts spans the stage dropped: on its own counters if it is still in the chain, else
    /// as dropped by processors.
    pub(super) fn count_stage_dropped(&self, chain: &Chain, position: Option<usize>, spans: usize) {
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
    pub(super) fn note_undecodable(&self, spans: usize, error: &DecodeError) {
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

    pub(super) fn publish_gauges(&self, state: &MutexGuard<'_, TailState>) {
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
    use crate::tail::FragmentOrigin;

    fn straggler(spans: usize) -> TraceFragment {
        TraceFragment {
            trace_id: [1; 16],
            origin: Arc::new(FragmentOrigin {
                resource: Arc::default(),
                scope: Vec::new(),
                lineage: Default::default(),
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
