//! The processor chain: every processor, in config order, applied to one batch.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::config::OnError;
use crate::runtime::{LoadedPlugin, PluginError, PluginInstance, apply_edits, build_view};
use crate::telemetry::PipelineStats;

use super::queue::span_count;

/// One processor of the chain as configured: shared by every worker.
pub struct StageSpec {
    /// The compiled plugin.
    pub plugin: Arc<LoadedPlugin>,
    /// What happens to a batch the processor fails on.
    pub on_error: OnError,
}

/// The configured chain, shared by every worker. Replacing it (hot reload) makes each worker
/// build new instances before its next batch.
#[derive(Default)]
pub struct ChainSpec {
    /// The processors, in order.
    pub stages: Vec<StageSpec>,
}

impl ChainSpec {
    /// Another spec with the same stages (the plugins are shared, not copied).
    pub fn share(&self) -> ChainSpec {
        ChainSpec {
            stages: self
                .stages
                .iter()
                .map(|s| StageSpec {
                    plugin: s.plugin.clone(),
                    on_error: s.on_error,
                })
                .collect(),
        }
    }
}

/// A worker's own instances of every processor of a [`ChainSpec`].
pub struct Chain {
    spec: Arc<ChainSpec>,
    instances: Vec<Option<PluginInstance>>,
}

impl Chain {
    /// Instances are created lazily, on the first batch.
    pub fn new(spec: Arc<ChainSpec>) -> Self {
        let instances = spec.stages.iter().map(|_| None).collect();
        Chain { spec, instances }
    }

    /// The spec this chain runs.
    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    /// Runs `request` through every processor. Returns `None` when nothing is left to export
    /// (every span dropped, or a failing processor's policy dropped the batch).
    pub fn run(
        &mut self,
        mut request: ExportTraceServiceRequest,
        stats: &PipelineStats,
    ) -> Option<ExportTraceServiceRequest> {
        for (stage, instance) in self.spec.stages.iter().zip(&mut self.instances) {
            if request.resource_spans.is_empty() {
                return None;
            }
            match run_stage(stage, instance, &mut request) {
                Ok(dropped) => {
                    PipelineStats::add(&stats.spans_dropped_by_processors, dropped as u64)
                }
                Err(error) => {
                    PipelineStats::add(&stats.processor_failures, 1);
                    match stage.on_error {
                        OnError::Pass => {
                            tracing::warn!(processor = stage.plugin.name(), error = %error, "Processor failed; passing the batch on unchanged.");
                        }
                        OnError::Drop => {
                            let spans = span_count(&request);
                            tracing::warn!(processor = stage.plugin.name(), error = %error, spans, "Processor failed; dropping the batch.");
                            PipelineStats::add(&stats.spans_dropped_on_error, spans as u64);
                            return None;
                        }
                    }
                }
            }
        }
        (!request.resource_spans.is_empty()).then_some(request)
    }
}

/// Runs one processor on `request`, returning how many spans it dropped. A trapped instance
/// is discarded; the next batch gets a fresh one.
fn run_stage(
    stage: &StageSpec,
    instance: &mut Option<PluginInstance>,
    request: &mut ExportTraceServiceRequest,
) -> Result<usize, PluginError> {
    let live = match instance {
        Some(live) => live,
        None => instance.insert(stage.plugin.instantiate()?),
    };
    let view = build_view(request, stage.plugin.interest());
    let edits = match live.process(&view) {
        Ok(edits) => edits,
        Err(error) => {
            if matches!(error, PluginError::Trap { .. }) {
                *instance = None;
            }
            return Err(error);
        }
    };
    let summary = apply_edits(request, edits).map_err(|reason| PluginError::InvalidEdit {
        plugin: stage.plugin.name().to_owned(),
        reason,
    })?;
    Ok(summary.dropped_spans)
}
