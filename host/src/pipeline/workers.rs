//! Worker threads: take a request from the queue, run the chain, hand the result to exporters.

use std::sync::Arc;
use std::thread::JoinHandle;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::watch;

use crate::exporter::ExportFanout;
use crate::telemetry::Metrics;

use super::chain::{Chain, ChainSpec};
use super::queue::Submitter;

/// The running workers.
pub struct WorkerPool {
    threads: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Waits for every worker to finish. Workers finish once the queue is closed (every
    /// [`Submitter`] dropped) and drained.
    pub fn join(self) {
        for thread in self.threads {
            if thread.join().is_err() {
                tracing::error!("A pipeline worker panicked.");
            }
        }
    }
}

/// Starts `workers` threads reading from a queue of `capacity` requests. Returns the handle
/// receivers submit with, and the pool.
pub fn start_workers(
    workers: usize,
    capacity: usize,
    enqueue_timeout: std::time::Duration,
    chain: watch::Receiver<Arc<ChainSpec>>,
    fanout: watch::Receiver<Arc<ExportFanout>>,
    metrics: Arc<Metrics>,
) -> (Submitter, WorkerPool) {
    let (sender, receiver) = async_channel::bounded::<ExportTraceServiceRequest>(capacity);
    let threads = (0..workers)
        .map(|n| {
            let receiver = receiver.clone();
            let mut chain_updates = chain.clone();
            let mut fanout_updates = fanout.clone();
            let metrics = metrics.clone();
            std::thread::Builder::new()
                .name(format!("weft-worker-{n}"))
                .spawn(move || {
                    let mut chain = Chain::new(chain_updates.borrow_and_update().clone(), &metrics);
                    let mut fanout = fanout_updates.borrow_and_update().clone();
                    while let Ok(request) = receiver.recv_blocking() {
                        metrics
                            .queued
                            .store(receiver.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        if chain_updates.has_changed().unwrap_or(false) {
                            chain = Chain::new(chain_updates.borrow_and_update().clone(), &metrics);
                        }
                        if fanout_updates.has_changed().unwrap_or(false) {
                            fanout = fanout_updates.borrow_and_update().clone();
                        }
                        if let Some(processed) = chain.run(request, &metrics) {
                            fanout.send_blocking(processed);
                        }
                    }
                })
                .expect("spawning a pipeline worker thread")
        })
        .collect();
    (
        Submitter::new(sender, enqueue_timeout, metrics),
        WorkerPool { threads },
    )
}
