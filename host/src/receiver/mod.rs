//! Receivers: where spans enter Weft. OTLP over gRPC and over HTTP (protobuf and JSON).
//!
//! Receivers take listeners that are already bound, so tests can bind port 0 and read the
//! address back.

mod grpc;
mod http;

pub use grpc::serve_grpc;
pub use http::serve_http;
