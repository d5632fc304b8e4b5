//! The destinations an exporter sends batches to.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use crate::config::{Compression, ExporterConfig};
use crate::pdata::Traces;

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
                    serde_json::to_writer(&mut buffer, &request.to_request())
                        .map_err(|e| ExportError::permanent(format!("encoding OTLP JSON: {e}")))?;
                    buffer.push(b'\n');
                }
                Ok(Payload::JsonLines(buffer.into()))
            }
        }
    }

    /// Sends an encoded batch once.
    pub async fn send(&self, payload: &Payload) -> Result<(), ExportError> {
        match (self, payload) {
            (Sink::Grpc(sink), Payload::Protobuf(bytes)) => sink.send(bytes.clone()).await,
            (Sink::Http(sink), Payload::Protobuf(bytes)) => sink.send(bytes.clone()).await,
            (Sink::Lines(sink), Payload::JsonLines(bytes)) => sink.write(bytes).await,
            _ => Err(ExportError::permanent("payload encoded for another sink")),
        }
    }
}
