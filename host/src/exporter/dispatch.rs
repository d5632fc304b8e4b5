//! One batch's send: encoded once, retried, then counted — and, with a persistent queue,
//! the records it came from resolved for this exporter, or the batch written to the
//! dead-letter file when the exporter gives up on it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::ticket::Ticket;
use crate::pdata::Traces;
use crate::telemetry::{Component, PipelineStats};

use super::batcher::{Exporter, Queued};
use super::retry::with_retries;

/// Encodes `batch` once and sends it (with retries) on its own task, at most `max_in_flight`
/// at a time.
pub(super) async fn dispatch(exporter: &Arc<Exporter>, batch: Vec<Queued>, spans: usize) {
    let permit = exporter
        .in_flight
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let exporter = exporter.clone();
    let supervisor = exporter.clone();
    let send = tokio::spawn(async move {
        let _permit = permit;
        let (mut requests, tickets): (Vec<Arc<Traces>>, Vec<Option<Ticket>>) =
            batch.into_iter().map(|q| (q.request, q.ticket)).unzip();
        let stats = &exporter.metrics.pipeline;
        let result = match exporter.sink.encode(&requests) {
            Ok(payload) => {
                // Kept only for the dead-letter file or to be routed elsewhere.
                if exporter.ledger.is_none() && exporter.reroute.is_none() {
                    requests = Vec::new();
                }
                with_retries(&exporter.retry, || exporter.sink.send(&payload), |error| {
                    PipelineStats::add(&stats.export_retries, 1);
                    PipelineStats::add(&exporter.counters.retries, 1);
                    PipelineStats::add(&exporter.counters.attempts_failed_since_success, 1);
                    tracing::debug!(exporter = %exporter.name, error = %error, "Export failed; retrying.");
                })
                .await
            }
            Err(error) => Err(error),
        };
        match result {
            Ok(delivery) => {
                let (delivered, rejected) = delivery.split(spans as u64);
                PipelineStats::add(&stats.spans_exported, delivered);
                PipelineStats::add(&exporter.counters.spans_sent, delivered);
                if rejected > 0 {
                    // The backend took the request but not these spans: not delivered.
                    PipelineStats::add(&stats.spans_export_failed, rejected);
                    PipelineStats::add(&exporter.counters.spans_failed, rejected);
                    tracing::warn!(exporter = %exporter.name, rejected, spans, reason = %delivery.message, "The backend rejected part of an export (partial success); those spans are counted as failed.");
                }
                for counter in [
                    &exporter.counters.consecutive_failures,
                    &exporter.counters.attempts_failed_since_success,
                ] {
                    counter.store(0, Ordering::Relaxed);
                }
                tickets.into_iter().flatten().for_each(Ticket::resolve);
            }
            Err(error) if exporter.reroute.is_some() => {
                // A load-balancing exporter's backend: the batch goes back to be routed to
                // the ring as it is now (the backend has likely left it).
                PipelineStats::add(&exporter.counters.spans_rerouted, spans as u64);
                PipelineStats::add(&exporter.counters.consecutive_failures, 1);
                tracing::warn!(exporter = %exporter.name, error = %error, spans, "Backend failed; its spans go to the other backends.");
                let reroute = exporter.reroute.as_ref().expect("matched");
                for (request, ticket) in requests.into_iter().zip(tickets) {
                    let _ = reroute.try_send(Queued { request, ticket });
                }
            }
            Err(error) => {
                PipelineStats::add(&stats.spans_export_failed, spans as u64);
                PipelineStats::add(&exporter.counters.spans_failed, spans as u64);
                PipelineStats::add(&exporter.counters.consecutive_failures, 1);
                PipelineStats::add(&exporter.counters.attempts_failed_since_success, 1);
                match &exporter.ledger {
                    None => {
                        tracing::error!(exporter = %exporter.name, error = %error, spans, "Export failed; spans lost.")
                    }
                    Some(ledger) => {
                        let mut lines = Vec::new();
                        for request in &requests {
                            request.write_json(&mut lines);
                            lines.push(b'\n');
                        }
                        match ledger.dead_letter(&exporter.name, &lines) {
                            Ok(path) => {
                                PipelineStats::add(
                                    &exporter.counters.spans_dead_lettered,
                                    spans as u64,
                                );
                                tracing::error!(exporter = %exporter.name, error = %error, spans, file = %path.display(), "Export failed for good; spans written to the dead-letter file.");
                                tickets.into_iter().flatten().for_each(Ticket::resolve);
                            }
                            Err(write) => {
                                // Left unfinished: sent again after a restart.
                                tracing::error!(exporter = %exporter.name, error = %error, spans, dead_letter_error = %write, "Export failed for good and the dead-letter file could not be written; the spans stay in the persistent queue until a restart.");
                            }
                        }
                    }
                }
            }
        }
    });
    // A send that panicked is counted, and its spans as failed, like a send that gave up.
    tokio::spawn(async move {
        if let Err(error) = send.await
            && error.is_panic()
        {
            let exporter = supervisor;
            exporter
                .metrics
                .panics
                .record(Component::Exporter, error.into_panic().as_ref());
            PipelineStats::add(&exporter.metrics.pipeline.spans_export_failed, spans as u64);
            PipelineStats::add(&exporter.counters.spans_failed, spans as u64);
        }
    });
}
