//! Fan-out from workers to exporters, and each exporter's batching loop.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::config::{BatchConfig, RetryConfig};
use crate::pipeline::span_count;
use crate::telemetry::PipelineStats;

use super::retry::with_retries;
use super::sink::Sink;

/// Hands every processed batch to every exporter. Cloned into each worker; exporters finish
/// once every clone is dropped and their queues are drained.
#[derive(Clone, Default)]
pub struct ExportFanout {
    exporters: Vec<async_channel::Sender<Arc<ExportTraceServiceRequest>>>,
}

impl ExportFanout {
    /// Sends `request` to every exporter, waiting while an exporter's queue is full
    /// (back-pressure towards the workers and, through the pipeline queue, the receivers).
    pub fn send_blocking(&self, request: ExportTraceServiceRequest) {
        let request = Arc::new(request);
        for exporter in &self.exporters {
            // An exporter only closes its queue after every sender is gone, so this cannot fail.
            let _ = exporter.send_blocking(request.clone());
        }
    }

    /// Adds an exporter's queue.
    pub fn push(&mut self, sender: async_channel::Sender<Arc<ExportTraceServiceRequest>>) {
        self.exporters.push(sender);
    }
}

/// A running exporter task.
pub struct ExporterHandle {
    /// The exporter's name from the config.
    pub name: String,
    task: JoinHandle<()>,
}

impl ExporterHandle {
    /// Waits until the exporter has flushed everything it was given and stopped.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!(exporter = %self.name, error = %e, "Exporter task failed.");
        }
    }
}

/// Starts the batching loop of one exporter and returns its queue's sender and handle.
pub fn start_exporter(
    name: String,
    sink: Sink,
    batch: BatchConfig,
    retry: RetryConfig,
    stats: Arc<PipelineStats>,
) -> (
    async_channel::Sender<Arc<ExportTraceServiceRequest>>,
    ExporterHandle,
) {
    let (sender, receiver) = async_channel::bounded(batch.queue_capacity);
    let task = tokio::spawn(run(
        name.clone(),
        Arc::new(sink),
        receiver,
        batch,
        retry,
        stats,
    ));
    (sender, ExporterHandle { name, task })
}

async fn run(
    name: String,
    sink: Arc<Sink>,
    queue: async_channel::Receiver<Arc<ExportTraceServiceRequest>>,
    config: BatchConfig,
    retry: RetryConfig,
    stats: Arc<PipelineStats>,
) {
    let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
    let timeout = Duration::from_millis(config.timeout_ms);
    let mut pending: Vec<Arc<ExportTraceServiceRequest>> = Vec::new();
    let mut pending_spans = 0usize;
    let mut deadline = tokio::time::Instant::now() + timeout;
    loop {
        let flush_due = tokio::select! {
            biased;
            received = queue.recv() => match received {
                Ok(request) => {
                    if pending.is_empty() {
                        deadline = tokio::time::Instant::now() + timeout;
                    }
                    pending_spans += span_count(&request);
                    pending.push(request);
                    pending_spans >= config.max_spans
                }
                Err(_) => break,
            },
            _ = tokio::time::sleep_until(deadline), if !pending.is_empty() => true,
        };
        if flush_due {
            let batch = std::mem::take(&mut pending);
            let spans = std::mem::take(&mut pending_spans);
            dispatch(&name, &sink, &in_flight, &retry, &stats, batch, spans).await;
        }
    }
    if !pending.is_empty() {
        dispatch(
            &name,
            &sink,
            &in_flight,
            &retry,
            &stats,
            pending,
            pending_spans,
        )
        .await;
    }
    // Wait for every send in flight to finish.
    let _ = in_flight.acquire_many(config.max_in_flight as u32).await;
    tracing::debug!(exporter = %name, "Exporter flushed and stopped.");
}

async fn dispatch(
    name: &str,
    sink: &Arc<Sink>,
    in_flight: &Arc<Semaphore>,
    retry: &RetryConfig,
    stats: &Arc<PipelineStats>,
    batch: Vec<Arc<ExportTraceServiceRequest>>,
    spans: usize,
) {
    let permit = in_flight
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let (name, sink, retry, stats) = (name.to_owned(), sink.clone(), retry.clone(), stats.clone());
    tokio::spawn(async move {
        let _permit = permit;
        let result = match sink.encode(&batch) {
            Ok(payload) => {
                drop(batch);
                with_retries(&retry, || sink.send(&payload), |error| {
                    PipelineStats::add(&stats.export_retries, 1);
                    tracing::debug!(exporter = %name, error = %error, "Export failed; retrying.");
                })
                .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => PipelineStats::add(&stats.spans_exported, spans as u64),
            Err(error) => {
                PipelineStats::add(&stats.spans_export_failed, spans as u64);
                tracing::error!(exporter = %name, error = %error, spans, "Export failed; spans lost.");
            }
        }
    });
}
