//! Worker threads: take a request from the queue, run the chain, hand the result to exporters.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::durable::Ledger;
use crate::exporter::ExportFanout;
use crate::pdata::{Lineage, Traces};
use crate::tail::{TailSampler, TailThread};
use crate::telemetry::{Component, Metrics, PipelineStats};

use crate::pipeline::{Admitted, Chain, ChainSpec, MemoryBudget, Submitter, bounded_queue};

/// The running workers, and the tail-sampling stage's decision thread.
pub struct WorkerPool {
    threads: Vec<JoinHandle<()>>,
    tail: TailThread,
    sampler: Arc<TailSampler>,
}

impl WorkerPool {
    /// Waits for every worker to finish, then has the tail-sampling stage decide what it
    /// buffers. Workers finish once the queue is closed (every [`Submitter`] dropped) and
    /// drained.
    pub fn join(self) {
        for thread in self.threads {
            if thread.join().is_err() {
                tracing::error!("A pipeline worker panicked.");
            }
        }
        let buffered = self.sampler.traces_buffered();
        if buffered > 0 {
            tracing::info!(
                traces = buffered,
                "Deciding the traces the tail-sampling stage holds."
            );
        }
        self.tail.stop();
    }

    /// The tail-sampling stage (idle when the chain has none).
    pub fn tail_sampler(&self) -> &Arc<TailSampler> {
        &self.sampler
    }
}

/// How the workers are set up.
pub struct WorkerSettings {
    /// Worker threads.
    pub workers: usize,
    /// Requests the queue holds.
    pub capacity: usize,
    /// Bytes of requests admitted at once.
    pub memory_limit: usize,
    /// How long a receiver waits for room.
    pub enqueue_timeout: std::time::Duration,
    /// The persistent queue, and how many times a request whose processing panics is tried
    /// before it goes to the dead-letter file.
    pub durable: Option<(Arc<Ledger>, u32)>,
}

/// Starts the worker threads reading from a bounded queue. Returns the handle receivers
/// submit with, and the pool.
pub fn start_workers(
    settings: WorkerSettings,
    chain: watch::Receiver<Arc<ChainSpec>>,
    fanout: watch::Receiver<Arc<ExportFanout>>,
    metrics: Arc<Metrics>,
) -> (Submitter, WorkerPool) {
    let budget = MemoryBudget::new(settings.memory_limit, metrics.clone());
    let ledger = settings.durable.as_ref().map(|(ledger, _)| ledger.clone());
    let (submitter, receiver) = bounded_queue(
        settings.capacity,
        settings.enqueue_timeout,
        budget,
        ledger,
        metrics.clone(),
    );
    let sampler = TailSampler::new(metrics.clone());
    let tail = sampler.start(chain.clone(), fanout.clone());
    let threads = (0..settings.workers)
        .map(|n| {
            let receiver = receiver.clone();
            let mut chain_updates = chain.clone();
            let mut fanout_updates = fanout.clone();
            let metrics = metrics.clone();
            let sampler = sampler.clone();
            let durable = settings.durable.clone();
            std::thread::Builder::new()
                .name(format!("weft-worker-{n}"))
                .spawn(move || {
                    let mut chain = Chain::new(chain_updates.borrow_and_update().clone(), &metrics);
                    let mut fanout = fanout_updates.borrow_and_update().clone();
                    while let Ok(admitted) = receiver.recv_blocking() {
                        metrics
                            .queued
                            .store(receiver.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        if chain_updates.has_changed().unwrap_or(false) {
                            chain = Chain::new(chain_updates.borrow_and_update().clone(), &metrics);
                        }
                        if fanout_updates.has_changed().unwrap_or(false) {
                            fanout = fanout_updates.borrow_and_update().clone();
                        }
                        let parts = Parts {
                            sampler: &sampler,
                            fanout: &fanout,
                            metrics: &metrics,
                        };
                        handle(&mut chain, parts, admitted, durable.as_ref());
                    }
                })
                .expect("spawning a pipeline worker thread")
        })
        .collect();
    (
        submitter,
        WorkerPool {
            threads,
            tail,
            sampler,
        },
    )
}

/// What a worker hands batches on to.
#[derive(Clone, Copy)]
struct Parts<'a> {
    sampler: &'a TailSampler,
    fanout: &'a ExportFanout,
    metrics: &'a Arc<Metrics>,
}

