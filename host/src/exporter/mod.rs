//! Exporters: batching, retries, and the sinks that send spans out (OTLP gRPC, OTLP HTTP,
//! file, stdout).

mod batcher;
mod file;
mod otlp_grpc;
mod otlp_http;
mod retry;
mod sink;

pub use batcher::{ExportFanout, ExporterHandle, start_exporter};
pub use retry::ExportError;
pub use sink::{Payload, Sink};
