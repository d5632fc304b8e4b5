//! OTLP/gRPC export. Batches are encoded once and sent as raw protobuf bytes, so retries and
//! fan-out never re-encode or clone a batch.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::uri::PathAndQuery;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::config::{Compression, OtlpExporterConfig};

use super::retry::ExportError;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Sends batches to an OTLP/gRPC endpoint.
pub struct GrpcSink {
    channel: Channel,
    compression: Compression,
    timeout: Duration,
    headers: MetadataMap,
    endpoint: String,
}

impl GrpcSink {
    /// Connects lazily to the configured endpoint.
    pub fn new(config: &OtlpExporterConfig) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let channel = Endpoint::from_shared(config.endpoint.clone())?
            .timeout(timeout)
            .connect_timeout(timeout)
            .connect_lazy();
        let mut headers = MetadataMap::new();
        for (key, value) in &config.headers {
            let key = MetadataKey::from_bytes(key.to_ascii_lowercase().as_bytes())?;
            headers.insert(key, MetadataValue::try_from(value.as_str())?);
        }
        Ok(GrpcSink {
            channel,
            compression: config.compression,
            timeout,
            headers,
            endpoint: config.endpoint.clone(),
        })
    }

    /// Sends one encoded `ExportTraceServiceRequest`.
    pub async fn send(&self, payload: Bytes) -> Result<(), ExportError> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        if self.compression == Compression::Gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        grpc.ready()
            .await
            .map_err(|e| ExportError::retryable(format!("connecting to {}: {e}", self.endpoint)))?;
        let mut request = tonic::Request::new(payload);
        request.set_timeout(self.timeout);
        *request.metadata_mut() = self.headers.clone();
        match grpc
            .unary(request, PathAndQuery::from_static(EXPORT_PATH), RawCodec)
            .await
        {
            Ok(response) => {
                let rejected = response
                    .get_ref()
                    .partial_success
                    .as_ref()
                    .map(|p| p.rejected_spans)
                    .unwrap_or(0);
                if rejected > 0 {
                    tracing::warn!(endpoint = %self.endpoint, rejected, "Export partially rejected by the receiver.");
                }
                Ok(())
            }
            Err(status) => Err(status_error(&self.endpoint, &status)),
        }
    }
}

/// Maps a gRPC status to retryable or not, as the OTLP specification lists.
fn status_error(endpoint: &str, status: &Status) -> ExportError {
    let retryable = matches!(
        status.code(),
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
            | Code::ResourceExhausted
    );
    let message = format!(
        "{endpoint} answered {:?}: {}",
        status.code(),
        status.message()
    );
    ExportError {
        retryable,
        retry_after: None,
        message,
    }
}

/// A codec whose requests are already-encoded protobuf bytes.
#[derive(Clone, Copy)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ResponseDecoder
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

struct ResponseDecoder;

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        ExportTraceServiceResponse::decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("decoding the export response: {e}")))
    }
}
