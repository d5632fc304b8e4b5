//! Worker threads: take a request from the queue, run the chain, hand the result to exporters.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::exporter::ExportFanout;
use crate::pdata::Traces;
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

/// Starts `workers` threads reading from a queue of `capacity` requests, admitted within
/// `memory_limit` bytes. Returns the handle receivers submit with, and the pool.
pub fn start_workers(
    workers: usize,
    (capacity, memory_limit): (usize, usize),
    enqueue_timeout: std::time::Duration,
    chain: watch::Receiver<Arc<ChainSpec>>,
    fanout: watch::Receiver<Arc<ExportFanout>>,
    metrics: Arc<Metrics>,
) -> (Submitter, WorkerPool) {
    let budget = MemoryBudget::new(memory_limit, metrics.clone());
    let (submitter, receiver) = bounded_queue(capacity, enqueue_timeout, budget, metrics.clone());
    let sampler = TailSampler::new(metrics.clone());
    let tail = sampler.start(chain.clone(), fanout.clone());
    let threads = (0..workers)
        .map(|n| {
            let receiver = receiver.clone();
            let mut chain_updates = chain.clone();
            let mut fanout_updates = fanout.clone();
            let metrics = metrics.clone();
            let sampler = sampler.clone();
            std::thread::Builder::new()
                .name(format!("weft-worker-{n}"))
                .spawn(move || {
                    let mut chain = Chain::new(chain_updates.borrow_and_update().clone(), &metrics);
                    let mut fanout = fanout_updates.borrow_and_update().clone();
                    while let Ok(Admitted { request, memory }) = receiver.recv_blocking() {
                        metrics
                            .queued
                            .store(receiver.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        if chain_updates.has_changed().unwrap_or(false) {
                            chain = Chain::new(chain_updates.borrow_and_update().clone(), &metrics);
                        }
                        if fanout_updates.has_changed().unwrap_or(false) {
                            fanout = fanout_updates.borrow_and_update().clone();
                        }
                        let spans = request.span_count() as u64;
                        let handed_on = Cell::new(false);
                        let handled = supervise_batch(&metrics, spans, &handed_on, || {
                            let hand_off = (&*sampler, &handed_on);
                            if let Some(processed) =
                                run_chain(&mut chain, hand_off, request, &metrics)
                            {
                                handed_on.set(true);
                                fanout.send_blocking(processed, &metrics.pipeline);
                            }
                        });
                        if !handled {
                            chain = Chain::new(chain.spec().clone(), &metrics);
                        }
                        drop(memory);
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

/// Runs `work` on a worker's batch of `spans` spans, catching a panic in it: outside any
/// processor there is no `on_error` to follow, so the panic is counted and, unless `work` had
/// already handed the batch on (`handed_on`: to the tail-sampling stage or the exporters,
/// which account for it from then on), its spans are counted as lost. Returns whether `work`
/// completed; if not, the worker goes on with fresh instances.
fn supervise_batch(
    metrics: &Metrics,
    spans: u64,
    handed_on: &Cell<bool>,
    work: impl FnOnce(),
) -> bool {
    match std::panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(()) => true,
        Err(payload) => {
            metrics.panics.record(Component::Worker, payload.as_ref());
            if !handed_on.get() {
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
    (sampler, handed_on): (&TailSampler, &Cell<bool>),
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
    let late = sampler.ingest(before, settings, chain.stage_metrics(position))?;
    chain.run_stages(position + 1..spec.stages.len(), late, metrics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_a_batch_is_counted_and_the_worker_carries_on() {
        let metrics = Metrics::default();
        let handed_on = Cell::new(false);
        assert!(!supervise_batch(&metrics, 7, &handed_on, || panic!(
            "a bug"
        )));
        assert!(supervise_batch(&metrics, 5, &handed_on, || ()));
        // A batch already handed on is the next stage's to account for.
        let handed_on = Cell::new(false);
        assert!(!supervise_batch(&metrics, 3, &handed_on, || {
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
