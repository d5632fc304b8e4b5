//! OTLP/gRPC receiver (tonic).

use std::future::Future;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::pipeline::{Protocol, Refusal, Submitter, span_count};

use super::validate::validate_request;

struct GrpcReceiver {
    submitter: Submitter,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let request = request.into_inner();
        if let Err(reason) = validate_request(&request) {
            self.submitter
                .count_refused(Protocol::Grpc, span_count(&request));
            return Err(Status::invalid_argument(reason));
        }
        match self.submitter.submit(Protocol::Grpc, request).await {
            Ok(()) => Ok(Response::new(ExportTraceServiceResponse {
                partial_success: None,
            })),
            // OTLP: RESOURCE_EXHAUSTED is retryable only with RetryInfo; UNAVAILABLE always is.
            Err(refusal @ (Refusal::Busy | Refusal::ShuttingDown)) => {
                Err(Status::unavailable(refusal.to_string()))
            }
        }
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, then finishes in-flight calls.
pub async fn serve_grpc(
    listener: TcpListener,
    submitter: Submitter,
    max_request_bytes: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let service = TraceServiceServer::new(GrpcReceiver { submitter })
        .accept_compressed(CompressionEncoding::Gzip)
        .send_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_request_bytes);
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}
