//! The processor chain: every processor, in config order, applied to one batch.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{OnError, ProcessorConfig, TailSamplingConfig};
use crate::pdata::Traces;

use super::breaker::{Breaker, Verdict};
use crate::contract::bindings::{Batch, Decision, Interest, Range as TraceRange};
use crate::contract::packed::view_span_count;
use crate::contract::{EditSummary, apply_edits, build_view_into, empty_view, output_bytes};
use crate::sandbox::{FailureKind, LoadedPlugin, PluginError, PluginInstance, output_cap};
use crate::telemetry::{
    Component, ErrorKind, Metrics, Panics, PipelineStats, ProcessorMetrics, panic_message,
};

/// One processor of the chain as configured: shared by every worker.
#[derive(Clone)]
pub struct StageSpec {
    /// The compiled plugin.
    pub plugin: Arc<LoadedPlugin>,
    /// What happens to a batch the processor fails on.
    pub on_error: OnError,
    /// Quarantines the processor after repeated failures.
    pub breaker: Arc<Breaker>,
    /// Set for the tail-sampling stage: how it buffers traces (its plugin is a policy).
    pub tail: Option<Arc<TailSamplingConfig>>,
}

impl StageSpec {
    /// A stage running `plugin` as `processor` configures it, with a fresh breaker.
    pub fn new(plugin: Arc<LoadedPlugin>, processor: &ProcessorConfig) -> Self {
        StageSpec {
            plugin,
            on_error: processor.on_error(),
            breaker: Arc::new(Breaker::new(
                processor.quarantine_after,
                Duration::from_millis(processor.quarantine_ms),
            )),
            tail: processor.tail_sampling.clone().map(Arc::new),
        }
    }
}

/// The configured chain, shared by every worker. Replacing it (hot reload) makes each worker
/// build new instances before its next batch.
#[derive(Default)]
pub struct ChainSpec {
    /// The processors, in order.
    pub stages: Vec<StageSpec>,
}

impl ChainSpec {
    /// Another spec with the same stages (plugins and breakers are shared, not copied).
    pub fn share(&self) -> ChainSpec {
        ChainSpec {
            stages: self.stages.clone(),
        }
    }

    /// The position of the tail-sampling stage, if the chain has one.
    pub fn tail_position(&self) -> Option<usize> {
        self.stages.iter().position(|stage| stage.tail.is_some())
    }
}

/// A worker's own instances of every processor of a [`ChainSpec`].
pub struct Chain {
    spec: Arc<ChainSpec>,
    /// Where caught panics are counted.
    root: Arc<Metrics>,
    instances: Vec<Option<PluginInstance>>,
    metrics: Vec<Arc<ProcessorMetrics>>,
    /// The view every stage is handed, rebuilt for each call in the same storage. It keeps
    /// the capacity of the largest batch this worker has seen, and the last batch's strings
    /// until the next call.
    view: Batch,
}

impl Chain {
    /// Instances are created lazily, on the first batch.
    pub fn new(spec: Arc<ChainSpec>, metrics: &Arc<Metrics>) -> Self {
        let instances = spec.stages.iter().map(|_| None).collect();
        let root = metrics.clone();
        let metrics = spec
            .stages
            .iter()
            .map(|s| metrics.processor(s.plugin.name()))
            .collect();
        Chain {
            spec,
            root,
            instances,
            metrics,
            view: empty_view(),
        }
    }

    /// The spec this chain runs.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// Runs `request` through every processor. Returns `None` when nothing is left to export
    /// (every span dropped, or a failing processor's policy dropped the batch).
    pub fn run(&mut self, request: Traces, metrics: &Metrics) -> Option<Traces> {
        self.run_stages(0..self.spec.stages.len(), request, metrics)
    }

