//! Metrics of the persistent queue (rendered only when one is configured).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::exposition::{escape, family};
use crate::durable::log::SYNC_BUCKETS;

/// What the persistent queue reports; the gauges are refreshed at each checkpoint.
#[derive(Debug, Default)]
pub struct PersistenceMetrics {
    /// Set when a persistent queue is configured.
    pub enabled: AtomicBool,
    /// Bytes of the log's files.
    pub disk_bytes: AtomicU64,
    /// Records in the log's files.
    pub records: AtomicU64,
    /// Records read back at start and sent through the pipeline again.
    pub replayed_records: AtomicU64,
    /// Spans in them: sent again, so duplicates wherever they had been sent before the stop.
    pub replayed_spans: AtomicU64,
    /// Records an exporter dropped unsent while it failed, sent through the pipeline again
    /// to it once it recovered.
    pub redriven_records: AtomicU64,
    /// Bytes cut off a torn last record at start.
    pub torn_bytes: AtomicU64,
    /// Damaged records skipped at start, and records lost after damage.
    pub corrupt_records: AtomicU64,
    /// Requests refused because the disk cap was reached.
    pub refusals_full: AtomicU64,
    /// `fdatasync` calls by duration (not cumulative), their count and total seconds.
    pub sync_buckets: [AtomicU64; SYNC_BUCKETS.len()],
    /// `fdatasync` calls.
    pub syncs: AtomicU64,
    /// Their total time, in nanoseconds.
    pub sync_nanos: AtomicU64,
    /// Per exporter, how long its oldest unsent record has waited, in seconds.
    pub oldest_unsent: Mutex<BTreeMap<String, f64>>,
}

impl PersistenceMetrics {
    /// Renders the persistent queue's metrics, if it is on.
    pub fn render(&self, out: &mut String) {
        if !self.enabled.load(Ordering::Relaxed) {
            return;
        }
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "weft_persistence_disk_bytes",
                "gauge",
                "Bytes of the persistent queue's files.",
                &self.disk_bytes,
            ),
            (
                "weft_persistence_records",
                "gauge",
                "Records in the persistent queue's files.",
                &self.records,
            ),
            (
                "weft_persistence_replayed_records_total",
                "counter",
                "Records read back at start and sent through the pipeline again.",
                &self.replayed_records,
            ),
            (
                "weft_persistence_replayed_spans_total",
                "counter",
                "Spans replayed at start: duplicates wherever they had been sent before the stop.",
                &self.replayed_spans,
            ),
            (
                "weft_persistence_redriven_records_total",
                "counter",
                "Records an exporter dropped unsent while failing, sent to it again once it recovered.",
                &self.redriven_records,
            ),
            (
                "weft_persistence_torn_bytes_total",
                "counter",
                "Bytes of a torn last record cut off at start.",
                &self.torn_bytes,
            ),
            (
                "weft_persistence_corrupt_records_total",
                "counter",
                "Damaged records skipped at start, and records lost after damage.",
                &self.corrupt_records,
            ),
            (
                "weft_persistence_refusals_total",
                "counter",
                "Requests refused because the persistent queue's disk cap was reached.",
                &self.refusals_full,
            ),
        ] {
            family(out, name, kind, help);
            let _ = writeln!(out, "{name} {}", get(value));
        }
        let name = "weft_persistence_fsync_seconds";
        family(
            out,
            name,
            "histogram",
            "How long each fdatasync of the persistent queue took.",
        );
        let mut cumulative = 0;
        for (bound, count) in SYNC_BUCKETS.iter().zip(&self.sync_buckets) {
            cumulative += get(count);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let syncs = get(&self.syncs);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {syncs}");
        let seconds = get(&self.sync_nanos) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {seconds}");
        let _ = writeln!(out, "{name}_count {syncs}");
        let name = "weft_persistence_oldest_unsent_seconds";
        family(
            out,
            name,
            "gauge",
            "Per exporter, how long its oldest record not yet sent has waited (0: none).",
        );
        for (exporter, age) in crate::sync::lock(&self.oldest_unsent).iter() {
            let _ = writeln!(out, "{name}{{exporter=\"{}\"}} {age}", escape(exporter));
        }
    }
}
