//! OTLP/gRPC receiver (tonic).
//!
//! The `TraceService/Export` method is served by hand rather than by the generated server so
//! that it receives the request's bytes: their decoded footprint is reserved from the memory
//! budget before prost decodes them (an empty span is two bytes on the wire and hundreds
//! decoded), and malformed protobuf is answered `INVALID_ARGUMENT` with prost's reason.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EnabledCompressionEncodings, EncodeBuf, Encoder,
};
use tonic::codegen::{Service, StdError};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Status};

use crate::pipeline::{Protocol, Refusal, Submitter, protobuf_footprint, span_count};

use super::validate::validate_request;

/// The OTLP trace service's gRPC name.
const SERVICE: &str = "opentelemetry.proto.collector.trace.v1.TraceService";
/// The path of its one method.
const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

#[derive(Clone)]
struct GrpcReceiver {
    submitter: Submitter,
    max_request_bytes: usize,
}

impl GrpcReceiver {
    async fn export(&self, bytes: Bytes) -> Result<ExportTraceServiceResponse, Status> {
        let footprint = protobuf_footprint(&bytes);
        let memory = self
            .submitter
            .admit(Protocol::Grpc, footprint)
            .await
            .map_err(refused)?;
        let request = match ExportTraceServiceRequest::decode(bytes) {
            Ok(request) => request,
            Err(e) => {
                self.submitter
                    .count_refused(Protocol::Grpc, footprint.spans);
                return Err(Status::invalid_argument(format!(
                    "invalid OTLP protobuf: {e}"
                )));
            }
        };
        if let Err(reason) = validate_request(&request) {
            self.submitter
                .count_refused(Protocol::Grpc, span_count(&request));
            return Err(Status::invalid_argument(reason));
        }
        self.submitter
            .submit(Protocol::Grpc, request, memory)
            .await
            .map_err(refused)?;
        Ok(ExportTraceServiceResponse {
            partial_success: None,
        })
    }
}

/// The status for a request the pipeline refused.
fn refused(refusal: Refusal) -> Status {
    match refusal {
        // OTLP: RESOURCE_EXHAUSTED is retryable only with RetryInfo; UNAVAILABLE always is.
        Refusal::Busy | Refusal::ShuttingDown => Status::unavailable(refusal.to_string()),
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
        Box::pin(async move {
            receiver
                .export(request.into_inner())
                .await
                .map(tonic::Response::new)
        })
    }
}

impl<B> Service<http::Request<B>> for GrpcReceiver
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
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
            Ok(grpc.unary(ExportCall(receiver), request).await)
        })
    }
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
    listener: TcpListener,
    submitter: Submitter,
    max_request_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let service = GrpcReceiver {
        submitter,
        max_request_bytes,
    };
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
