//! `type = "loadbalancing"`: routes each span by trace id (or service) to one backend of a
//! consistent-hash ring, so every span of a trace reaches the same backend — what a tier of
//! tail-sampling Wefts needs in front of it.
//!
//! Each backend is an OTLP exporter of its own (`backend.rs`). The ring (`ring.rs`) changes
//! when the resolver's answer changes (`resolver.rs`), when a backend fails
//! `eject_after_failures` attempts in a row (out, until an empty export to it succeeds), and
//! when it comes back. A backend that leaves gives back what waits in its queue, and what it
//! gives up on after its retries comes back too: both are routed again to the ring as it is
//! then, never dropped while a backend is left.
//!
//! Owns: routing and membership. Must not know what the backends do with the spans.

mod backend;
mod resolver;
mod ring;
mod route;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::LoadBalancingConfig;
use crate::telemetry::{ExporterMetrics, Metrics, PipelineStats};

use super::batcher::{ExporterHandle, Queued};
use backend::Backend;
use ring::Ring;
use route::{Routed, route};

/// Starts load-balancing exporter `name`; returns its queue's sender and its handle.
pub fn start_loadbalancer(
    name: String,
    config: LoadBalancingConfig,
    base_dir: PathBuf,
    metrics: Arc<Metrics>,
) -> (async_channel::Sender<Queued>, ExporterHandle) {
    let (sender, input) = async_channel::bounded(config.batch.queue_capacity);
    let (reroute, rerouted) = async_channel::unbounded();
    let balancer = Balancer {
        counters: metrics.exporter(&name),
        name: name.clone(),
        config,
        base_dir,
        metrics,
        reroute,
        members: BTreeMap::new(),
        ejected: BTreeMap::new(),
        ring: Ring::default(),
        retired: Vec::new(),
    };
    let task = tokio::spawn(balancer.run(input, rerouted));
    (sender, ExporterHandle::new(name, task))
}

struct Balancer {
    name: String,
    config: LoadBalancingConfig,
    base_dir: PathBuf,
    metrics: Arc<Metrics>,
    counters: Arc<ExporterMetrics>,
    /// Where backends hand back what they gave up on.
    reroute: async_channel::Sender<Queued>,
    /// Backends on the ring, by address.
    members: BTreeMap<String, Backend>,
    /// Backends out of the ring for failing, by address, with when they were last probed.
    ejected: BTreeMap<String, (Backend, Instant)>,
    ring: Ring,
    /// Backends that left, flushing before they stop.
    retired: Vec<ExporterHandle>,
}

impl Balancer {
    async fn run(
        mut self,
        input: async_channel::Receiver<Queued>,
        rerouted: async_channel::Receiver<Queued>,
    ) {
        let every = resolver::interval(&self.config.resolver);
        let tick = Duration::from_millis(self.config.health.probe_interval_ms.min(1_000));
        let mut next_resolve = Instant::now();
        let mut ticker = tokio::time::interval(tick);
        loop {
            if next_resolve <= Instant::now() {
                self.resolve().await;
                next_resolve = every.map_or(Instant::now() + Duration::from_secs(1 << 30), |e| {
                    Instant::now() + e
                });
            }
            tokio::select! {
                biased;
                Ok(queued) = rerouted.recv() => self.route(queued, false).await,
                received = input.recv() => match received {
                    Ok(queued) => {
                        self.counters.queued.store(input.len() as u64, Ordering::Relaxed);
                        self.route(queued, true).await;
                    }
                    Err(_) => break,
                },
                _ = ticker.tick() => self.check_health().await,
            }
        }
        self.drain(rerouted).await;
        tracing::debug!(exporter = %self.name, "Load balancer flushed and stopped.");
    }

