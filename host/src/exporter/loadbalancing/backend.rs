//! One backend of a load-balancing exporter: an OTLP exporter of its own (queue, batching,
//! retries, counters under `LB/ADDRESS`), whose failures come back to be routed elsewhere.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::config::{BackendProtocol, ExporterConfig, LoadBalancingConfig};
use crate::telemetry::{ExporterMetrics, Metrics};

use super::super::batcher::{ExporterHandle, GiveUp, Queued, start_exporter_on};
use super::super::sink::Sink;

/// A running backend.
pub struct Backend {
    sender: async_channel::Sender<Queued>,
    /// The other end of its queue: what it holds is taken back when it leaves the ring.
    receiver: async_channel::Receiver<Queued>,
    handle: ExporterHandle,
    /// Its counters.
    pub counters: Arc<ExporterMetrics>,
    /// A second sink to the same address, for the empty exports that probe a backend out of
    /// the ring.
    probe: Sink,
}

impl Backend {
    /// Starts the backend at `address` of load balancer `name`; what it gives up on goes to
    /// `reroute`.
    pub fn start(
        name: &str,
        address: &str,
        config: &LoadBalancingConfig,
        base_dir: &Path,
        reroute: async_channel::Sender<Queued>,
        metrics: &Arc<Metrics>,
    ) -> anyhow::Result<Backend> {
        let otlp = config.backend(address);
        let exporter = match config.otlp.protocol {
            BackendProtocol::Grpc => ExporterConfig::Otlp(otlp),
            BackendProtocol::Http => ExporterConfig::Otlphttp(otlp),
        };
        let sink = Sink::from_config(&exporter, base_dir)?;
        let probe = Sink::from_config(&exporter, base_dir)?;
        let label = format!("{name}/{address}");
        let (sender, receiver) = async_channel::bounded(config.batch.queue_capacity);
        let handle = start_exporter_on(
            receiver.clone(),
            label.clone(),
            sink,
            (config.batch.clone(), config.retry.clone()),
            GiveUp::Reroute(reroute),
            metrics.clone(),
        );
        Ok(Backend {
            sender,
            receiver,
            handle,
            counters: metrics.exporter(&label),
            probe,
        })
    }

    /// Queues `queued` unless the queue is full; gives it back if it is.
    pub fn try_send(&self, queued: Queued) -> Result<(), Queued> {
        self.sender.try_send(queued).map_err(|e| e.into_inner())
    }

    /// Queues `queued`, waiting for room.
    pub async fn send(&self, queued: Queued) {
        // The backend's loop reads until every sender is gone: this cannot fail.
        let _ = self.sender.send(queued).await;
    }

    /// Whether its last `threshold` attempts or more failed in a row.
    pub fn failing(&self, threshold: u64) -> bool {
        self.counters
            .attempts_failed_since_success
            .load(Ordering::Relaxed)
            >= threshold
    }

    /// Takes back what waits in its queue (not what it is sending), counted as rerouted.
    pub fn take_queued(&self) -> Vec<Queued> {
        let taken: Vec<Queued> = std::iter::from_fn(|| self.receiver.try_recv().ok()).collect();
        let spans: usize = taken.iter().map(|q| q.request.span_count()).sum();
        crate::telemetry::PipelineStats::add(&self.counters.spans_rerouted, spans as u64);
        taken
    }

    /// Sends an empty export; whether the backend took it.
    pub async fn probe(&self) -> bool {
        let ok = match self.probe.encode(&[]) {
            Ok(payload) => self.probe.send(&payload).await.is_ok(),
            Err(_) => false,
        };
        if ok {
            self.counters
                .attempts_failed_since_success
                .store(0, Ordering::Relaxed);
        }
        ok
    }

    /// Lets its queue close: it sends what it holds, then stops. Returns its task to wait on.
    pub fn stop(self) -> ExporterHandle {
        self.handle
    }
}
