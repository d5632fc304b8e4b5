//! Exporters: batching, retries, and the sinks that send spans out (OTLP gRPC, OTLP HTTP,
//! file, stdout).

mod batcher;
mod delivery;
mod dispatch;
mod file;
mod loadbalancing;
mod otlp_grpc;
mod otlp_http;
mod retry;
mod sink;
mod ticket;

pub use batcher::{ExportFanout, ExporterHandle, GiveUp, Queued, start_exporter};
pub use loadbalancing::start_loadbalancer;

/// Warns, once per exporter start, that an exporter accepts any certificate.
fn tls_warning(config: &crate::config::OtlpExporterConfig) {
    if config
        .tls
        .as_ref()
        .is_some_and(|tls| tls.insecure_skip_verify)
    {
        tracing::warn!(
            endpoint = %config.endpoint,
            "TLS verification is off for this exporter (tls.insecure_skip_verify): anyone on \
             the path can read and alter what it sends."
        );
    }
}
pub use delivery::Delivery;
pub use retry::ExportError;
pub use sink::{Payload, Sink};
