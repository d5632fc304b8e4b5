//! The tail-sampling stage: memory per buffered span, and end-to-end throughput through the
//! stage against the same pipeline without it, in the same run.
//!
//! `cargo bench -p weft-tests --bench tail`

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::request;
use weft_tests::{config_with, start_weft};

/// Spans per request; `weft_tests::spans::span` puts 8 spans in each trace.
const PER_REQUEST: u64 = 512;
/// Requests sent concurrently.
const CONCURRENCY: usize = 4;

fn tail_stage(wait_ms: u64) -> String {
    format!(
        r#"
[[processors]]
name = "tail"
plugin = "builtin:tail-policy"
[processors.tail_sampling]
decision_wait_ms = {wait_ms}
max_traces = 1000000
max_buffered_mb = 4096
[processors.config]
rules = [{{ name = "error", error = true }}, {{ name = "all", ratio = 1.0 }}]
"#
    )
}

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The requests of one run: `spans` spans with unique ids, `PER_REQUEST` to a request.
fn requests(spans: u64, offset: u64) -> Vec<ExportTraceServiceRequest> {
    (0..spans / PER_REQUEST)
        .map(|r| request(offset + r * PER_REQUEST, PER_REQUEST))
        .collect()
}

/// Sends `requests` over `CONCURRENCY` gRPC connections.
async fn send(addr: std::net::SocketAddr, requests: Vec<ExportTraceServiceRequest>) {
    let mut lanes: Vec<Vec<ExportTraceServiceRequest>> = vec![Vec::new(); CONCURRENCY];
    for (i, request) in requests.into_iter().enumerate() {
        lanes[i % CONCURRENCY].push(request);
    }
    let tasks: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            tokio::spawn(async move {
                let mut client = grpc_client(addr).await;
                for request in lane {
                    client.export(request).await.expect("accepted");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Spans per second from the first request sent to the last span at the sink.
async fn throughput(processors: &str, spans: u64, offset: u64) -> f64 {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(processors, sink.addr())).await;
    let requests = requests(spans, offset);
    let started = Instant::now();
    send(weft.grpc_addr().unwrap(), requests).await;
    let got = sink
        .wait_for(spans as usize, Duration::from_secs(120))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(got, spans as usize, "every span exported");
    weft.shutdown().await;
    spans as f64 / elapsed.as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Memory: hold every trace (a ten-minute wait) and measure what the buffer costs.
    let held: u64 = 256 * PER_REQUEST;
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(&tail_stage(600_000), sink.addr())).await;
    let requests = requests(held, 0);
    let wire: usize = requests.iter().map(Message::encoded_len).sum();
    let before = rss();
    send(weft.grpc_addr().unwrap(), requests).await;
    let tail = &weft.metrics().tail;
    let started = Instant::now();
    while tail
        .spans_buffered
        .load(std::sync::atomic::Ordering::Relaxed)
        < held
    {
        assert!(started.elapsed() < Duration::from_secs(60), "buffering");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = rss();
    let accounted = tail
        .bytes_buffered
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "buffered {held} spans ({} traces): RSS +{:.0} bytes/span; accounted (protobuf) {:.0} bytes/span; on the wire {:.0} bytes/span",
        tail.traces_buffered
            .load(std::sync::atomic::Ordering::Relaxed),
        after.saturating_sub(before) as f64 / held as f64,
        accounted as f64 / held as f64,
        wire as f64 / held as f64,
    );
    weft.shutdown().await;
    drop(sink);

    // Throughput: the same load with and without the stage, alternating, three times each.
    let spans = 400 * PER_REQUEST;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for round in 0..3 {
        without.push(throughput("", spans, round * 2 * spans).await);
        with.push(throughput(&tail_stage(200), spans, (round * 2 + 1) * spans).await);
    }
    let (without, with) = (median(without), median(with));
    println!(
        "end to end, gRPC in, {PER_REQUEST}-span requests x{CONCURRENCY}: no processors {without:.0} spans/s; tail sampling (keep all, 200 ms wait) {with:.0} spans/s; ratio {:.2}",
        with / without
    );
}