    /// Runs `request` through the processors at `positions` (a tail-sampling stage among them
    /// is skipped: it runs on whole traces, see [`Chain::decide`]).
    pub fn run_stages(
        &mut self,
        positions: std::ops::Range<usize>,
        mut request: Traces,
        metrics: &Metrics,
    ) -> Option<Traces> {
        let stats = &metrics.pipeline;
        let view = &mut self.view;
        // The interest `view` was last built for, while the batch has not changed since: a
        // next stage with the same interest is handed the same view, not a new one.
        let mut view_of: Option<&Interest> = None;
        for ((stage, instance), counters) in self
            .spec
            .stages
            .iter()
            .zip(&mut self.instances)
            .zip(&self.metrics)
            .take(positions.end)
            .skip(positions.start)
        {
            if stage.tail.is_some() {
                continue;
            }
            if request.is_empty() {
                return None;
            }
            let spans_in = request.span_count() as u64;
            PipelineStats::add(&counters.spans_in, spans_in);
            let mut watch = metrics.taps.watch(stage.plugin.name());
            if let Some(watch) = &mut watch {
                watch.before(&request);
            }
            let interest = stage.plugin.interest();
            let fresh = view_of.is_some_and(|built| built == interest);
            let outcome = through_breaker(stage, counters, || {
                supervised(stage.plugin.name(), instance, &metrics.panics, |instance| {
                    run_stage(stage, (instance, counters), &mut request, (view, fresh))
                })
            });
            view_of = match &outcome {
                Ok(summary) if summary.applied == 0 => Some(interest),
                // Edited, or failed (a panic may leave edits half applied): build anew.
                _ => None,
            };
            if let Some(watch) = watch {
                let dropped = outcome.is_err() && stage.on_error == OnError::Drop;
                watch.after((!dropped).then_some(&request));
            }
            match outcome {
                Ok(summary) => {
                    PipelineStats::add(
                        &stats.spans_dropped_by_processors,
                        summary.dropped_spans as u64,
                    );
                    PipelineStats::add(&counters.spans_dropped, summary.dropped_spans as u64);
                    PipelineStats::add(&counters.edits, summary.applied as u64);
                    PipelineStats::add(
                        &counters.spans_out,
                        spans_in - summary.dropped_spans as u64,
                    );
                }
                Err(error) => {
                    // A quarantined processor was logged once, when its breaker opened.
                    let quiet = matches!(error, PluginError::Quarantined { .. });
                    PipelineStats::add(&stats.processor_failures, 1);
                    counters.error(error_kind(&error));
                    match stage.on_error {
                        OnError::Pass => {
                            PipelineStats::add(&counters.spans_out, spans_in);
                            PipelineStats::add(&counters.spans_bypassed, spans_in);
                            if !quiet {
                                tracing::warn!(processor = stage.plugin.name(), error = %error, "Processor failed; passing the batch on unchanged.");
                            }
                        }
                        OnError::Drop => {
                            if !quiet {
                                tracing::warn!(processor = stage.plugin.name(), error = %error, spans = spans_in, "Processor failed; dropping the batch.");
                            }
                            PipelineStats::add(&stats.spans_dropped_on_error, spans_in);
                            return None;
                        }
                    }
                }
            }
        }
        (!request.is_empty()).then_some(request)
    }
}

impl Chain {
    /// Asks the policy of the tail-sampling stage at `position` about `traces` (ranges of the
    /// view of `request`, one per trace), within its deadline and breaker. Counts the call, its
    /// latency and a failure in the stage's metrics; spans are counted by the caller.
    pub fn decide(
        &mut self,
        position: usize,
        request: &Traces,
        traces: &[TraceRange],
        now_unix_nano: u64,
    ) -> Result<Vec<Decision>, PluginError> {
        let stage = &self.spec.stages[position];
        let counters = &self.metrics[position];
        let instance = &mut self.instances[position];
        let view = &mut self.view;
        let panics = &self.root.panics;
        let outcome = through_breaker(stage, counters, || {
            supervised(stage.plugin.name(), instance, panics, |instance| {
                let live = match instance {
                    Some(live) => live,
                    None => {
                        instance.insert(stage.plugin.instantiate_counting(counters.guest.clone())?)
                    }
                };
                build_view_into(request, stage.plugin.interest(), view);
                let decisions = live.decide(view, traces, now_unix_nano);
                if decisions.as_ref().is_err_and(PluginError::ends_instance) {
                    *instance = None;
                }
                decisions
            })
        });
        if let Err(error) = &outcome {
            counters.error(error_kind(error));
        }
        outcome
    }

    /// The metrics of the stage at `position`.
    pub fn stage_metrics(&self, position: usize) -> &Arc<ProcessorMetrics> {
        &self.metrics[position]
    }
}

/// Runs the host's side of one processor call (`call`, given the stage's instance) catching
/// a panic: it is counted, the instance is discarded, and the call fails as
/// [`PluginError::HostPanic`], so the batch follows the processor's `on_error`. (A panic while
/// edits were being applied can leave some of them applied.)
fn supervised<T>(
    plugin: &str,
    instance: &mut Option<PluginInstance>,
    panics: &Panics,
    call: impl FnOnce(&mut Option<PluginInstance>) -> Result<T, PluginError>,
) -> Result<T, PluginError> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| call(&mut *instance))) {
        Ok(outcome) => outcome,
        Err(payload) => {
            panics.record(Component::Processor, payload.as_ref());
            *instance = None;
            Err(PluginError::HostPanic {
                plugin: plugin.to_owned(),
                reason: panic_message(payload.as_ref()),
            })
        }
    }
}

