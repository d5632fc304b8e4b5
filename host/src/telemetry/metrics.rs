//! Per-processor, per-exporter and per-receiver metrics (rendered by `render.rs`).
//!
//! Label sets are bounded: processor and exporter names come from the configuration, protocol
//! and error kinds from fixed lists.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::stats::PipelineStats;

/// Why a processor call failed, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The guest trapped (panic, `unreachable`, out-of-bounds).
    Trap,
    /// It ran past its deadline (computing, or waiting in a host call).
    Timeout,
    /// It grew memory past its cap.
    Memory,
    /// `process` returned an error.
    Error,
    /// It returned an edit that does not fit the batch.
    InvalidEdit,
    /// A fresh instance could not be created or initialised.
    Instantiate,
    /// Not called: the processor is quarantined.
    Quarantined,
    /// The host panicked handling the call (a bug in Weft, not the plugin's doing).
    HostPanic,
}

pub(super) const ERROR_KINDS: [(ErrorKind, &str); 8] = [
    (ErrorKind::Trap, "trap"),
    (ErrorKind::Timeout, "timeout"),
    (ErrorKind::Memory, "memory"),
    (ErrorKind::Error, "error"),
    (ErrorKind::InvalidEdit, "invalid_edit"),
    (ErrorKind::Instantiate, "instantiate"),
    (ErrorKind::Quarantined, "quarantined"),
    (ErrorKind::HostPanic, "host_panic"),
];

/// Upper bounds of the processor latency histogram, in seconds.
pub(super) const LATENCY_BUCKETS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
];

/// One processor's counters.
#[derive(Debug, Default)]
pub struct ProcessorMetrics {
    /// Batches handed to the processor.
    pub calls: AtomicU64,
    /// Spans in those batches.
    pub spans_in: AtomicU64,
    /// Spans left after it (not counting batches dropped on error).
    pub spans_out: AtomicU64,
    /// Spans it dropped by verdict.
    pub spans_dropped: AtomicU64,
    /// Spans passed on without it (`on_error = "pass"`: it failed, or was quarantined).
    pub spans_bypassed: AtomicU64,
    /// Edits it returned.
    pub edits: AtomicU64,
    pub(super) errors: [AtomicU64; ERROR_KINDS.len()],
    /// 1 while the processor is quarantined.
    pub quarantined: AtomicU64,
    pub(super) buckets: [AtomicU64; 12],
    pub(super) latency_count: AtomicU64,
    pub(super) latency_sum_ns: AtomicU64,
    /// What its plugin counts itself (`host::counter-add`), kept across reloads.
    pub guest: std::sync::Arc<super::GuestCounters>,
}

impl ProcessorMetrics {
    /// Counts a failure.
    pub fn error(&self, kind: ErrorKind) {
        let index = ERROR_KINDS
            .iter()
            .position(|(k, _)| *k == kind)
            .expect("every kind is listed");
        self.errors[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Failures of one kind so far.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        let index = ERROR_KINDS
            .iter()
            .position(|(k, _)| *k == kind)
            .expect("every kind is listed");
        self.errors[index].load(Ordering::Relaxed)
    }

    /// Records how long one call took.
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(bucket) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }
}

/// One exporter's counters.
#[derive(Debug, Default)]
pub struct ExporterMetrics {
    /// Spans handed to this exporter.
    pub spans_enqueued: AtomicU64,
    /// Spans delivered.
    pub spans_sent: AtomicU64,
    /// Spans given up on after retries.
    pub spans_failed: AtomicU64,
    /// Attempts retried.
    pub retries: AtomicU64,
    /// Export requests that failed in a row (0 after a success).
    pub consecutive_failures: AtomicU64,
    /// Send attempts that failed since the last one that succeeded (retries included): set
    /// while the backend is down, even before any export is given up on.
    pub attempts_failed_since_success: AtomicU64,
    /// Batches waiting in the exporter's queue.
    pub queued: AtomicU64,
    /// Spans not queued for it because its queue was full while its sends failed; they stay
    /// in the persistent queue and are sent after a restart.
    pub spans_deferred: AtomicU64,
    /// Spans written to its dead-letter file after it gave up on them (also counted failed).
    pub spans_dead_lettered: AtomicU64,
    /// A load-balancing exporter's backend: spans it gave up on, handed back to go to
    /// another backend.
    pub spans_rerouted: AtomicU64,
    /// A load-balancing exporter: backends on its ring now.
    pub backends: AtomicU64,
    /// A load-balancing exporter: times its ring changed (a backend joined, left, was taken
    /// out for failing or came back).
    pub ring_changes: AtomicU64,
}

