//! OTLP/gRPC receiver (tonic).
//!
//! The `TraceService/Export` method is served by hand rather than by the generated server so
//! that it receives the request's bytes: their decoded footprint is reserved from the memory
//! budget before prost decodes them (an empty span is two bytes on the wire and hundreds
//! decoded), and malformed protobuf is answered `INVALID_ARGUMENT` with prost's reason.
//!
//! A gzip-compressed request is inflated here, not by tonic: tonic's gzip stops at a message's
//! first gzip member and drops the rest unseen, which would acknowledge a request of several
//! concatenated members while losing its later spans.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full, Limited};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::body::Body;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::codegen::{Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Status};

use crate::auth::TokenGate;
use crate::codec::{GunzipError, gunzip};
use crate::config::ListenerLimits;
use crate::ingest::{Format, Ingest, IngestError};
use crate::pipeline::{Protocol, Refusal, Submitter};
use crate::tls::{Accepted, ConnInfo};

/// The OTLP trace service's gRPC name.
const SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
/// The path of its one method.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The header naming a request's message compression.
const GRPC_ENCODING: &str = "grpc-encoding";
/// A gRPC message frame's header: a compressed flag and a big-endian 4-byte length.
const FRAME_HEADER: usize = 5;

#[derive(Clone)]
struct GrpcReceiver {
    ingest: Ingest,
    max_request_bytes: usize,
    /// The bearer tokens requests must carry, checked before the body is read.
    auth: Arc<TokenGate>,
}

impl GrpcReceiver {
    async fn export(
        &self,
        bytes: Bytes,
        client_subject: Option<Arc<str>>,
    ) -> Result<ExportTraceServiceResponse, Status> {
        self.ingest
            .accept(bytes, Format::Protobuf, client_subject.as_deref())
            .await
            .map_err(|error| match error {
                IngestError::Refused(refusal) => refused(refusal),
                invalid => Status::invalid_argument(invalid.to_string()),
            })?;
        Ok(ExportTraceServiceResponse {
            partial_success: None,
        })
    }
}

/// The status for a request the pipeline refused.
fn refused(refusal: Refusal) -> Status {
    match refusal {
        // OTLP: RESOURCE_EXHAUSTED is retryable only with RetryInfo; UNAVAILABLE always is.
        Refusal::Busy | Refusal::ShuttingDown | Refusal::DiskFull | Refusal::StorageFailed => {
            Status::unavailable(refusal.to_string())
        }
        // Not retryable: the same request would be refused again.
        Refusal::TooLarge { .. } => Status::resource_exhausted(refusal.to_string()),
    }
}

/// One `Export` call.
struct ExportCall(GrpcReceiver);

impl UnaryService<Bytes> for ExportCall {
    type Response = ExportTraceServiceResponse;
    type Future =
        Pin<Box<dyn Future<Output = Result<tonic::Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let receiver = self.0.clone();
        let subject = request
            .extensions()
            .get::<ConnInfo>()
            .and_then(|info| info.client_subject.clone());
        Box::pin(async move {
            receiver
                .export(request.into_inner(), subject)
                .await
                .map(tonic::Response::new)
        })
    }
}

