//! Every metric rendered in the Prometheus text exposition format (`GET /metrics`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use super::exposition::{escape, family};
use super::metrics::{
    ERROR_KINDS, ExporterMetrics, LATENCY_BUCKETS, Metrics, ProcessorMetrics, ReceiverCounter,
};

impl Metrics {
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
                "Spans the exporter gave up on, and spans the backend rejected in a partial success.",
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
            (
                "weft_exporter_spans_deferred_total",
                "counter",
                "Spans not queued for the exporter because its queue was full while its sends \
                 failed: kept in the persistent queue and sent once it recovers.",
                &|m: &ExporterMetrics| get(&m.spans_deferred),
            ),
            (
                "weft_exporter_spans_rerouted_total",
                "counter",
                "Spans a load-balancing exporter's backend gave up on, handed back to go to another backend.",
                &|m: &ExporterMetrics| get(&m.spans_rerouted),
            ),
            (
                "weft_exporter_backends",
                "gauge",
                "Backends on a load-balancing exporter's ring.",
                &|m: &ExporterMetrics| get(&m.backends),
            ),
            (
                "weft_exporter_ring_changes_total",
                "counter",
                "Times a load-balancing exporter's ring changed (a backend joined, left, was taken out or came back).",
                &|m: &ExporterMetrics| get(&m.ring_changes),
            ),
            (
                "weft_exporter_spans_dead_lettered_total",
                "counter",
                "Spans the exporter gave up on that went to its dead-letter file.",
                &|m: &ExporterMetrics| get(&m.spans_dead_lettered),
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
        family(
            &mut out,
            "weft_pipeline_spans_dead_lettered_total",
            "counter",
            "Spans of requests whose processing panicked on every try, written to the dead-letter file.",
        );
        let _ = writeln!(
            out,
            "weft_pipeline_spans_dead_lettered_total {}",
            p.spans_dead_lettered
        );
        self.persistence.render(&mut out);
        self.tail.render(&mut out);
        self.panics.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::ErrorKind;
    use std::time::Duration;

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