/// Runs one admitted request through the chain and hands what is left to the exporters. A
/// panic outside any processor starts the worker's instances afresh; with a persistent
/// queue the request is tried again, up to the configured number of tries, and then written
/// to the dead-letter file.
fn handle(
    chain: &mut Chain,
    parts: Parts<'_>,
    admitted: Admitted,
    durable: Option<&(Arc<Ledger>, u32)>,
) {
    let Admitted {
        request,
        memory,
        lineage,
    } = admitted;
    let spans = request.span_count() as u64;
    // The request as the persistent queue holds it, to try again after a panic.
    let retained = durable.map(|_| request.to_bytes());
    let max_tries = durable.map_or(1, |(_, tries)| *tries);
    let exhausted = retry_panics(request, retained.as_ref(), max_tries, |batch| {
        let handed_on = Cell::new(false);
        let lost_if_panics = durable.is_none();
        let handled = supervise_batch(parts.metrics, (spans, lost_if_panics), &handed_on, || {
            let hand_off = (parts.sampler, &handed_on, &lineage);
            if let Some(processed) = run_chain(chain, hand_off, batch, parts.metrics) {
                handed_on.set(true);
                parts
                    .fanout
                    .send_blocking(processed, &lineage, &parts.metrics.pipeline);
            }
        });
        if !handled {
            *chain = Chain::new(chain.spec().clone(), parts.metrics);
        }
        Attempt {
            completed: handled,
            handed_on: handed_on.get(),
        }
    });
    if exhausted && let Some((ledger, _)) = durable {
        dead_letter(ledger, retained.as_ref(), spans, parts.metrics);
    }
    drop(memory);
}

/// How one try at a request ended.
struct Attempt {
    /// It ran to the end without a panic.
    completed: bool,
    /// The batch had reached the tail-sampling stage or the exporters (which account for it
    /// from then on) before a panic.
    handed_on: bool,
}

/// Tries `attempt` on `request`, and again on a fresh read of `retained` (the persistent
/// queue's copy) after each panic before the hand-off, up to `max_tries` tries in all.
/// Returns whether every try panicked: the request is then the dead-letter file's.
fn retry_panics(
    request: Traces,
    retained: Option<&bytes::Bytes>,
    max_tries: u32,
    mut attempt: impl FnMut(Traces) -> Attempt,
) -> bool {
    let mut batch = request;
    for tries in 1.. {
        let outcome = attempt(batch);
        if outcome.completed || outcome.handed_on {
            return false;
        }
        let Some(bytes) = retained.filter(|_| tries < max_tries) else {
            return retained.is_some();
        };
        batch = match Traces::decode_trusted(bytes.clone()) {
            Ok(batch) => batch,
            Err(_) => return true,
        };
    }
    unreachable!("the loop returns")
}

/// Writes a request whose processing kept panicking to the pipeline's dead-letter file.
fn dead_letter(ledger: &Ledger, bytes: Option<&bytes::Bytes>, spans: u64, metrics: &Metrics) {
    let mut lines = Vec::new();
    if let Some(Ok(batch)) = bytes.cloned().map(Traces::decode_trusted) {
        batch.write_json(&mut lines);
        lines.push(b'\n');
    }
    match ledger.dead_letter("pipeline", &lines) {
        Ok(path) => {
            PipelineStats::add(&metrics.pipeline.spans_dead_lettered, spans);
            tracing::error!(spans, file = %path.display(), "Processing this request panicked on every try; it was written to the dead-letter file.");
        }
        Err(error) => {
            PipelineStats::add(&metrics.pipeline.spans_lost_to_panics, spans);
            tracing::error!(spans, %error, "Processing this request panicked on every try, and the dead-letter file could not be written; its spans are lost.");
        }
    }
}

