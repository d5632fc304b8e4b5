//! Per-processor, per-exporter and per-receiver metrics, and their Prometheus text rendering.
//!
//! Label sets are bounded: processor and exporter names come from the configuration, protocol
//! and error kinds from fixed lists.

use std::collections::BTreeMap;
use std::fmt::Write;
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

const ERROR_KINDS: [(ErrorKind, &str); 8] = [
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
const LATENCY_BUCKETS: [f64; 12] = [
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
    errors: [AtomicU64; ERROR_KINDS.len()],
    /// 1 while the processor is quarantined.
    pub quarantined: AtomicU64,
    buckets: [AtomicU64; 12],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
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
    /// Batches waiting in the exporter's queue.
    pub queued: AtomicU64,
}

impl ExporterMetrics {
    /// Spans handed to this exporter and neither delivered nor given up on yet.
    pub fn spans_unsent(&self) -> u64 {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        get(&self.spans_enqueued).saturating_sub(get(&self.spans_sent) + get(&self.spans_failed))
    }
}

/// One counter of [`ReceiverMetrics`], picked out for rendering.
type ReceiverCounter = fn(&ReceiverMetrics) -> &AtomicU64;

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
    /// Panics caught by the supervisors.
    pub panics: super::Panics,
    /// Operators' live taps on processors (`weft tap`).
    pub taps: crate::tap::TapHub,
    processors: Mutex<BTreeMap<String, Arc<ProcessorMetrics>>>,
    exporters: Mutex<BTreeMap<String, Arc<ExporterMetrics>>>,
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

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let queued = self.queued.load(Ordering::Relaxed);
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let p = self.pipeline.snapshot();
        family(&mut out, "weft_build_info", "gauge", "Build information.");
        let _ = writeln!(
            out,
            "weft_build_info{{version=\"{}\",wasmtime=\"48.0.8\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        let receiver_counters: [(&str, &str, ReceiverCounter); 4] = [
            (
                "weft_receiver_spans_accepted_total",
                "Spans accepted by receivers.",
                |r| &r.spans_accepted,
            ),
            (
                "weft_receiver_spans_refused_total",
                "Spans refused by receivers.",
                |r| &r.spans_refused,
            ),
            (
                "weft_receiver_requests_unauthenticated_total",
                "Requests refused by receivers for a missing or wrong bearer token.",
                |r| &r.requests_unauthenticated,
            ),
            (
                "weft_receiver_tls_handshakes_failed_total",
                "TLS handshakes receivers refused or that did not finish.",
                |r| &r.tls_handshakes_failed,
            ),
        ];
        for (name, help, counter) in receiver_counters {
            family(&mut out, name, "counter", help);
            for (protocol, r) in [("grpc", &self.grpc), ("http", &self.http)] {
                let _ = writeln!(out, "{name}{{protocol=\"{protocol}\"}} {}", get(counter(r)));
            }
        }
        family(
            &mut out,
            "weft_receiver_connections_refused_total",
            "counter",
            "Connections receivers closed before a request: over the connection cap, or \
             headers not sent in time.",
        );
        for (protocol, r) in [("grpc", &self.grpc), ("http", &self.http)] {
            for (reason, counter) in [
                ("connection_limit", &r.connections_over_limit),
                ("header_timeout", &r.header_timeouts),
            ] {
                let _ = writeln!(
                    out,
                    "weft_receiver_connections_refused_total{{protocol=\"{protocol}\",reason=\"{reason}\"}} {}",
                    get(counter)
                );
            }
        }
        family(
            &mut out,
            "weft_pipeline_queue_batches",
            "gauge",
            "Requests waiting for a worker.",
        );
        let _ = writeln!(out, "weft_pipeline_queue_batches {queued}");
        for (name, kind, help, value) in [
            (
                "weft_pipeline_memory_bytes",
                "gauge",
                "Estimated decoded bytes of requests admitted and not yet handed to exporters.",
                &self.memory_bytes,
            ),
            (
                "weft_pipeline_memory_limit_bytes",
                "gauge",
                "The admission ceiling on weft_pipeline_memory_bytes.",
                &self.memory_limit_bytes,
            ),
            (
                "weft_pipeline_memory_refusals_total",
                "counter",
                "Requests refused because the memory ceiling stayed full.",
                &self.memory_refusals,
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {}", get(value));
        }
        family(
            &mut out,
            "weft_pipeline_spans_dropped_on_error_total",
            "counter",
            "Spans dropped because a processor with on_error = drop failed.",
        );
        let _ = writeln!(
            out,
            "weft_pipeline_spans_dropped_on_error_total {}",
            p.spans_dropped_on_error
        );
        family(
            &mut out,
            "weft_pipeline_spans_lost_to_panics_total",
            "counter",
            "Spans of batches a caught panic (a bug in Weft) left with no processor to follow.",
        );
        let _ = writeln!(
            out,
            "weft_pipeline_spans_lost_to_panics_total {}",
            p.spans_lost_to_panics
        );

        let processors = crate::sync::lock(&self.processors);
        let per_processor = |out: &mut String,
                             name: &str,
                             kind: &str,
                             help: &str,
                             value: &dyn Fn(&ProcessorMetrics) -> u64| {
            family(out, name, kind, help);
            for (processor, m) in processors.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{processor=\"{}\"}} {}",
                    escape(processor),
                    value(m)
                );
            }
        };
        per_processor(
            &mut out,
            "weft_processor_calls_total",
            "counter",
            "Batches handed to the processor.",
            &|m| get(&m.calls),
        );
        per_processor(
            &mut out,
            "weft_processor_spans_in_total",
            "counter",
            "Spans handed to the processor.",
            &|m| get(&m.spans_in),
        );
        per_processor(
            &mut out,
            "weft_processor_spans_out_total",
            "counter",
            "Spans passed on by the processor.",
            &|m| get(&m.spans_out),
        );
        per_processor(
            &mut out,
            "weft_processor_spans_dropped_total",
            "counter",
            "Spans the processor dropped by verdict.",
            &|m| get(&m.spans_dropped),
        );
        per_processor(
            &mut out,
            "weft_processor_bypassed_spans_total",
            "counter",
            "Spans passed on without the processor (on_error = pass, while it failed or was quarantined).",
            &|m| get(&m.spans_bypassed),
        );
        per_processor(
            &mut out,
            "weft_processor_quarantined",
            "gauge",
            "1 while the processor is quarantined after repeated failures.",
            &|m| get(&m.quarantined),
        );
        per_processor(
            &mut out,
            "weft_processor_edits_total",
            "counter",
            "Edits the processor returned.",
            &|m| get(&m.edits),
        );
        family(
            &mut out,
            "weft_processor_errors_total",
            "counter",
            "Processor failures by kind.",
        );
        for (processor, m) in processors.iter() {
            for (i, (_, kind)) in ERROR_KINDS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "weft_processor_errors_total{{processor=\"{}\",kind=\"{kind}\"}} {}",
                    escape(processor),
                    get(&m.errors[i])
                );
            }
        }
        family(
            &mut out,
            "weft_processor_duration_seconds",
            "histogram",
            "Time per processor call (view, guest, edits).",
        );
        for (processor, m) in processors.iter() {
            let name = escape(processor);
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += get(&m.buckets[i]);
                let _ = writeln!(
                    out,
                    "weft_processor_duration_seconds_bucket{{processor=\"{name}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let count = get(&m.latency_count);
            let _ = writeln!(
                out,
                "weft_processor_duration_seconds_bucket{{processor=\"{name}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "weft_processor_duration_seconds_sum{{processor=\"{name}\"}} {}",
                get(&m.latency_sum_ns) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "weft_processor_duration_seconds_count{{processor=\"{name}\"}} {count}"
            );
        }
        super::guest::render(
            &mut out,
            processors.iter().map(|(name, m)| (name, m.guest.as_ref())),
        );
        drop(processors);

        let exporters = crate::sync::lock(&self.exporters);
        for (name, kind, help, value) in [
            (
                "weft_exporter_spans_sent_total",
                "counter",
                "Spans delivered by the exporter.",
                &(|m: &ExporterMetrics| get(&m.spans_sent)) as &dyn Fn(&ExporterMetrics) -> u64,
            ),
            (
                "weft_exporter_spans_failed_total",
                "counter",
                "Spans the exporter gave up on.",
                &|m: &ExporterMetrics| get(&m.spans_failed),
            ),
            (
                "weft_exporter_retries_total",
                "counter",
                "Export attempts retried.",
                &|m: &ExporterMetrics| get(&m.retries),
            ),
            (
                "weft_exporter_queue_batches",
                "gauge",
                "Batches waiting in the exporter's queue.",
                &|m: &ExporterMetrics| get(&m.queued),
            ),
        ] {
            family(&mut out, name, kind, help);
            for (exporter, m) in exporters.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{exporter=\"{}\"}} {}",
                    escape(exporter),
                    value(m)
                );
            }
        }
        drop(exporters);

        family(
            &mut out,
            "weft_reloads_total",
            "counter",
            "Reloads by outcome.",
        );
        let _ = writeln!(
            out,
            "weft_reloads_total{{outcome=\"applied\"}} {}",
            p.reloads_applied
        );
        let _ = writeln!(
            out,
            "weft_reloads_total{{outcome=\"refused\"}} {}",
            p.reloads_refused
        );
        self.tail.render(&mut out);
        self.panics.render(&mut out);
        out
    }
}

pub(super) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value for the text format.
pub(super) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        let redact = metrics.processor("redact");
        redact.calls.fetch_add(2, Ordering::Relaxed);
        redact.error(ErrorKind::Timeout);
        redact.observe(Duration::from_micros(80));
        redact.observe(Duration::from_millis(3));
        metrics
            .exporter("sink")
            .spans_sent
            .fetch_add(7, Ordering::Relaxed);
        let text = metrics.render();
        assert!(
            text.contains("weft_processor_calls_total{processor=\"redact\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("weft_processor_errors_total{processor=\"redact\",kind=\"timeout\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "weft_processor_duration_seconds_bucket{processor=\"redact\",le=\"0.0001\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "weft_processor_duration_seconds_bucket{processor=\"redact\",le=\"0.005\"} 2\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("weft_processor_duration_seconds_count{processor=\"redact\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("weft_exporter_spans_sent_total{exporter=\"sink\"} 7\n"),
            "{text}"
        );
    }
}
