//! The bounded queue receivers submit requests into.

use std::sync::Arc;
use std::time::Duration;

use crate::durable::Ledger;
use crate::pdata::{Lineage, Traces};
use crate::telemetry::{Metrics, PipelineStats};

use super::admission::{MemoryBudget, MemoryPermit};
use super::footprint::Footprint;
use super::refusal::Refusal;

/// A request the pipeline accepted, with the memory it reserved: the reservation is given
/// back when the request is dropped, after its spans reached the exporters.
pub struct Admitted {
    /// The request.
    pub request: Traces,
    /// Its share of the memory budget.
    pub memory: MemoryPermit,
    /// Where it came from: with a persistent queue, the record that holds it.
    pub lineage: Lineage,
}

/// Why a receiver closed a connection before it carried a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRefusal {
    /// Its TLS handshake failed or did not finish.
    TlsHandshake,
    /// The listener had as many connections as it allows.
    ConnectionLimit,
    /// A request's headers did not arrive within the listener's header timeout.
    HeaderTimeout,
}

/// Which receiver a request came through, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
}

/// The receivers' handle on the pipeline: admission by memory, then the queue. Cloning is
/// cheap; the queue closes when the last clone is dropped, and workers then drain what is
/// left and stop.
#[derive(Clone)]
pub struct Submitter {
    sender: async_channel::Sender<Admitted>,
    enqueue_timeout: Duration,
    budget: MemoryBudget,
    /// The persistent queue every accepted request is written to first, if there is one.
    ledger: Option<Arc<Ledger>>,
    metrics: Arc<Metrics>,
}

/// The bounded queue between receivers and workers: receivers submit through the
/// [`Submitter`]; workers take admitted requests from the receiver.
pub fn bounded_queue(
    capacity: usize,
    enqueue_timeout: Duration,
    budget: MemoryBudget,
    ledger: Option<Arc<Ledger>>,
    metrics: Arc<Metrics>,
) -> (Submitter, async_channel::Receiver<Admitted>) {
    let (sender, receiver) = async_channel::bounded::<Admitted>(capacity);
    let submitter = Submitter {
        sender,
        enqueue_timeout,
        budget,
        ledger,
        metrics,
    };
    (submitter, receiver)
}

impl Submitter {
    /// Reserves memory for a request of `footprint`, before it is decoded, waiting up to
    /// the enqueue timeout for memory to be given back. A refusal is counted here.
    pub async fn admit(
        &self,
        protocol: Protocol,
        footprint: Footprint,
    ) -> Result<MemoryPermit, Refusal> {
        if self.sender.is_closed() {
            self.count_refused(protocol, footprint.spans);
            return Err(Refusal::ShuttingDown);
        }
        let admitted = self.budget.reserve(footprint, self.enqueue_timeout).await;
        if admitted.is_err() {
            self.count_refused(protocol, footprint.spans);
        }
        admitted
    }

    /// Queues `request` with the memory it was admitted with, waiting up to the enqueue
    /// timeout for room. With a persistent queue the request is written to it first, and
    /// this returns only once it is durable. Once this returns `Ok` the pipeline owns the
    /// spans: they are exported or counted as dropped, even on shutdown (and, with a
    /// persistent queue, across a crash). A refusal is counted here.
    pub async fn submit(
        &self,
        protocol: Protocol,
        request: Traces,
        memory: MemoryPermit,
    ) -> Result<(), Refusal> {
        let spans = request.span_count() as u64;
        let lineage = match &self.ledger {
            None => Lineage::default(),
            Some(ledger) => match ledger.append(request.to_bytes()).await {
                Ok(lineage) => lineage,
                Err(error) => {
                    self.count_refused(protocol, spans as usize);
                    let refusal = Refusal::from_log(&error);
                    if refusal == Refusal::DiskFull {
                        PipelineStats::add(&self.metrics.persistence.refusals_full, 1);
                    } else {
                        tracing::error!(%error, "The persistent queue refused a request.");
                    }
                    return Err(refusal);
                }
            },
        };
        self.enqueue(protocol, request, memory, lineage).await
    }

    /// Queues a request the persistent queue holds already (a replay after a restart).
    pub async fn resubmit(
        &self,
        request: Traces,
        memory: MemoryPermit,
        lineage: Lineage,
    ) -> Result<(), Refusal> {
        self.enqueue(Protocol::Grpc, request, memory, lineage).await
    }

    async fn enqueue(
        &self,
        protocol: Protocol,
        request: Traces,
        memory: MemoryPermit,
        lineage: Lineage,
    ) -> Result<(), Refusal> {
        let spans = request.span_count() as u64;
        let admitted = Admitted {
            request,
            memory,
            lineage,
        };
        let result = match self.sender.try_send(admitted) {
            Ok(()) => Ok(()),
            Err(async_channel::TrySendError::Closed(_)) => Err(Refusal::ShuttingDown),
            Err(async_channel::TrySendError::Full(request)) => {
                match tokio::time::timeout(self.enqueue_timeout, self.sender.send(request)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err(Refusal::ShuttingDown),
                    Err(_) => Err(Refusal::Busy),
                }
            }
        };
        match result {
            Ok(()) => {
                PipelineStats::add(&self.metrics.pipeline.spans_received, spans);
                PipelineStats::add(&self.receiver(protocol).spans_accepted, spans);
            }
            Err(_) => self.count_refused(protocol, spans as usize),
        }
        result
    }

    /// Closes the queue for every receiver: later requests are refused as retryable, workers
    /// drain what is queued and stop.
    pub fn close(&self) {
        self.sender.close();
    }

    /// Counts a request refused before it reached the queue (malformed, too large).
    pub fn count_refused(&self, protocol: Protocol, spans: usize) {
        PipelineStats::add(&self.metrics.pipeline.spans_refused, spans as u64);
        PipelineStats::add(&self.metrics.pipeline.requests_refused, 1);
        PipelineStats::add(&self.receiver(protocol).spans_refused, spans as u64);
    }

    /// Counts a connection closed before it carried a request: a TLS handshake that failed
    /// (an untrusted or missing client certificate, plaintext, one that never finished), one
    /// past the connection cap, or one whose request headers did not arrive in time.
    pub fn count_connection_refused(&self, protocol: Protocol, reason: ConnectionRefusal) {
        let receiver = self.receiver(protocol);
        let counter = match reason {
            ConnectionRefusal::TlsHandshake => &receiver.tls_handshakes_failed,
            ConnectionRefusal::ConnectionLimit => &receiver.connections_over_limit,
            ConnectionRefusal::HeaderTimeout => &receiver.header_timeouts,
        };
        PipelineStats::add(counter, 1);
    }

    /// Counts a request refused for its credentials, before it was read.
    pub fn count_unauthenticated(&self, protocol: Protocol) {
        PipelineStats::add(&self.metrics.pipeline.requests_refused, 1);
        PipelineStats::add(&self.receiver(protocol).requests_unauthenticated, 1);
    }

    fn receiver(&self, protocol: Protocol) -> &crate::telemetry::ReceiverMetrics {
        match protocol {
            Protocol::Grpc => &self.metrics.grpc,
            Protocol::Http => &self.metrics.http,
        }
    }
}
