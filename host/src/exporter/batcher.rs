//! Fan-out from workers to exporters, and each exporter's batching loop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::config::{BatchConfig, RetryConfig};
use crate::pdata::Traces;
use crate::telemetry::{Component, ExporterMetrics, Metrics, PipelineStats};

use super::retry::with_retries;
use super::sink::Sink;

/// Hands every processed batch to every exporter. Cloned into each worker; exporters finish
/// once every clone is dropped and their queues are drained.
#[derive(Clone, Default)]
pub struct ExportFanout {
    exporters: Vec<(async_channel::Sender<Arc<Traces>>, Arc<ExporterMetrics>)>,
}

impl ExportFanout {
    /// Sends `request` to every exporter, waiting while an exporter's queue is full
    /// (back-pressure towards the workers and, through the pipeline queue, the receivers).
    /// Counts the spans in `stats` and in each exporter's counters.
    pub fn send_blocking(&self, request: Traces, stats: &PipelineStats) {
        let spans = request.span_count() as u64;
        PipelineStats::add(&stats.spans_to_exporters, spans);
        let request = Arc::new(request);
        for (queue, counters) in &self.exporters {
            PipelineStats::add(&counters.spans_enqueued, spans);
            // An exporter only closes its queue after every sender is gone, so this cannot fail.
            let _ = queue.send_blocking(request.clone());
        }
    }

    /// Adds an exporter's queue and counters.
    pub fn push(
        &mut self,
        sender: async_channel::Sender<Arc<Traces>>,
        counters: Arc<ExporterMetrics>,
    ) {
        self.exporters.push((sender, counters));
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
    metrics: Arc<Metrics>,
) -> (async_channel::Sender<Arc<Traces>>, ExporterHandle) {
    let (sender, receiver) = async_channel::bounded(batch.queue_capacity);
    let exporter = Arc::new(Exporter {
        counters: metrics.exporter(&name),
        name: name.clone(),
        sink,
        in_flight: Arc::new(Semaphore::new(batch.max_in_flight)),
        retry,
        metrics,
    });
    let task = tokio::spawn(supervise(exporter, receiver, batch));
    (sender, ExporterHandle { name, task })
}

/// Runs the exporter's batching loop, restarting it (after a pause) if it panics: a dead
/// loop would leave its queue unread and the workers' hand-offs to it silently failing.
async fn supervise(
    exporter: Arc<Exporter>,
    queue: async_channel::Receiver<Arc<Traces>>,
    config: BatchConfig,
) {
    loop {
        let run = tokio::spawn(run(exporter.clone(), queue.clone(), config.clone()));
        match run.await {
            Err(error) if error.is_panic() => {
                exporter
                    .metrics
                    .panics
                    .record(Component::Exporter, error.into_panic().as_ref());
                tokio::time::sleep(RESTART_PAUSE).await;
            }
            _ => return,
        }
    }
}

/// How long a supervisor waits before restarting a loop that panicked.
const RESTART_PAUSE: Duration = Duration::from_millis(100);

/// What every send of one exporter shares.
struct Exporter {
    name: String,
    sink: Sink,
    in_flight: Arc<Semaphore>,
    retry: RetryConfig,
    metrics: Arc<Metrics>,
    counters: Arc<ExporterMetrics>,
}

async fn run(
    exporter: Arc<Exporter>,
    queue: async_channel::Receiver<Arc<Traces>>,
    config: BatchConfig,
) {
    let timeout = Duration::from_millis(config.timeout_ms);
    let mut pending = Pending {
        requests: Vec::new(),
        spans: 0,
        exporter: &exporter,
    };
    let mut deadline = tokio::time::Instant::now() + timeout;
    loop {
        let flush_due = tokio::select! {
            biased;
            received = queue.recv() => match received {
                Ok(request) => {
                    exporter.counters.queued.store(queue.len() as u64, Ordering::Relaxed);
                    if pending.requests.is_empty() {
                        deadline = tokio::time::Instant::now() + timeout;
                    }
                    pending.spans += request.span_count();
                    pending.requests.push(request);
                    pending.spans >= config.max_spans
                }
                Err(_) => break,
            },
            _ = tokio::time::sleep_until(deadline), if !pending.requests.is_empty() => true,
        };
        if flush_due {
            let (batch, spans) = pending.take();
            dispatch(&exporter, batch, spans).await;
        }
    }
    if !pending.requests.is_empty() {
        let (batch, spans) = pending.take();
        dispatch(&exporter, batch, spans).await;
    }
    // Wait for every send in flight to finish.
    let _ = exporter
        .in_flight
        .acquire_many(config.max_in_flight as u32)
        .await;
    tracing::debug!(exporter = %exporter.name, "Exporter flushed and stopped.");
}

/// The requests an exporter's loop holds until the batch is due. If the loop ends without
/// sending them (it panicked and is being restarted, or was cancelled), their spans are
/// counted as failed: they were counted in when queued and must be counted out.
struct Pending<'a> {
    requests: Vec<Arc<Traces>>,
    spans: usize,
    exporter: &'a Exporter,
}