    /// Once the pipeline stopped handing it batches (shutdown, or a reload replaced this
    /// exporter): failing backends leave first and flush, what they give back going to the
    /// healthy ones meanwhile; then the healthy ones flush. What is given back after that
    /// has nowhere left to go and is counted as failed.
    async fn drain(&mut self, rerouted: async_channel::Receiver<Queued>) {
        self.eject_failing().await;
        let mut leaving: Vec<ExporterHandle> = std::mem::take(&mut self.ejected)
            .into_values()
            .map(|(backend, _)| backend.stop())
            .collect();
        leaving.append(&mut self.retired);
        let flushed = async {
            for handle in leaving {
                handle.join().await;
            }
        };
        tokio::pin!(flushed);
        loop {
            tokio::select! {
                () = &mut flushed => break,
                Ok(queued) = rerouted.recv() => self.route(queued, false).await,
            }
        }
        while let Ok(queued) = rerouted.try_recv() {
            self.route(queued, false).await;
        }
        for backend in std::mem::take(&mut self.members).into_values() {
            backend.stop().join().await;
        }
        while let Ok(queued) = rerouted.try_recv() {
            let spans = queued.request.span_count() as u64;
            PipelineStats::add(&self.counters.spans_failed, spans);
            PipelineStats::add(&self.metrics.pipeline.spans_export_failed, spans);
            tracing::error!(exporter = %self.name, spans, "A backend gave up on spans after every other backend had stopped; lost.");
        }
    }

    /// Routes `queued` to its backends. `fresh`: it came from the pipeline (counted in this
    /// exporter's totals), not back from a backend.
    async fn route(&mut self, queued: Queued, fresh: bool) {
        let spans = queued.request.span_count() as u64;
        if self.ring.is_empty() {
            // Nothing to send to: in a persistent queue the records stay for a restart.
            PipelineStats::add(&self.counters.spans_failed, spans);
            PipelineStats::add(&self.metrics.pipeline.spans_export_failed, spans);
            tracing::error!(exporter = %self.name, spans, "No backend is on the ring; spans lost.");
            return;
        }
        let parts = match route(&queued.request, &self.ring, self.config.routing_key) {
            Ok(Routed::Whole(owner)) => vec![(owner, queued)],
            Ok(Routed::Parts(parts)) => {
                let mut tickets = match queued.ticket {
                    Some(ticket) => ticket.split(parts.len()).into_iter().map(Some).collect(),
                    None => Vec::new(),
                };
                parts
                    .into_iter()
                    .map(|(owner, part)| {
                        let ticket = tickets.pop().flatten();
                        (owner, Queued::new(Arc::new(part), ticket))
                    })
                    .collect()
            }
            Err(error) => {
                PipelineStats::add(&self.counters.spans_failed, spans);
                PipelineStats::add(&self.metrics.pipeline.spans_export_failed, spans);
                tracing::error!(exporter = %self.name, %error, spans, "A batch could not be split by backend; spans lost.");
                return;
            }
        };
        if fresh {
            PipelineStats::add(&self.counters.spans_sent, spans);
        }
        for (owner, part) in parts {
            let address = self.ring.backends()[owner].clone();
            self.hand_to(&address, part).await;
        }
    }

    /// Queues `part` for the backend at `address`. A backend whose queue is full while it is
    /// failing leaves the ring, and the part goes to the ring's new owner.
    async fn hand_to(&mut self, address: &str, part: Queued) {
        let spans = part.request.span_count() as u64;
        let threshold = self.config.health.eject_after_failures;
        let Some(backend) = self.members.get(address) else {
            return Box::pin(self.route(part, false)).await;
        };
        let part = match backend.try_send(part) {
            Ok(()) => {
                PipelineStats::add(&backend.counters.spans_enqueued, spans);
                return;
            }
            Err(part) => part,
        };
        if backend.failing(threshold) {
            self.eject(address, "its queue is full and its sends fail")
                .await;
            return Box::pin(self.route(part, false)).await;
        }
        PipelineStats::add(&backend.counters.spans_enqueued, spans);
        backend.send(part).await;
    }

