//! Honest accounting of exports: spans a backend rejects in an OTLP partial success (over
//! gRPC and over HTTP, protobuf and JSON answers) are counted as failed, not as sent.

use std::time::{Duration, Instant};

use axum::http::header;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;
use weft_tests::client::{get, grpc_client, metric_sample as sample};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::request;
use weft_tests::{config_with, start_weft};

const REQUESTS: u64 = 4;
const SPANS: u64 = 10;
const REJECTED: u64 = 3;

/// Sends the requests, then waits for the exporter's sent and failed counters to account
/// for every span; returns (sent, failed).
async fn export_and_count(config: &str) -> (u64, u64) {
    let weft = start_weft(config).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    for n in 0..REQUESTS {
        client.export(request(n * 100, SPANS)).await.unwrap();
    }
    let admin = weft.admin_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let counts = loop {
        let (_, scrape) = get(admin, "/metrics").await;
        let sent = sample(&scrape, "weft_exporter_spans_sent_total{exporter=\"sink\"}");
        let failed = sample(
            &scrape,
            "weft_exporter_spans_failed_total{exporter=\"sink\"}",
        );
        if sent + failed >= REQUESTS * SPANS || Instant::now() > deadline {
            break (sent, failed);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    weft.shutdown().await;
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_a_grpc_backend_rejects_are_counted_as_failed() {
    let sink = OtlpSink::start_rejecting(REJECTED as i64).await;
    // One export per request: the batcher's timeout is short, and requests go one by one.
    let config =
        config_with("", sink.addr()).replace("timeout_ms = 20", "timeout_ms = 1\nmax_spans = 10");
    let (sent, failed) = export_and_count(&config).await;
    let exports = sink.requests().len() as u64;
    assert_eq!(
        sent + failed,
        REQUESTS * SPANS,
        "every span is accounted for"
    );
    assert_eq!(
        failed,
        exports * REJECTED,
        "{exports} exports, {REJECTED} rejected in each"
    );
    assert!(failed > 0);
}

/// An OTLP/HTTP backend that rejects `REJECTED` spans of every request, answering in JSON
/// when `json`, else in protobuf (gzip-compressed).
async fn http_backend(json: bool) -> std::net::SocketAddr {
    let answer = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: REJECTED as i64,
            error_message: "quota".into(),
        }),
    };
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move || async move {
            if json {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CONTENT_ENCODING, "identity"),
                    ],
                    // As the Collector writes it: an int64 as a string.
                    format!(
                        r#"{{"partialSuccess":{{"rejectedSpans":"{REJECTED}","errorMessage":"quota"}}}}"#
                    )
                    .into_bytes(),
                )
            } else {
                (
                    [
                        (header::CONTENT_TYPE, "application/x-protobuf"),
                        (header::CONTENT_ENCODING, "gzip"),
                    ],
                    weft::codec::gzip(&answer.encode_to_vec()),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_an_http_backend_rejects_are_counted_as_failed_from_protobuf_and_json_answers() {
    for json in [false, true] {
        let backend = http_backend(json).await;
        // A placeholder gRPC sink address, replaced by the HTTP exporter below.
        let config = config_with("", backend)
            .replace("type = \"otlp\"", "type = \"otlphttp\"")
            .replace("timeout_ms = 20", "timeout_ms = 1\nmax_spans = 10");
        let (sent, failed) = export_and_count(&config).await;
        assert_eq!(sent + failed, REQUESTS * SPANS, "json answer: {json}");
        assert!(failed >= REJECTED, "json answer: {json}: failed {failed}");
        assert_eq!(
            failed % REJECTED,
            0,
            "json answer: {json}: {REJECTED} per export"
        );
    }
}
