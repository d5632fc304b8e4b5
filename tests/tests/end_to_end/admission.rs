//! Admission control by memory: past the ceiling receivers push back with retryable statuses
//! and lose nothing; a request that would decode past the whole ceiling is refused before it
//! is decoded.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use weft_tests::client::{get, grpc_client, metric_sample as sample, post_traces};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, request_named};
use weft_tests::{config_with_pipeline, fixture, start_weft};

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_memory_ceiling_receivers_push_back_and_lose_nothing() {
    let sink = OtlpSink::start().await;
    // One worker, 150 ms a batch (the hostile plugin's legal "slow" mode), a 1 MiB ceiling
    // and room for 64 requests in the queue: memory, not the queue, is what fills up.
    let chain = format!(
        "[[processors]]\nname = \"slow\"\nplugin = \"{}\"\n",
        fixture("hostile")
    );
    let config = config_with_pipeline(
        &chain,
        sink.addr(),
        "workers = 1\nqueue_capacity = 64\nmemory_limit_mb = 1\nenqueue_timeout_ms = 50",
    );
    let weft = start_weft(&config).await;
    let addr = weft.http_addr().unwrap();
    let admin = weft.admin_addr().unwrap();

    let body = request_named(0, 200, |_| "slow".into()).encode_to_vec();
    let sends: Vec<_> = (0..16)
        .map(|_| {
            let body = body.clone();
            tokio::spawn(async move { post_traces(addr, &[PROTOBUF], body).await })
        })
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    for send in sends {
        let response = send.await.unwrap();
        match response.status.as_u16() {
            200 => accepted += 1,
            503 => {
                refused += 1;
                assert_eq!(response.headers["retry-after"], "1", "retryable");
            }
            other => panic!("unexpected status {other}: {:?}", response.body),
        }
    }
    assert!(
        refused > 0,
        "16 requests of ~200 KB decoded cannot all fit a 1 MiB ceiling"
    );
    assert!(accepted > 0, "requests within the ceiling are accepted");
    let expected = accepted * 200;
    assert_eq!(
        sink.wait_for(expected, Duration::from_secs(30)).await,
        expected,
        "every accepted span is exported"
    );

    let (_, scrape) = get(admin, "/metrics").await;
    assert_eq!(
        sample(&scrape, "weft_pipeline_memory_refusals_total"),
        refused as u64,
        "{scrape}"
    );
    assert_eq!(sample(&scrape, "weft_pipeline_memory_limit_bytes"), 1 << 20);
    assert_eq!(
        sample(&scrape, "weft_pipeline_memory_bytes"),
        0,
        "memory is given back once spans reach the exporters"
    );
    weft.shutdown().await;
    assert_eq!(sink.span_count(), expected, "nothing exported twice");
}

/// A request of `count` spans with nothing in them: two bytes each on the wire.
fn empty_spans(count: usize) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); count],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_would_decode_past_the_ceiling_is_refused_before_decoding() {
    let sink = OtlpSink::start().await;
    let config = config_with_pipeline("", sink.addr(), "memory_limit_mb = 16");
    let weft = start_weft(&config).await;
    let http = weft.http_addr().unwrap();
    let admin = weft.admin_addr().unwrap();

    // 500,000 empty spans: under 1 MiB on the wire, over 100 MiB decoded.
    let bomb = empty_spans(500_000).encode_to_vec();
    assert!(bomb.len() < 1 << 20);
    let response = post_traces(http, &[PROTOBUF], bomb.clone()).await;
    assert_eq!(response.status, 413, "{:?}", response.body);
    assert!(
        response.headers.get("retry-after").is_none(),
        "retrying the same request cannot help"
    );
    let message = String::from_utf8_lossy(&response.body).into_owned();
    assert!(
        message.contains("16777216-byte memory ceiling"),
        "{message}"
    );

    // The same in JSON: `{}` is an empty span.
    let json = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}{{}}]}}]}}]}}"#,
        "{},".repeat(300_000)
    );
    let response = post_traces(http, &[("content-type", "application/json")], json).await;
    assert_eq!(response.status, 413, "{:?}", response.body);

    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let status = client.export(empty_spans(500_000)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("memory ceiling"),
        "{}",
        status.message()
    );

    // Serving goes on, and the refused spans are counted where the wire format tells them.
    client.export(request(0, 10)).await.expect("served after");
    let response = post_traces(http, &[PROTOBUF], request(10, 10).encode_to_vec()).await;
    assert_eq!(response.status, 200);
    assert_eq!(sink.wait_for(20, Duration::from_secs(20)).await, 20);
    let (_, scrape) = get(admin, "/metrics").await;
    assert_eq!(
        sample(
            &scrape,
            "weft_receiver_spans_refused_total{protocol=\"grpc\"}"
        ),
        500_000
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_receiver_spans_refused_total{protocol=\"http\"}"
        ),
        500_000
    );
    weft.shutdown().await;
}
