//! Fan-out from workers to exporters, and each exporter's batching loop.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::config::{BatchConfig, RetryConfig};
use crate::durable::{Ledger, Slot};
use crate::pdata::{Lineage, Traces};
use crate::telemetry::{Component, ExporterMetrics, Metrics, PipelineStats};

use super::dispatch::dispatch;
use super::sink::Sink;
use super::ticket::Ticket;

/// What an exporter's queue holds: a processed batch, shared by every exporter it went to,
/// and this exporter's claim on the persistent-queue records it came from.
pub struct Queued {
    pub(super) request: Arc<Traces>,
    pub(super) ticket: Option<Ticket>,
}

impl Queued {
    pub(super) fn new(request: Arc<Traces>, ticket: Option<Ticket>) -> Self {
        Queued { request, ticket }
    }
}

/// One exporter as the fan-out sees it.
#[derive(Clone)]
struct Target {
    queue: async_channel::Sender<Queued>,
    counters: Arc<ExporterMetrics>,
    /// Its slot among the persistent queue's consumers.
    slot: Option<Slot>,
}

/// Hands every processed batch to every exporter. Cloned into each worker; exporters finish
/// once every clone is dropped and their queues are drained.
#[derive(Clone, Default)]
pub struct ExportFanout {
    exporters: Vec<Target>,
    /// The persistent queue, when there is one.
    ledger: Option<Arc<Ledger>>,
}

impl ExportFanout {
    /// A fan-out whose exporters claim the persistent queue's records in `ledger`.
    pub fn durable(ledger: Arc<Ledger>) -> Self {
        ExportFanout {
            exporters: Vec::new(),
            ledger: Some(ledger),
        }
    }

    /// Sends `request`, which came from `lineage`, to every exporter, waiting while an
    /// exporter's queue is full (back-pressure towards the workers and, through the pipeline
    /// queue, the receivers). Counts the spans in `stats` and in each exporter's counters.
    ///
    /// With a persistent queue, an exporter gets only what it has not finished (a replayed
    /// record goes only where it was not sent), and an exporter whose queue is full while its
    /// sends fail does not hold up the others: it is skipped, and what it missed stays on
    /// disk, sent again after a restart.
    pub fn send_blocking(&self, request: Traces, lineage: &Lineage, stats: &PipelineStats) {
        let spans = request.span_count() as u64;
        PipelineStats::add(&stats.spans_to_exporters, spans);
        let request = Arc::new(request);
        for target in &self.exporters {
            let ticket = match (&self.ledger, target.slot) {
                (Some(ledger), Some(slot)) if !lineage.is_empty() => {
                    match ledger.claim(slot, lineage) {
                        Some(claim) => Some(Ticket::Claim(claim)),
                        None => continue,
                    }
                }
                _ => None,
            };
            let queued = Queued {
                request: request.clone(),
                ticket,
            };
            let queued = match target.queue.try_send(queued) {
                Ok(()) => {
                    PipelineStats::add(&target.counters.spans_enqueued, spans);
                    continue;
                }
                Err(error) => error.into_inner(),
            };
            let failing = target
                .counters
                .attempts_failed_since_success
                .load(Ordering::Relaxed)
                > 0;
            if self.ledger.is_some() && queued.ticket.is_some() && failing {
                PipelineStats::add(&target.counters.spans_deferred, spans);
                continue;
            }
            PipelineStats::add(&target.counters.spans_enqueued, spans);
            // An exporter only closes its queue after every sender is gone, so this cannot fail.
            let _ = target.queue.send_blocking(queued);
        }
    }

    /// Adds an exporter's queue and counters, and its slot in the persistent queue.
    pub fn push(
        &mut self,
        queue: async_channel::Sender<Queued>,
        counters: Arc<ExporterMetrics>,
        slot: Option<Slot>,
    ) {
        self.exporters.push(Target {
            queue,
            counters,
            slot,
        });
    }
}

/// A running exporter task.
pub struct ExporterHandle {
    /// The exporter's name from the config.
    pub name: String,
    task: JoinHandle<()>,
}

impl ExporterHandle {
    pub(super) fn new(name: String, task: JoinHandle<()>) -> Self {
        ExporterHandle { name, task }
    }

    /// Waits until the exporter has flushed everything it was given and stopped.
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            tracing::error!(exporter = %self.name, error = %e, "Exporter task failed.");
        }
    }
}

/// What an exporter does with a batch it gives up on, besides counting it.
#[derive(Clone, Default)]
pub enum GiveUp {
    /// Nothing more: the spans are lost.
    #[default]
    Count,
    /// Writes it to the dead-letter file beside the persistent queue's log.
    DeadLetter(Arc<Ledger>),
    /// Hands it back to a load-balancing exporter, to go to another backend.
    Reroute(async_channel::Sender<Queued>),
}

/// Starts the batching loop of one exporter and returns its queue's sender and handle.
pub fn start_exporter(
    name: String,
    sink: Sink,
    (batch, retry): (BatchConfig, RetryConfig),
    give_up: GiveUp,
    metrics: Arc<Metrics>,
) -> (async_channel::Sender<Queued>, ExporterHandle) {
    let (sender, receiver) = async_channel::bounded(batch.queue_capacity);
    let handle = start_exporter_on(receiver, name, sink, (batch, retry), give_up, metrics);
    (sender, handle)
}

/// [`start_exporter`] reading from a queue the caller made (and can read from too).
pub(super) fn start_exporter_on(
    receiver: async_channel::Receiver<Queued>,
    name: String,
    sink: Sink,
    (batch, retry): (BatchConfig, RetryConfig),
    give_up: GiveUp,
    metrics: Arc<Metrics>,
) -> ExporterHandle {
    let exporter = Arc::new(Exporter {
        counters: metrics.exporter(&name),
        name: name.clone(),
        sink,
        in_flight: Arc::new(Semaphore::new(batch.max_in_flight)),
        retry,
        ledger: match &give_up {
            GiveUp::DeadLetter(ledger) => Some(ledger.clone()),
            _ => None,
        },
        reroute: match give_up {
            GiveUp::Reroute(sender) => Some(sender),
            _ => None,
        },
        metrics,
    });
    let task = tokio::spawn(supervise(exporter, receiver, batch));
    ExporterHandle { name, task }
}

/// Runs the exporter's batching loop, restarting it (after a pause) if it panics: a dead
/// loop would leave its queue unread and the workers' hand-offs to it silently failing.
async fn supervise(
    exporter: Arc<Exporter>,
    queue: async_channel::Receiver<Queued>,
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
pub(super) struct Exporter {
    pub(super) name: String,
    pub(super) sink: Sink,
    pub(super) in_flight: Arc<Semaphore>,
    pub(super) retry: RetryConfig,
    pub(super) ledger: Option<Arc<Ledger>>,
    pub(super) reroute: Option<async_channel::Sender<Queued>>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) counters: Arc<ExporterMetrics>,
}

async fn run(exporter: Arc<Exporter>, queue: async_channel::Receiver<Queued>, config: BatchConfig) {
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
                Ok(queued) => {
                    exporter.counters.queued.store(queue.len() as u64, Ordering::Relaxed);
                    if pending.requests.is_empty() {
                        deadline = tokio::time::Instant::now() + timeout;
                    }
                    pending.spans += queued.request.span_count();
                    pending.requests.push(queued);
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
    requests: Vec<Queued>,
    spans: usize,
    exporter: &'a Exporter,
}

impl Pending<'_> {
    /// The batch and its span count, leaving nothing pending.
    fn take(&mut self) -> (Vec<Queued>, usize) {
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
