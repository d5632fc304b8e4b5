//! An OTLP/gRPC server that records what it receives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

/// A recording OTLP sink on 127.0.0.1.
#[derive(Clone)]
pub struct OtlpSink {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metadata: Arc<Mutex<Vec<tonic::metadata::MetadataMap>>>,
    down: Arc<AtomicBool>,
}

/// How a sink answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SinkBehaviour {
    /// Spans of each request answered as rejected (OTLP partial success).
    pub rejects: i64,
    /// How long each answer takes (a slow backend).
    pub delay: Duration,
}

struct Recorder {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    metadata: Arc<Mutex<Vec<tonic::metadata::MetadataMap>>>,
    behaviour: SinkBehaviour,
    /// While set, every request is answered UNAVAILABLE and not recorded.
    down: Arc<AtomicBool>,
}

#[tonic::async_trait]
impl TraceService for Recorder {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Status::unavailable("the sink is down"));
        }
        tokio::time::sleep(self.behaviour.delay).await;
        self.metadata
            .lock()
            .unwrap()
            .push(request.metadata().clone());
        let request = request.into_inner();
        let spans: usize = request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum();
        self.received.lock().unwrap().push(request);
        let rejects = self.behaviour.rejects;
        let partial_success = (rejects > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejects.min(spans as i64),
            error_message: "older than the retention window".into(),
        });
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success,
        }))
    }
}

impl OtlpSink {
    /// Starts the sink on an ephemeral port. It runs until the test's runtime stops.
    pub async fn start() -> Self {
        Self::start_rejecting(0).await
    }

    /// Starts a sink that records every request but answers that it rejected `rejects` of
    /// each request's spans (an OTLP partial success).
    pub async fn start_rejecting(rejects: i64) -> Self {
        Self::start_with(SinkBehaviour {
            rejects,
            ..Default::default()
        })
        .await
    }

    /// Starts a sink that answers as `behaviour` says.
    pub async fn start_with(behaviour: SinkBehaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let metadata = Arc::new(Mutex::new(Vec::new()));
        let down = Arc::new(AtomicBool::new(false));
        let recorder = Recorder {
            received: received.clone(),
            metadata: metadata.clone(),
            behaviour,
            down: down.clone(),
        };
        let service = TraceServiceServer::new(recorder)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(64 << 20);
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        OtlpSink {
            addr,
            received,
            metadata,
            down,
        }
    }

    /// Takes the sink down (every request answered UNAVAILABLE, nothing recorded) or brings
    /// it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The gRPC metadata (request headers) of every request received so far.
    pub fn metadata(&self) -> Vec<tonic::metadata::MetadataMap> {
        self.metadata.lock().unwrap().clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.received.lock().unwrap().clone()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| ss.spans.iter().cloned())
            .collect()
    }

    /// The number of spans received so far.
    pub fn span_count(&self) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(weft::pdata::traces::decoded_span_count)
            .sum()
    }

    /// Waits until at least `count` spans have arrived, or `timeout` passes; returns the count.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.span_count();
            if now >= count || Instant::now() >= deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