/// Calls a stage through its breaker: while the breaker is open the call is skipped (an
/// `Quarantined` error); otherwise it is counted and timed, and its outcome feeds the breaker
/// and the stage's quarantine gauge.
fn through_breaker<T>(
    stage: &StageSpec,
    counters: &ProcessorMetrics,
    call: impl FnOnce() -> Result<T, PluginError>,
) -> Result<T, PluginError> {
    let outcome = if stage.breaker.verdict() == Verdict::Skip {
        Err(PluginError::Quarantined {
            plugin: stage.plugin.name().to_owned(),
        })
    } else {
        PipelineStats::add(&counters.calls, 1);
        let started = Instant::now();
        let outcome = call();
        counters.observe(started.elapsed());
        match &outcome {
            Ok(_) => stage.breaker.success(),
            Err(error) => {
                if let Some(period) = stage.breaker.failure() {
                    tracing::warn!(processor = stage.plugin.name(), error = %error, seconds = period.as_secs_f64(), "Processor quarantined after repeated failures; what reaches it follows on_error until a trial succeeds.");
                }
            }
        }
        outcome
    };
    counters.quarantined.store(
        u64::from(stage.breaker.is_open()),
        std::sync::atomic::Ordering::Relaxed,
    );
    outcome
}

fn error_kind(error: &PluginError) -> ErrorKind {
    match error {
        PluginError::Trap {
            kind: FailureKind::Timeout,
            ..
        } => ErrorKind::Timeout,
        PluginError::Trap {
            kind: FailureKind::Memory,
            ..
        } => ErrorKind::Memory,
        PluginError::Trap {
            kind: FailureKind::Trap,
            ..
        } => ErrorKind::Trap,
        PluginError::Guest { .. } => ErrorKind::Error,
        PluginError::InvalidEdit { .. } | PluginError::Amplification { .. } => {
            ErrorKind::InvalidEdit
        }
        PluginError::Quarantined { .. } => ErrorKind::Quarantined,
        PluginError::HostPanic { .. } => ErrorKind::HostPanic,
        PluginError::Compile { .. }
        | PluginError::WrongWorld { .. }
        | PluginError::Init { .. }
        | PluginError::Fetch { .. }
        | PluginError::Untrusted { .. } => ErrorKind::Instantiate,
    }
}

/// Runs one processor on `request`, building its view in `view` unless `fresh` says `view`
/// already is the view of `request` its interest asks for. A trapped instance is discarded;
/// the next batch gets a fresh one.
fn run_stage(
    stage: &StageSpec,
    (instance, counters): (&mut Option<PluginInstance>, &ProcessorMetrics),
    request: &mut Traces,
    (view, fresh): (&mut Batch, bool),
) -> Result<EditSummary, PluginError> {
    let live = match instance {
        Some(live) => live,
        None => instance.insert(stage.plugin.instantiate_counting(counters.guest.clone())?),
    };
    if !fresh {
        build_view_into(request, stage.plugin.interest(), view);
    }
    let edits = match live.process(view) {
        Ok(edits) => edits,
        Err(error) => {
            if error.ends_instance() {
                *instance = None;
            }
            return Err(error);
        }
    };
    let (bytes, cap) = (
        output_bytes(&edits),
        output_cap(view_span_count(view), view.arena.len()),
    );
    if bytes > cap {
        return Err(PluginError::InvalidEdit {
            plugin: stage.plugin.name().to_owned(),
            reason: format!(
                "output amplification: {bytes} bytes of edits for {} spans (at most {cap})",
                view_span_count(view)
            ),
        });
    }
    apply_edits(request, edits).map_err(|error| PluginError::InvalidEdit {
        plugin: stage.plugin.name().to_owned(),
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_panic_in_a_call_fails_it_and_discards_the_instance() {
        let panics = Panics::default();
        let mut instance: Option<PluginInstance> = None;
        let outcome: Result<(), PluginError> = supervised("redact", &mut instance, &panics, |_| {
            panic!("view out of range")
        });
        match outcome {
            Err(error @ PluginError::HostPanic { .. }) => {
                assert!(error.ends_instance());
                assert_eq!(error_kind(&error), ErrorKind::HostPanic);
                assert!(error.to_string().contains("view out of range"), "{error}");
            }
            other => panic!("expected a host panic, got {other:?}"),
        }
        assert_eq!(panics.count(Component::Processor), 1);
        let fine: Result<u8, PluginError> = supervised("redact", &mut instance, &panics, |_| Ok(1));
        assert_eq!(fine.unwrap(), 1);
    }
}