impl Pending<'_> {
    /// The batch and its span count, leaving nothing pending.
    fn take(&mut self) -> (Vec<Arc<Traces>>, usize) {
        (
            std::mem::take(&mut self.requests),
            std::mem::take(&mut self.spans),
        )
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.spans > 0 {
            let spans = self.spans as u64;
            PipelineStats::add(&self.exporter.metrics.pipeline.spans_export_failed, spans);
            PipelineStats::add(&self.exporter.counters.spans_failed, spans);
        }
    }
}

/// Encodes `batch` once and sends it (with retries) on its own task, at most `max_in_flight`
/// at a time.
async fn dispatch(exporter: &Arc<Exporter>, batch: Vec<Arc<Traces>>, spans: usize) {
    let permit = exporter
        .in_flight
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let exporter = exporter.clone();
    let supervisor = exporter.clone();
    let send = tokio::spawn(async move {
        let _permit = permit;
        let stats = &exporter.metrics.pipeline;
        let result = match exporter.sink.encode(&batch) {
            Ok(payload) => {
                drop(batch);
                with_retries(&exporter.retry, || exporter.sink.send(&payload), |error| {
                    PipelineStats::add(&stats.export_retries, 1);
                    PipelineStats::add(&exporter.counters.retries, 1);
                    tracing::debug!(exporter = %exporter.name, error = %error, "Export failed; retrying.");
                })
                .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(delivery) => {
                let (delivered, rejected) = delivery.split(spans as u64);
                PipelineStats::add(&stats.spans_exported, delivered);
                PipelineStats::add(&exporter.counters.spans_sent, delivered);
                if rejected > 0 {
                    // The backend took the request but not these spans: not delivered.
                    PipelineStats::add(&stats.spans_export_failed, rejected);
                    PipelineStats::add(&exporter.counters.spans_failed, rejected);
                    tracing::warn!(exporter = %exporter.name, rejected, spans, reason = %delivery.message, "The backend rejected part of an export (partial success); those spans are counted as failed.");
                }
                exporter
                    .counters
                    .consecutive_failures
                    .store(0, Ordering::Relaxed);
            }
            Err(error) => {
                PipelineStats::add(&stats.spans_export_failed, spans as u64);
                PipelineStats::add(&exporter.counters.spans_failed, spans as u64);
                PipelineStats::add(&exporter.counters.consecutive_failures, 1);
                tracing::error!(exporter = %exporter.name, error = %error, spans, "Export failed; spans lost.");
            }
        }
    });
    // A send that panicked is counted, and its spans as failed, like a send that gave up.
    tokio::spawn(async move {
        if let Err(error) = send.await
            && error.is_panic()
        {
            let exporter = supervisor;
            exporter
                .metrics
                .panics
                .record(Component::Exporter, error.into_panic().as_ref());
            PipelineStats::add(&exporter.metrics.pipeline.spans_export_failed, spans as u64);
            PipelineStats::add(&exporter.counters.spans_failed, spans as u64);
        }
    });
}
