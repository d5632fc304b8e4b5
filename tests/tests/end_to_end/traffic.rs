//! End to end: real OTLP clients → weft (one-plugin chain) → an OTLP sink, over every protocol.

use std::collections::HashSet;
use std::time::Duration;

use prost::Message;
use weft_tests::client::{grpc_client, post_traces};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, span_number, string_attribute};
use weft_tests::{config_with, start_weft};

const STAMP: &str = r#"
[[processors]]
name = "stamp"
plugin = "builtin:enrich"
config = { actions = [{ action = "upsert", key = "weft.stamp", value = "v1" }] }
"#;

const TOTAL: u64 = 100_000;
const PER_REQUEST: u64 = 500;
const CONCURRENCY: u64 = 4;

/// Asserts the sink holds spans numbered 0..total exactly once, each stamped by the plugin.
fn assert_all_arrived_once_and_stamped(sink: &OtlpSink, total: u64) {
    let spans = sink.spans();
    assert_eq!(spans.len() as u64, total, "span count at the sink");
    let mut seen = HashSet::new();
    for span in &spans {
        let n = span_number(span).expect("every span keeps its weft.test.n attribute");
        assert!(seen.insert(n), "span {n} arrived twice");
        assert_eq!(
            string_attribute(span, "weft.stamp"),
            Some("v1"),
            "span {n} carries the plugin's edit"
        );
        assert_eq!(
            string_attribute(span, "user.email"),
            Some("ann.smith@example.com"),
            "untouched attributes survive"
        );
    }
    assert_eq!(seen.len() as u64, total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_100k_spans_with_concurrency_4_all_arrive_with_the_plugin_edit() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(STAMP, sink.addr())).await;
    let addr = weft.grpc_addr().unwrap();
    let per_task = TOTAL / CONCURRENCY;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|task| {
            tokio::spawn(async move {
                let mut client = grpc_client(addr).await;
                let mut first = task * per_task;
                while first < (task + 1) * per_task {
                    client
                        .export(request(first, PER_REQUEST))
                        .await
                        .expect("export succeeds");
                    first += PER_REQUEST;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        sink.wait_for(TOTAL as usize, Duration::from_secs(60)).await,
        TOTAL as usize
    );
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_100k_spans_with_concurrency_4_all_arrive_with_the_plugin_edit() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(STAMP, sink.addr())).await;
    let addr = weft.http_addr().unwrap();
    let per_task = TOTAL / CONCURRENCY;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|task| {
            tokio::spawn(async move {
                let mut first = task * per_task;
                while first < (task + 1) * per_task {
                    let body = serde_json::to_vec(&request(first, PER_REQUEST)).unwrap();
                    let response =
                        post_traces(addr, &[("content-type", "application/json")], body).await;
                    assert_eq!(response.status, 200, "{:?}", response.body);
                    assert_eq!(response.headers["content-type"], "application/json");
                    first += PER_REQUEST;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        sink.wait_for(TOTAL as usize, Duration::from_secs(60)).await,
        TOTAL as usize
    );
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_plain_and_gzip_arrive_with_the_plugin_edit() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(STAMP, sink.addr())).await;
    let addr = weft.http_addr().unwrap();
    let plain = post_traces(
        addr,
        &[("content-type", "application/x-protobuf")],
        request(0, 100).encode_to_vec(),
    )
    .await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.headers["content-type"], "application/x-protobuf");
    let gzipped = weft::codec::gzip(&request(100, 100).encode_to_vec());
    let compressed = post_traces(
        addr,
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        gzipped,
    )
    .await;
    assert_eq!(compressed.status, 200);
    let json_gzipped = weft::codec::gzip(&serde_json::to_vec(&request(200, 100)).unwrap());
    let json = post_traces(
        addr,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        json_gzipped,
    )
    .await;
    assert_eq!(json.status, 200);
    assert_eq!(sink.wait_for(300, Duration::from_secs(20)).await, 300);
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_multi_member_gzip_bodies_arrive_whole() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(STAMP, sink.addr())).await;
    let addr = weft.http_addr().unwrap();
    let gzip = weft::codec::gzip;
    // Two encoded requests concatenated decode as one (protobuf merges repeated fields):
    // each half in a gzip member of its own.
    let mut halves = gzip(&request(0, 100).encode_to_vec());
    halves.extend(gzip(&request(100, 100).encode_to_vec()));
    // One encoded request cut mid-message, each part in a gzip member of its own.
    let encoded = request(200, 100).encode_to_vec();
    let (head, tail) = encoded.split_at(encoded.len() / 2);
    let cut = [gzip(head), gzip(tail)].concat();
    for body in [halves, cut] {
        let response = post_traces(
            addr,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "gzip"),
            ],
            body,
        )
        .await;
        assert_eq!(response.status, 200, "{:?}", response.body);
    }
    assert_eq!(sink.wait_for(300, Duration::from_secs(20)).await, 300);
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_gzip_requests_are_accepted() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(STAMP, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap())
        .await
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    client
        .export(request(0, 250))
        .await
        .expect("gzip export succeeds");
    assert_eq!(sink.wait_for(250, Duration::from_secs(20)).await, 250);
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_exports_gzip_with_the_configured_headers() {
    let sink = OtlpSink::start().await;
    let config = config_with(STAMP, sink.addr()).replace(
        "[exporters.sink.batch]",
        "compression = \"gzip\"\nheaders = { \"X-Tenant\" = \"checkout\" }\n[exporters.sink.batch]",
    );
    let weft = start_weft(&config).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    for i in 0..4 {
        client.export(request(i * 250, 250)).await.unwrap();
    }
    assert_eq!(sink.wait_for(1_000, Duration::from_secs(20)).await, 1_000);
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, 1_000);
    let metadata = sink.metadata();
    assert!(!metadata.is_empty());
    for headers in metadata {
        assert_eq!(headers.get("grpc-encoding").unwrap(), "gzip");
        assert_eq!(headers.get("x-tenant").unwrap(), "checkout");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_every_accepted_span() {
    let sink = OtlpSink::start().await;
    // A long batch timeout: without a flush on shutdown, these spans would sit in the batcher.
    let config = config_with(STAMP, sink.addr()).replace("timeout_ms = 20", "timeout_ms = 600000");
    let weft = start_weft(&config).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    for i in 0..10 {
        client.export(request(i * 100, 100)).await.unwrap();
    }
    weft.shutdown().await;
    assert_all_arrived_once_and_stamped(&sink, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_under_load_exports_every_accepted_span() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(STAMP, sink.addr())).await;
    let addr = weft.grpc_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::Mutex::new(HashSet::new()));
    // Two clients send without pause until weft refuses them (at most 400 requests each).
    let clients: Vec<_> = (0..2u64)
        .map(|c| {
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let mut client = grpc_client(addr).await;
                for r in 0..400u64 {
                    let first = (c * 400 + r) * 50;
                    match client.export(request(first, 50)).await {
                        Ok(_) => accepted.lock().unwrap().extend(first..first + 50),
                        Err(status) => return (r, Some(status)),
                    }
                }
                (400, None)
            })
        })
        .collect();
    // Let traffic build up, then shut down while it flows.
    let building = std::time::Instant::now();
    while accepted.lock().unwrap().len() < 2_000 {
        assert!(
            building.elapsed() < Duration::from_secs(60),
            "traffic never built up: {} spans accepted in 60 s",
            accepted.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let accepted_before_shutdown = accepted.lock().unwrap().len();
    weft.shutdown().await;
    let mut cut_off = 0;
    for client in clients {
        let (sent, refusal) = client.await.unwrap();
        if let Some(status) = refusal {
            cut_off += 1;
            // Refused once shutting down (or the connection went away): retryable, never lost.
            // A request sent as the server's GOAWAY arrived fails in the client as INTERNAL
            // "h2 protocol error: GoAway(NO_ERROR)": HTTP/2 says a stream past the GOAWAY's
            // last stream id was not processed, so it too is safe to send again.
            let goaway =
                status.code() == tonic::Code::Internal && format!("{status:?}").contains("GoAway");
            assert!(
                goaway
                    || matches!(
                        status.code(),
                        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
                    ),
                "after {sent} requests: {status:?}"
            );
        }
    }
    assert!(
        cut_off >= 1,
        "the shutdown overlapped the load: a client was still sending when it began \
         ({accepted_before_shutdown} spans accepted then)"
    );
    let accepted = accepted.lock().unwrap().clone();
    let mut arrived = HashSet::new();
    for span in sink.spans() {
        let n = span_number(&span).unwrap() as u64;
        assert!(arrived.insert(n), "span {n} arrived twice");
    }
    let lost: Vec<&u64> = accepted.difference(&arrived).take(5).collect();
    assert!(
        lost.is_empty(),
        "{} of {} accepted spans never reached the sink, e.g. {lost:?}",
        accepted.difference(&arrived).count(),
        accepted.len()
    );
    eprintln!(
        "shutdown under load: {} spans accepted, {} exported",
        accepted.len(),
        arrived.len()
    );
}
