//! The counting sink: an OTLP trace endpoint (gRPC and/or HTTP) that decodes every request
//! it receives, so it checks each one is valid, and counts requests and spans, so a benchmark
//! can verify nothing was lost on the way.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codec::CompressionEncoding;

/// The largest request the sink accepts, after decompression.
const MAX_REQUEST_BYTES: usize = 256 << 20;

/// What the sink has received so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkReport {
    /// Valid requests received, both protocols.
    pub requests: u64,
    /// Spans in those requests.
    pub spans: u64,
    /// Valid requests received over gRPC.
    pub grpc_requests: u64,
    /// Valid requests received over HTTP.
    pub http_requests: u64,
    /// Requests refused because they could not be decoded.
    pub invalid_requests: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    spans: AtomicU64,
    grpc_requests: AtomicU64,
    http_requests: AtomicU64,
    invalid_requests: AtomicU64,
}

impl Counters {
    fn record(&self, request: &ExportTraceServiceRequest, over_grpc: bool) {
        self.spans.fetch_add(
            weft::pdata::traces::decoded_span_count(request) as u64,
            Ordering::Relaxed,
        );
        if over_grpc {
            self.grpc_requests.fetch_add(1, Ordering::Relaxed);
        } else {
            self.http_requests.fetch_add(1, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    fn report(&self) -> SinkReport {
        SinkReport {
            requests: self.requests.load(Ordering::Relaxed),
            spans: self.spans.load(Ordering::Relaxed),
            grpc_requests: self.grpc_requests.load(Ordering::Relaxed),
            http_requests: self.http_requests.load(Ordering::Relaxed),
            invalid_requests: self.invalid_requests.load(Ordering::Relaxed),
        }
    }
}

/// A running counting sink.
pub struct CountingSink {
    counters: Arc<Counters>,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    servers: Vec<JoinHandle<anyhow::Result<()>>>,
}

impl CountingSink {
    /// Serves OTLP/gRPC on `grpc` and OTLP/HTTP (`POST /v1/traces`, protobuf or JSON,
    /// optionally gzip; `GET /report` answers the totals as JSON) on `http`, either of which
    /// may be absent.
    pub fn start(grpc: Option<TcpListener>, http: Option<TcpListener>) -> anyhow::Result<Self> {
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let mut servers = Vec::new();
        let grpc_addr = grpc.as_ref().map(TcpListener::local_addr).transpose()?;
        let http_addr = http.as_ref().map(TcpListener::local_addr).transpose()?;
        if let Some(listener) = grpc {
            servers.push(serve_grpc(
                listener,
                &counters,
                until_stopped(stopped.clone()),
            ));
        }
        if let Some(listener) = http {
            let app = Router::new()
                .route("/v1/traces", post(http_export))
                .route("/report", get(http_report))
                .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
                .with_state(counters.clone());
            let shutdown = until_stopped(stopped);
            servers.push(tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                    .map_err(anyhow::Error::from)
            }));
        }
        Ok(CountingSink {
            counters,
            grpc_addr,
            http_addr,
            stop,
            servers,
        })
    }

    /// Serves OTLP/gRPC on `listener` too, counting into the same totals (several backends
    /// of a load-balancing exporter, counted as one).
    pub fn also_grpc(&mut self, listener: TcpListener) {
        let mut stopped = self.stop.subscribe();
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        self.servers
            .push(serve_grpc(listener, &self.counters, shutdown));
    }

    /// Where OTLP/gRPC is served, if it is.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Where OTLP/HTTP is served, if it is.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The totals so far.
    pub fn report(&self) -> SinkReport {
        self.counters.report()
    }

    /// Stops accepting, finishes requests in flight, and returns the final totals.
    pub async fn stop(self) -> anyhow::Result<SinkReport> {
        let _ = self.stop.send(true);
        for server in self.servers {
            server.await??;
        }
        Ok(self.counters.report())
    }
}

/// Serves OTLP/gRPC on `listener` into `counters` until `shutdown`.
fn serve_grpc(
    listener: TcpListener,
    counters: &Arc<Counters>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> JoinHandle<anyhow::Result<()>> {
    let service = TraceServiceServer::new(GrpcCounter(counters.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
            .await
            .map_err(anyhow::Error::from)
    })
}

struct GrpcCounter(Arc<Counters>);

#[tonic::async_trait]
impl TraceService for GrpcCounter {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        // tonic has decoded the request; one that does not decode never reaches this point.
        self.0.record(request.get_ref(), true);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn http_export(
    State(counters): State<Arc<Counters>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match decode_http(&headers, &body) {
        Ok(request) => {
            counters.record(&request, false);
            let response = ExportTraceServiceResponse {
                partial_success: None,
            };
            (
                [(header::CONTENT_TYPE, "application/x-protobuf")],
                response.encode_to_vec(),
            )
                .into_response()
        }
        Err(reason) => {
            counters.invalid_requests.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_REQUEST, reason).into_response()
        }
    }
}

fn decode_http(headers: &HeaderMap, body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let inflated;
    let body = match header(header::CONTENT_ENCODING) {
        "" | "identity" => body,
        "gzip" => {
            inflated = weft::codec::gunzip(body, MAX_REQUEST_BYTES).map_err(|e| e.to_string())?;
            &inflated[..]
        }
        other => return Err(format!("unsupported content-encoding {other:?}")),
    };
    if header(header::CONTENT_TYPE).starts_with("application/json") {
        serde_json::from_slice(body).map_err(|e| format!("invalid OTLP JSON: {e}"))
    } else {
        ExportTraceServiceRequest::decode(body).map_err(|e| format!("invalid OTLP protobuf: {e}"))
    }
}

async fn http_report(State(counters): State<Arc<Counters>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&counters.report()).unwrap_or_default(),
    )
        .into_response()
}