impl<B> Service<http::Request<B>> for GrpcReceiver
where
    B: tonic::codegen::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let authorization = request.headers().get(http::header::AUTHORIZATION);
        if let Err(refusal) = self.auth.check(authorization.map(|v| v.as_bytes())) {
            self.ingest
                .submitter()
                .count_unauthenticated(Protocol::Grpc);
            tracing::debug!(reason = %refusal, "Refused an OTLP/gRPC request.");
            return Box::pin(async move {
                Ok(Status::new(Code::Unauthenticated, refusal.to_string()).into_http())
            });
        }
        if request.uri().path() != EXPORT {
            return Box::pin(async {
                Ok(
                    Status::new(Code::Unimplemented, "only TraceService/Export is served")
                        .into_http(),
                )
            });
        }
        let receiver = self.clone();
        Box::pin(async move {
            let mut accept = EnabledCompressionEncodings::default();
            accept.enable(CompressionEncoding::Gzip);
            let mut grpc = Grpc::new(RequestBytesCodec)
                .apply_compression_config(accept, accept)
                .apply_max_message_size_config(Some(receiver.max_request_bytes), None);
            if !is_gzip(&request) {
                return Ok(grpc.unary(ExportCall(receiver), request).await);
            }
            match inflate(request, receiver.max_request_bytes).await {
                Ok(request) => Ok(grpc.unary(ExportCall(receiver), request).await),
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}

/// Whether `request`'s messages are gzip-compressed.
fn is_gzip<B>(request: &http::Request<B>) -> bool {
    request
        .headers()
        .get(GRPC_ENCODING)
        .is_some_and(|encoding| encoding.as_bytes() == b"gzip")
}

/// Why a gzip-compressed request could not be inflated.
#[derive(Debug, thiserror::Error)]
enum InflateError {
    /// The body could not be read.
    #[error("reading the request body: {0}")]
    Body(StdError),
    /// The body exceeds the request limit.
    #[error("request message exceeds the {0}-byte limit")]
    TooLarge(usize),
    /// The body is not a sequence of whole gRPC message frames.
    #[error("protocol error: truncated message frame or invalid compressed flag")]
    Framing,
    /// A compressed message is not valid gzip, or inflates past the limit.
    #[error("decompressing the request message: {0}")]
    Gunzip(#[from] GunzipError),
}

impl From<InflateError> for Status {
    fn from(error: InflateError) -> Self {
        let message = error.to_string();
        match error {
            InflateError::TooLarge(_) | InflateError::Gunzip(GunzipError::TooLarge { .. }) => {
                Status::resource_exhausted(message)
            }
            InflateError::Gunzip(GunzipError::Invalid(_)) => Status::invalid_argument(message),
            InflateError::Body(_) | InflateError::Framing => Status::internal(message),
        }
    }
}

/// `request` with its gzip-compressed messages inflated (every gzip member of each, at most
/// `limit` bytes a message) and sent uncompressed, for tonic to read as they are.
async fn inflate<B>(
    request: http::Request<B>,
    limit: usize,
) -> Result<http::Request<Full<Bytes>>, InflateError>
where
    B: tonic::codegen::Body,
    B::Error: Into<StdError>,
{
    let (mut parts, body) = request.into_parts();
    let raw = Limited::new(body, limit.saturating_add(FRAME_HEADER))
        .collect()
        .await
        .map_err(|e| match e.downcast::<http_body_util::LengthLimitError>() {
            Ok(_) => InflateError::TooLarge(limit),
            Err(e) => InflateError::Body(e),
        })?
        .to_bytes();
    let frames = inflate_frames(&raw, limit)?;
    parts.headers.remove(GRPC_ENCODING);
    Ok(http::Request::from_parts(parts, Full::new(frames)))
}

/// The gRPC message frames of `raw` with every compressed message inflated, within `limit`
/// bytes of messages in all: many small frames that each inflate to the limit are refused
/// as one too-large request, not held.
fn inflate_frames(mut raw: &[u8], limit: usize) -> Result<Bytes, InflateError> {
    let mut out = BytesMut::with_capacity(raw.len());
    let mut total = 0usize;
    while !raw.is_empty() {
        let (header, rest) = raw
            .split_at_checked(FRAME_HEADER)
            .ok_or(InflateError::Framing)?;
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        let (message, rest) = rest
            .split_at_checked(len as usize)
            .ok_or(InflateError::Framing)?;
        let inflated;
        let message = match header[0] {
            0 => message,
            1 => {
                inflated = gunzip(message, limit - total)?;
                &inflated
            }
            _ => return Err(InflateError::Framing),
        };
        total += message.len();
        if total > limit {
            return Err(InflateError::TooLarge(limit));
        }
        let len = u32::try_from(message.len()).map_err(|_| InflateError::TooLarge(limit))?;
        out.put_u8(0);
        out.put_u32(len);
        out.put_slice(message);
        raw = rest;
    }
    Ok(out.freeze())
}

impl NamedService for GrpcReceiver {
    const NAME: &'static str = SERVICE;
}

/// Decodes a request to its protobuf bytes (decoding proper happens after admission) and
/// encodes the response with prost.
#[derive(Clone, Copy)]
struct RequestBytesCodec;

impl Codec for RequestBytesCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = ResponseEncoder;
    type Decoder = BytesDecoder;

    fn encoder(&mut self) -> ResponseEncoder {
        ResponseEncoder
    }

    fn decoder(&mut self) -> BytesDecoder {
        BytesDecoder
    }
}

struct ResponseEncoder;

impl Encoder for ResponseEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the export response: {e}")))
    }
}

