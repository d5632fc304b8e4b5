//! The destinations an exporter sends batches to.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Compression, ExporterConfig};
use crate::pdata::Traces;

use super::delivery::Delivery;
use super::file::LineWriter;
use super::otlp_grpc::{FRAME_HEADER, GrpcSink};
use super::otlp_http::HttpSink;
use super::retry::ExportError;

/// Where an exporter sends its batches.
pub enum Sink {
    /// OTLP/gRPC.
    Grpc(GrpcSink),
    /// OTLP/HTTP protobuf.
    Http(Box<HttpSink>),
    /// OTLP JSON lines to a file or standard output.
    Lines(LineWriter),
}

/// A batch encoded once, sent as many times as retries need.
pub enum Payload {
    /// Protobuf `ExportTraceServiceRequest` bytes: a gRPC message frame for gRPC, the body
    /// for HTTP (gzip-compressed when configured).
    Protobuf(Bytes),
    /// OTLP JSON, one request per line.
    JsonLines(Bytes),
}

impl Sink {
    /// Builds the sink an exporter config describes.
    pub fn from_config(config: &ExporterConfig, base_dir: &Path) -> anyhow::Result<Self> {
        Ok(match config {
            ExporterConfig::Otlp(c) => Sink::Grpc(GrpcSink::new(c, base_dir)?),
            ExporterConfig::Otlphttp(c) => Sink::Http(Box::new(HttpSink::new(c, base_dir)?)),
            ExporterConfig::File(c) => {
                let path = if c.path.is_absolute() {
                    c.path.clone()
                } else {
                    base_dir.join(&c.path)
                };
                Sink::Lines(LineWriter::file(&path)?)
            }
            ExporterConfig::Stdout(_) => Sink::Lines(LineWriter::stdout()),
            ExporterConfig::Loadbalancing(_) => {
                anyhow::bail!("a load-balancing exporter sends through one sink per backend")
            }
        })
    }

    /// Encodes `batch` for this sink. Several requests encode as one by concatenation, which
    /// protobuf defines as merging their repeated `resource_spans`.
    pub fn encode(&self, batch: &[Arc<Traces>]) -> Result<Payload, ExportError> {
        match self {
            Sink::Grpc(_) | Sink::Http(_) => {
                // Room for the gRPC frame header, so framing does not copy the message.
                let room = if matches!(self, Sink::Grpc(_)) {
                    FRAME_HEADER
                } else {
                    0
                };
                let mut buffer = Vec::with_capacity(
                    room + batch.iter().map(|r| r.stored_bytes()).sum::<usize>(),
                );
                buffer.resize(room, 0);
                for request in batch {
                    request.encode_into(&mut buffer);
                }
                match self {
                    Sink::Grpc(grpc) => Ok(Payload::Protobuf(grpc.frame(buffer))),
                    Sink::Http(http) if http.compression() == Compression::Gzip => {
                        Ok(Payload::Protobuf(crate::codec::gzip(&buffer).into()))
                    }
                    _ => Ok(Payload::Protobuf(buffer.into())),
                }
            }
            Sink::Lines(_) => {
                let mut buffer = Vec::new();
                for request in batch {
                    request.write_json(&mut buffer);
                    buffer.push(b'\n');
                }
                Ok(Payload::JsonLines(buffer.into()))
            }
        }
    }

    /// Sends an encoded batch once; an accepted send says how many spans the backend
    /// rejected all the same.
    pub async fn send(&self, payload: &Payload) -> Result<Delivery, ExportError> {
        match (self, payload) {
            (Sink::Grpc(sink), Payload::Protobuf(bytes)) => sink.send(bytes.clone()).await,
            (Sink::Http(sink), Payload::Protobuf(bytes)) => sink.send(bytes.clone()).await,
            (Sink::Lines(sink), Payload::JsonLines(bytes)) => {
                sink.write(bytes).await.map(|()| Delivery::whole())
            }
            _ => Err(ExportError::permanent("payload encoded for another sink")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request(name: &str) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        name: name.into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn json_lines_hold_one_request_per_batch_that_reads_back() {
        let sink = Sink::Lines(LineWriter::stdout());
        let mut edited = Traces::from_request(&request("before"));
        edited.set_span_name(0, "after");
        let batches = [
            Arc::new(Traces::from_request(&request("one"))),
            Arc::new(edited),
        ];
        let Ok(Payload::JsonLines(bytes)) = sink.encode(&batches) else {
            panic!("a lines sink encodes JSON lines");
        };
        let lines: Vec<ExportTraceServiceRequest> = bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect();
        assert_eq!(lines, [request("one"), request("after")]);
    }
}