impl ExporterMetrics {
    /// Spans handed to this exporter and neither delivered nor given up on yet.
    pub fn spans_unsent(&self) -> u64 {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        get(&self.spans_enqueued).saturating_sub(
            get(&self.spans_sent) + get(&self.spans_failed) + get(&self.spans_rerouted),
        )
    }
}

/// One counter of [`ReceiverMetrics`], picked out for rendering.
pub(super) type ReceiverCounter = fn(&ReceiverMetrics) -> &AtomicU64;

/// Counters of one receiver protocol.
#[derive(Debug, Default)]
pub struct ReceiverMetrics {
    /// Spans accepted.
    pub spans_accepted: AtomicU64,
    /// Spans refused (malformed, too large, queue full, shutting down).
    pub spans_refused: AtomicU64,
    /// Requests refused for a missing or wrong bearer token, before they were read.
    pub requests_unauthenticated: AtomicU64,
    /// TLS handshakes that failed.
    pub tls_handshakes_failed: AtomicU64,
    /// Connections closed on arrival because the listener was at its connection cap.
    pub connections_over_limit: AtomicU64,
    /// Connections closed because a request's headers did not arrive in time.
    pub header_timeouts: AtomicU64,
}

/// Every metric of a running Weft.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Pipeline-wide counters.
    pub pipeline: PipelineStats,
    /// OTLP/gRPC receiver.
    pub grpc: ReceiverMetrics,
    /// OTLP/HTTP receiver.
    pub http: ReceiverMetrics,
    /// Set once every receiver is listening.
    pub receivers_bound: std::sync::atomic::AtomicBool,
    /// Requests waiting for a worker (updated by the workers).
    pub queued: AtomicU64,
    /// Estimated decoded bytes of the requests admitted and not yet handed to exporters.
    pub memory_bytes: AtomicU64,
    /// The admission ceiling on [`Self::memory_bytes`].
    pub memory_limit_bytes: AtomicU64,
    /// Requests refused because the memory ceiling stayed full.
    pub memory_refusals: AtomicU64,
    /// The tail-sampling stage.
    pub tail: super::TailMetrics,
    /// The persistent queue.
    pub persistence: super::PersistenceMetrics,
    /// Panics caught by the supervisors.
    pub panics: super::Panics,
    /// Operators' live taps on processors (`weft tap`).
    pub taps: crate::tap::TapHub,
    pub(super) processors: Mutex<BTreeMap<String, Arc<ProcessorMetrics>>>,
    pub(super) exporters: Mutex<BTreeMap<String, Arc<ExporterMetrics>>>,
    plugins: Mutex<BTreeMap<String, super::PluginStatus>>,
}

impl Metrics {
    /// The counters of processor `name` (created on first use; kept across reloads).
    pub fn processor(&self, name: &str) -> Arc<ProcessorMetrics> {
        crate::sync::lock(&self.processors)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    /// Every exporter's counters, by name.
    pub fn exporters(&self) -> Vec<(String, Arc<ExporterMetrics>)> {
        crate::sync::lock(&self.exporters)
            .iter()
            .map(|(name, m)| (name.clone(), m.clone()))
            .collect()
    }

    /// The counters of exporter `name`.
    pub fn exporter(&self, name: &str) -> Arc<ExporterMetrics> {
        crate::sync::lock(&self.exporters)
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    pub(super) fn plugins(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<String, super::PluginStatus>> {
        crate::sync::lock(&self.plugins)
    }

    /// Whether any exporter has failed its last three exports in a row.
    pub fn exporter_failing(&self) -> Option<String> {
        crate::sync::lock(&self.exporters)
            .iter()
            .find(|(_, m)| m.consecutive_failures.load(Ordering::Relaxed) >= 3)
            .map(|(name, _)| name.clone())
    }
}