    /// Makes the members match the resolver's answer. A failed resolution keeps the ring.
    async fn resolve(&mut self) {
        let wanted = match resolver::resolve(&self.config.resolver).await {
            Ok(wanted) => wanted,
            Err(error) => {
                tracing::warn!(exporter = %self.name, %error, "Resolving the backends failed; the ring stays as it is.");
                return;
            }
        };
        let known: Vec<String> = self
            .members
            .keys()
            .chain(self.ejected.keys())
            .cloned()
            .collect();
        let mut changed = false;
        for address in known.iter().filter(|a| !wanted.contains(a)) {
            let backend = match self.members.remove(address) {
                Some(backend) => backend,
                None => self.ejected.remove(address).expect("known").0,
            };
            tracing::info!(exporter = %self.name, backend = %address, "Backend left the resolver's answer.");
            let queued = backend.take_queued();
            self.retired.push(backend.stop());
            changed = true;
            self.rebuild_ring();
            for part in queued {
                self.route(part, false).await;
            }
        }
        for address in wanted.iter().filter(|a| !known.contains(a)) {
            let started = Backend::start(
                &self.name,
                address,
                &self.config,
                &self.base_dir,
                self.reroute.clone(),
                &self.metrics,
            );
            match started {
                Ok(backend) => {
                    tracing::info!(exporter = %self.name, backend = %address, "Backend joined.");
                    self.members.insert(address.clone(), backend);
                    changed = true;
                }
                Err(error) => {
                    tracing::error!(exporter = %self.name, backend = %address, %error, "Backend could not be started.")
                }
            }
        }
        if changed {
            self.rebuild_ring();
        }
    }

    /// Takes failing backends out of the ring, and probes those out of it.
    async fn check_health(&mut self) {
        self.eject_failing().await;
        let probe_every = Duration::from_millis(self.config.health.probe_interval_ms);
        let due: Vec<String> = self
            .ejected
            .iter()
            .filter(|(_, (_, probed))| probed.elapsed() >= probe_every)
            .map(|(a, _)| a.clone())
            .collect();
        for address in due {
            let (backend, probed) = self.ejected.get_mut(&address).expect("listed");
            *probed = Instant::now();
            if backend.probe().await {
                let (backend, _) = self.ejected.remove(&address).expect("listed");
                tracing::info!(exporter = %self.name, backend = %address, "Backend answers again; back on the ring.");
                self.members.insert(address, backend);
                self.rebuild_ring();
            }
        }
    }

    /// Takes the members whose last `eject_after_failures` attempts failed out of the ring.
    /// The last member stays: with no ring at all, nothing could be sent anywhere.
    async fn eject_failing(&mut self) {
        let threshold = self.config.health.eject_after_failures;
        let failing: Vec<String> = self
            .members
            .iter()
            .filter(|(_, b)| b.failing(threshold))
            .map(|(a, _)| a.clone())
            .collect();
        for address in failing {
            if self.members.len() > 1 {
                self.eject(&address, "its sends keep failing").await;
            }
        }
    }

    /// Takes the backend at `address` out of the ring and routes what waits in its queue to
    /// the others.
    async fn eject(&mut self, address: &str, why: &str) {
        let Some(backend) = self.members.remove(address) else {
            return;
        };
        tracing::warn!(exporter = %self.name, backend = %address, reason = why, "Backend taken out of the ring.");
        let queued = backend.take_queued();
        self.ejected
            .insert(address.to_owned(), (backend, Instant::now()));
        self.rebuild_ring();
        for part in queued {
            Box::pin(self.route(part, false)).await;
        }
    }

    fn rebuild_ring(&mut self) {
        self.ring = Ring::new(self.members.keys().cloned());
        self.counters
            .backends
            .store(self.members.len() as u64, Ordering::Relaxed);
        PipelineStats::add(&self.counters.ring_changes, 1);
    }
}