/// Runs `work` on a worker's batch of `spans` spans, catching a panic in it: outside any
/// processor there is no `on_error` to follow, so the panic is counted and, unless `work` had
/// already handed the batch on (`handed_on`: to the tail-sampling stage or the exporters,
/// which account for it from then on), its spans are counted as lost. Returns whether `work`
/// completed; if not, the worker goes on with fresh instances.
fn supervise_batch(
    metrics: &Metrics,
    (spans, lost_if_panics): (u64, bool),
    handed_on: &Cell<bool>,
    work: impl FnOnce(),
) -> bool {
    match std::panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(()) => true,
        Err(payload) => {
            metrics.panics.record(Component::Worker, payload.as_ref());
            if lost_if_panics && !handed_on.get() {
                PipelineStats::add(&metrics.pipeline.spans_lost_to_panics, spans);
            }
            false
        }
    }
}

/// Runs `request` through the chain. With a tail-sampling stage, the processors before it
/// run here and the stage takes the spans; what comes out now (spans of traces already kept)
/// runs through the processors after it.
fn run_chain(
    chain: &mut Chain,
    (sampler, handed_on, lineage): (&TailSampler, &Cell<bool>, &Lineage),
    request: Traces,
    metrics: &Metrics,
) -> Option<Traces> {
    let spec = chain.spec().clone();
    let Some(position) = spec.tail_position() else {
        return chain.run(request, metrics);
    };
    let before = chain.run_stages(0..position, request, metrics)?;
    let settings = spec.stages[position].tail.as_ref().expect("the tail stage");
    handed_on.set(true);
    let late = sampler.ingest(before, lineage, settings, chain.stage_metrics(position))?;
    chain.run_stages(position + 1..spec.stages.len(), late, metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> (Traces, bytes::Bytes) {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        let batch = Traces::from_request(&ExportTraceServiceRequest::default());
        let bytes = batch.to_bytes();
        (batch, bytes)
    }

    fn panicked(handed_on: bool) -> Attempt {
        Attempt {
            completed: false,
            handed_on,
        }
    }

    #[test]
    fn a_request_that_keeps_panicking_is_tried_max_tries_times_then_given_up() {
        let (batch, bytes) = request();
        let mut tries = 0;
        let exhausted = retry_panics(batch, Some(&bytes), 3, |_| {
            tries += 1;
            panicked(false)
        });
        assert!(exhausted);
        assert_eq!(tries, 3);
        // Once past a panic, a try that completes ends it.
        let (batch, bytes) = request();
        let mut tries = 0;
        let exhausted = retry_panics(batch, Some(&bytes), 3, |_| {
            tries += 1;
            Attempt {
                completed: tries == 2,
                handed_on: false,
            }
        });
        assert!(!exhausted);
        assert_eq!(tries, 2);
    }

    #[test]
    fn without_a_persistent_copy_or_after_the_hand_off_there_is_no_second_try() {
        let (batch, _) = request();
        let mut tries = 0;
        assert!(!retry_panics(batch, None, 3, |_| {
            tries += 1;
            panicked(false)
        }));
        let (batch, bytes) = request();
        assert!(!retry_panics(batch, Some(&bytes), 3, |_| {
            tries += 1;
            panicked(true)
        }));
        assert_eq!(tries, 2);
    }

    #[test]
    fn a_panic_in_a_batch_is_counted_and_the_worker_carries_on() {
        let metrics = Metrics::default();
        let handed_on = Cell::new(false);
        assert!(!supervise_batch(
            &metrics,
            (7, true),
            &handed_on,
            || panic!("a bug")
        ));
        assert!(supervise_batch(&metrics, (5, true), &handed_on, || ()));
        // A batch already handed on is the next stage's to account for.
        let handed_on = Cell::new(false);
        assert!(!supervise_batch(&metrics, (3, true), &handed_on, || {
            handed_on.set(true);
            panic!("a bug after the hand-off")
        }));
        assert_eq!(metrics.panics.count(Component::Worker), 2);
        let stats = metrics.pipeline.snapshot();
        assert_eq!(
            stats.spans_lost_to_panics, 7,
            "only the batch in hand is lost"
        );
    }
}
