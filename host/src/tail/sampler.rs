//! The tail-sampling stage: workers feed it batches, its decision thread asks the policy about
//! whole traces and exports the kept ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use tokio::sync::watch;

use super::buffer::{DecodedTrace, PendingTrace, TraceBuffer, TraceKey};
use super::decided::DecisionCache;
use super::fragments::{Fragment, join_traces, split_by_trace};
use crate::config::{OnError, OnShutdown, TailSamplingConfig};
use crate::exporter::ExportFanout;
use crate::pipeline::{Chain, ChainSpec, span_count};
use crate::telemetry::{Metrics, PipelineStats, ProcessorMetrics};

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
        })
    }

    /// Takes a batch that reached the stage. Spans of traces still waiting are buffered; spans
    /// of traces already decided follow the decision: the kept ones are returned, to go on
    /// through the rest of the chain now. When the buffer is full, waits (up to the point of
    /// pushing back on receivers) until the decision thread makes room.
    pub fn ingest(
        &self,
        request: ExportTraceServiceRequest,
        settings: &Arc<TailSamplingConfig>,
        counters: &ProcessorMetrics,
    ) -> Option<ExportTraceServiceRequest> {
        let now = Instant::now();
        PipelineStats::add(&counters.spans_in, span_count(&request) as u64);
        // Encoded outside the lock: the buffer keeps fragments encoded.
        let fragments: Vec<(Fragment, Vec<u8>)> = split_by_trace(request)
            .into_iter()
            .map(|fragment| {
                let encoded = fragment.resource_spans.encode_to_vec();
                (fragment, encoded)
            })
            .collect();
        let (mut late_kept, mut late_kept_spans, mut late_dropped_spans) = (Vec::new(), 0, 0);
        let mut state = self.state.lock().unwrap();
        state.apply(settings);
        for (fragment, encoded) in fragments {
            if let Some(waiting) = state.in_flight.get_mut(&fragment.key) {
                waiting.push(fragment);
                continue;
            }
            if !state.buffer.contains(&fragment.key) {
                match state.decided.get(&fragment.key, now) {
                    Some(true) => {
                        late_kept_spans += fragment.spans;
                        late_kept.push(fragment.resource_spans);
                        continue;
                    }
                    Some(false) => {
                        late_dropped_spans += fragment.spans;
                        continue;
                    }
                    None => {}
                }
            }
            state
                .buffer
                .add_encoded(fragment.key, encoded, fragment.spans, now);
        }
        self.publish_gauges(&state);
        if state.over_limits(settings) {
            self.wake.notify_one();
            while state.over_limits(settings) && !state.stopping {
                state = self.room.wait_timeout(state, TICK).unwrap().0;
            }
        }
        drop(state);
        let tail = &self.metrics.tail;
        PipelineStats::add(&tail.late_spans_kept, late_kept_spans as u64);
        PipelineStats::add(&tail.late_spans_dropped, late_dropped_spans as u64);
        PipelineStats::add(&counters.spans_out, late_kept_spans as u64);
        self.count_dropped(counters, late_dropped_spans);
        (!late_kept.is_empty()).then_some(ExportTraceServiceRequest {
            resource_spans: late_kept,
        })
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
        loop {
            if chain_updates.has_changed().unwrap_or(false) {
                chain = Chain::new(chain_updates.borrow_and_update().clone(), &self.metrics);
            }
            if fanout_updates.has_changed().unwrap_or(false) {
                fanout = fanout_updates.borrow_and_update().clone();
            }
            let spec = chain.spec().clone();
            let position = spec.tail_position();
            let mut state = self.state.lock().unwrap();
            let stopping = state.stopping;
            let (due, early) = match position {
                Some(p) if !stopping => {
                    let settings = spec.stages[p].tail.clone().expect("the tail stage");
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
                    return;
                }
                drop(self.wake.wait_timeout(state, TICK).unwrap());
                continue;
            }
            for trace in &due {
                state.in_flight.insert(trace.key, Vec::new());
            }
            self.publish_gauges(&state);
            drop(state);
            self.room.notify_all();
            let tail = &self.metrics.tail;
            PipelineStats::add(&tail.decided_early, early as u64);
            if stopping {
                PipelineStats::add(&tail.decided_at_shutdown, due.len() as u64);
            }
            let due: Vec<DecodedTrace> = due.into_iter().map(PendingTrace::decode).collect();
            for mut chunk in chunks(due) {
                let verdicts = self.verdicts(&mut chain, position, stopping, &mut chunk);
                self.finish(&mut chain, position, chunk, verdicts, &fanout);
            }
        }
    }

    /// The verdict and reason for each trace of `chunk`, from the policy or from the
    /// stage's rules for when it cannot be asked.
    fn verdicts(
        &self,
        chain: &mut Chain,
        position: Option<usize>,
        stopping: bool,
        chunk: &mut [DecodedTrace],
    ) -> Vec<(bool, String)> {
        let traces = chunk.len();
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
        // The traces' fragments move into one request for the view, and back afterwards.
        let counts: Vec<usize> = chunk.iter().map(|t| t.fragments.len()).collect();
        let (request, ranges) = join_traces(chunk);
        let outcome = chain.decide(position, &request, &ranges, unix_nanos());
        let mut fragments = request.resource_spans.into_iter();
        for (trace, count) in chunk.iter_mut().zip(counts) {
            trace.fragments = fragments.by_ref().take(count).collect();
        }
        match outcome {
            Ok(decisions) => decisions.into_iter().map(|d| (d.keep, d.reason)).collect(),
            Err(error) => {
                PipelineStats::add(&self.metrics.pipeline.processor_failures, 1);
                if !matches!(error, crate::runtime::PluginError::Quarantined { .. }) {
                    tracing::warn!(processor = %name, error = %error, traces = chunk.len(), on_error = ?on_error, "Tail-sampling policy failed; its traces follow on_error.");
                }
                match on_error {
                    OnError::Pass => every(true, "policy-failed"),
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
        chunk: Vec<DecodedTrace>,
        verdicts: Vec<(bool, String)>,
        fanout: &ExportFanout,
    ) {
        let now = Instant::now();
        let reason_key = position
            .and_then(|p| chain.spec().stages[p].tail.clone())
            .and_then(|t| t.reason_attribute.clone());
        let mut kept: Vec<ResourceSpans> = Vec::new();
        let (mut kept_spans, mut dropped_spans) = (0usize, 0usize);
        let mut reasons: BTreeMap<(bool, String), u64> = BTreeMap::new();
        let mut state = self.state.lock().unwrap();
        for (trace, (keep, reason)) in chunk.into_iter().zip(verdicts) {
            let stragglers = state.in_flight.remove(&trace.key).unwrap_or_default();
            state.decided.insert(trace.key, keep, now);
            let spans = trace.spans + stragglers.iter().map(|f| f.spans).sum::<usize>();
            if keep {
                kept_spans += spans;
                let start = kept.len();
                kept.extend(trace.fragments);
                kept.extend(stragglers.into_iter().map(|f| f.resource_spans));
                if let Some(key) = &reason_key
                    && !reason.is_empty()
                {
                    stamp_reason(&mut kept[start..], key, &reason);
                }
            } else {
                dropped_spans += spans;
            }
            *reasons.entry((keep, reason)).or_default() += 1;
        }
        self.publish_gauges(&state);
        drop(state);
        for ((keep, reason), traces) in reasons {
            self.metrics.tail.count_decisions(keep, &reason, traces);
        }
        if let Some(position) = position {
            let counters = chain.stage_metrics(position).clone();
            PipelineStats::add(&counters.spans_out, kept_spans as u64);
            self.count_dropped(&counters, dropped_spans);
        } else {
            PipelineStats::add(
                &self.metrics.pipeline.spans_dropped_by_processors,
                dropped_spans as u64,
            );
        }
        if kept.is_empty() {
            return;
        }
        let request = ExportTraceServiceRequest {
            resource_spans: kept,
        };
        let after = position.map_or(0, |p| p + 1);
        let stages = chain.spec().stages.len();
        if let Some(processed) = chain.run_stages(after..stages, request, &self.metrics) {
            fanout.send_blocking(processed, &self.metrics.pipeline);
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
        let state = self.state.lock().unwrap();
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
        self.sampler.state.lock().unwrap().stopping = true;
        self.sampler.wake.notify_all();
        self.sampler.room.notify_all();
        if self.thread.join().is_err() {
            tracing::error!("The tail-sampling thread panicked.");
        }
    }
}

/// Splits traces into policy calls of at most [`MAX_TRACES_PER_CALL`] traces and about
/// [`MAX_SPANS_PER_CALL`] spans.
fn chunks(traces: Vec<DecodedTrace>) -> Vec<Vec<DecodedTrace>> {
    let mut chunks = Vec::new();
    let mut current: Vec<DecodedTrace> = Vec::new();
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

/// Records `reason` under `key` on every span of `fragments`.
fn stamp_reason(fragments: &mut [ResourceSpans], key: &str, reason: &str) {
    let value = AnyValue {
        value: Some(any_value::Value::StringValue(reason.to_owned())),
    };
    for span in fragments
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
    {
        match span.attributes.iter_mut().find(|kv| kv.key == key) {
            Some(existing) => existing.value = Some(value.clone()),
            None => span.attributes.push(KeyValue {
                key: key.to_owned(),
                value: Some(value.clone()),
                ..Default::default()
            }),
        }
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
