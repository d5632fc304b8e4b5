//! Counters shared by receivers, workers and exporters.

use std::sync::atomic::{AtomicU64, Ordering};

/// Span and batch counters for one running pipeline. Cheap to bump from any thread.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Spans accepted by receivers.
    pub spans_received: AtomicU64,
    /// Spans refused by receivers (invalid, too large, or the queue was full).
    pub spans_refused: AtomicU64,
    /// Requests refused by receivers.
    pub requests_refused: AtomicU64,
    /// Spans dropped by processors' verdicts.
    pub spans_dropped_by_processors: AtomicU64,
    /// Spans dropped because a processor with `on_error = "drop"` failed.
    pub spans_dropped_on_error: AtomicU64,
    /// Spans of batches lost to a caught panic outside any processor (a bug in Weft).
    pub spans_lost_to_panics: AtomicU64,
    /// Spans of requests whose processing panicked on every try, written to the pipeline's
    /// dead-letter file (with a persistent queue).
    pub spans_dead_lettered: AtomicU64,
    /// Processor failures (traps, timeouts, errors, invalid edits).
    pub processor_failures: AtomicU64,
    /// Spans that left the processors for the exporters (once, however many exporters).
    pub spans_to_exporters: AtomicU64,
    /// Spans handed to exporters (counted once per exporter).
    pub spans_exported: AtomicU64,
    /// Spans an exporter gave up on after retries.
    pub spans_export_failed: AtomicU64,
    /// Export attempts that were retried.
    pub export_retries: AtomicU64,
    /// Reloads that swapped in a new chain.
    pub reloads_applied: AtomicU64,
    /// Reloads refused (a plugin or config that failed to load; the old one kept serving).
    pub reloads_refused: AtomicU64,
}

/// A copy of [`PipelineStats`] at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct StatsSnapshot {
    pub spans_received: u64,
    pub spans_refused: u64,
    pub requests_refused: u64,
    pub spans_dropped_by_processors: u64,
    pub spans_dropped_on_error: u64,
    pub spans_lost_to_panics: u64,
    pub spans_dead_lettered: u64,
    pub processor_failures: u64,
    pub spans_to_exporters: u64,
    pub spans_exported: u64,
    pub spans_export_failed: u64,
    pub export_retries: u64,
    pub reloads_applied: u64,
    pub reloads_refused: u64,
}

impl StatsSnapshot {
    /// Accepted spans not yet handed to exporters nor dropped by a processor or its
    /// `on_error`, nor lost to a caught panic: still queued, in a worker, or held by the
    /// tail-sampling stage.
    pub fn spans_in_pipeline(&self) -> u64 {
        self.spans_received.saturating_sub(
            self.spans_to_exporters
                + self.spans_dropped_by_processors
                + self.spans_dropped_on_error
                + self.spans_lost_to_panics
                + self.spans_dead_lettered,
        )
    }
}

impl PipelineStats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            spans_received: get(&self.spans_received),
            spans_refused: get(&self.spans_refused),
            requests_refused: get(&self.requests_refused),
            spans_dropped_by_processors: get(&self.spans_dropped_by_processors),
            spans_dropped_on_error: get(&self.spans_dropped_on_error),
            spans_lost_to_panics: get(&self.spans_lost_to_panics),
            spans_dead_lettered: get(&self.spans_dead_lettered),
            processor_failures: get(&self.processor_failures),
            spans_to_exporters: get(&self.spans_to_exporters),
            spans_exported: get(&self.spans_exported),
            spans_export_failed: get(&self.spans_export_failed),
            export_retries: get(&self.export_retries),
            reloads_applied: get(&self.reloads_applied),
            reloads_refused: get(&self.reloads_refused),
        }
    }
}