struct BytesDecoder;

impl Decoder for BytesDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, then finishes in-flight calls.
pub async fn serve_grpc(
    listener: Accepted,
    submitter: Submitter,
    max_request_bytes: usize,
    auth: Arc<TokenGate>,
    (limits, subject_attribute): (ListenerLimits, Option<Arc<str>>),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let service = GrpcReceiver {
        ingest: Ingest::new(submitter, Protocol::Grpc, subject_attribute),
        max_request_bytes,
        auth,
    };
    let keepalive = (limits.keepalive_ms > 0).then(|| Duration::from_millis(limits.keepalive_ms));
    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .http2_keepalive_interval(keepalive)
        .http2_keepalive_timeout(keepalive)
        .timeout(Duration::from_millis(limits.request_timeout_ms))
        .add_service(service)
        .serve_with_incoming_shutdown(listener.into_stream(), shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::gzip;

    fn frame(compressed: bool, message: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::from(compressed)];
        out.extend((message.len() as u32).to_be_bytes());
        out.extend(message);
        out
    }

    #[test]
    fn every_gzip_member_of_a_message_is_inflated() {
        let members = [gzip(b"first half, "), gzip(b"second half")].concat();
        let inflated = inflate_frames(&frame(true, &members), 1000).unwrap();
        assert_eq!(inflated, frame(false, b"first half, second half"));
        let plain = frame(false, b"as it is");
        assert_eq!(inflate_frames(&plain, 1000).unwrap(), plain);
    }

    #[test]
    fn garbage_truncation_and_excess_are_refused() {
        let garbage = [gzip(b"a member"), b"garbage".to_vec()].concat();
        assert!(matches!(
            inflate_frames(&frame(true, &garbage), 1000),
            Err(InflateError::Gunzip(GunzipError::Invalid(_)))
        ));
        let whole = frame(true, &gzip(b"a member"));
        assert!(matches!(
            inflate_frames(&whole[..whole.len() - 1], 1000),
            Err(InflateError::Framing)
        ));
        assert!(matches!(
            inflate_frames(&frame(true, &gzip(&[0; 2000])), 1000),
            Err(InflateError::Gunzip(GunzipError::TooLarge { .. }))
        ));
    }

    #[test]
    fn many_frames_share_one_limit() {
        // Each frame inflates to 600 bytes, under the 1,000-byte limit on its own: the second
        // takes the request past it.
        let bomb = frame(true, &gzip(&[0; 600]));
        let two = [bomb.clone(), bomb.clone()].concat();
        assert!(inflate_frames(&bomb, 1000).is_ok());
        assert!(matches!(
            inflate_frames(&two, 1000),
            Err(InflateError::Gunzip(GunzipError::TooLarge { .. }) | InflateError::TooLarge(_))
        ));
        let plain = [frame(false, &[1; 600]), frame(false, &[2; 600])].concat();
        assert!(matches!(
            inflate_frames(&plain, 1000),
            Err(InflateError::TooLarge(_))
        ));
    }

    #[tokio::test]
    async fn a_gzip_request_goes_on_uncompressed() {
        let body = frame(true, &[gzip(b"one"), gzip(b"two")].concat());
        let request = http::Request::builder()
            .header(GRPC_ENCODING, "gzip")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        assert!(is_gzip(&request));
        let inflated = inflate(request, 1000).await.unwrap();
        assert!(!is_gzip(&inflated));
        let body = inflated.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, frame(false, b"onetwo"));
    }
}
