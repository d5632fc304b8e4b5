//! The benchmark harness: the load generator's spans all reach the counting sink, over gRPC and
//! HTTP, with and without gzip; failures are counted, not hidden; and the `weft-bench`
//! commands report the same totals from separate processes.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use weft_bench::{CountingSink, LoadConfig, PayloadSpec, Protocol, run_load};

const WEFT_BENCH: &str = env!("CARGO_BIN_EXE_weft-bench");

fn load_config(endpoint: String, protocol: Protocol, gzip: bool) -> LoadConfig {
    LoadConfig {
        endpoint,
        protocol,
        gzip,
        payload: PayloadSpec {
            spans_per_request: 50,
            attributes_per_span: 10,
        },
        distinct_requests: 3,
        concurrency: 4,
        requests: 20,
        duration: Duration::from_secs(30),
        timeout: Duration::from_secs(5),
        rate: None,
        tls_ca: None,
    }
}

async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_counts_exactly_what_load_sent_over_grpc_and_http_with_and_without_gzip() {
    let sink = CountingSink::start(Some(listener().await), Some(listener().await)).unwrap();
    let grpc = sink.grpc_addr().unwrap().to_string();
    let http = sink.http_addr().unwrap().to_string();
    let mut expected = weft_bench::SinkReport::default();
    for (protocol, endpoint) in [(Protocol::Grpc, &grpc), (Protocol::Http, &http)] {
        for gzip in [false, true] {
            let report = run_load(&load_config(endpoint.clone(), protocol, gzip))
                .await
                .unwrap();
            assert_eq!(report.errors, 0, "{:?}", report.first_error);
            assert_eq!(report.requests, 20);
            assert_eq!(report.spans_sent, 20 * 50);
            assert!(report.latency_p50_ms > 0.0);
            assert!(report.latency_p99_ms >= report.latency_p50_ms);
            expected.requests += 20;
            expected.spans += 20 * 50;
            match protocol {
                Protocol::Grpc => expected.grpc_requests += 20,
                Protocol::Http => expected.http_requests += 20,
            }
            assert_eq!(sink.report(), expected, "after {protocol:?}, gzip {gzip}");
        }
    }
    assert_eq!(sink.stop().await.unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_load_spreads_its_requests_over_time_and_the_sink_counts_them_all() {
    let sink = CountingSink::start(Some(listener().await), None).unwrap();
    let mut config = load_config(sink.grpc_addr().unwrap().to_string(), Protocol::Grpc, true);
    // 50 spans per request at 2,000 spans/s: one request every 25 ms, the 20th at 475 ms.
    config.rate = Some(2000.0);
    let report = run_load(&config).await.unwrap();
    assert_eq!(report.errors, 0, "{:?}", report.first_error);
    assert_eq!((report.requests, report.spans_sent), (20, 1000));
    assert!(
        report.elapsed_secs >= 0.475,
        "20 requests 25 ms apart left within {} s",
        report.elapsed_secs
    );
    assert_eq!(report.rate_spans_per_sec, Some(2000.0));
    // On time as a rule (a stall of the shared machine may make one or two late): fewer than
    // the half that the impossible schedule below makes late.
    assert!(report.late_requests < 10, "{} late", report.late_requests);

    // One client and a request every microsecond: no round trip is that fast, so requests
    // leave behind their schedule and the report says so.
    config.concurrency = 1;
    config.rate = Some(50_000_000.0);
    let report = run_load(&config).await.unwrap();
    assert_eq!((report.requests, report.errors), (20, 0));
    assert!(report.late_requests >= 10, "{} late", report.late_requests);
    assert_eq!(sink.stop().await.unwrap().spans, 2000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_on_several_grpc_addresses_counts_them_together() {
    let mut sink = CountingSink::start(Some(listener().await), None).unwrap();
    let second = listener().await;
    let second_addr = second.local_addr().unwrap().to_string();
    sink.also_grpc(second);
    for endpoint in [sink.grpc_addr().unwrap().to_string(), second_addr] {
        let report = run_load(&load_config(endpoint, Protocol::Grpc, false))
            .await
            .unwrap();
        assert_eq!(report.errors, 0, "{:?}", report.first_error);
    }
    let report = sink.stop().await.unwrap();
    assert_eq!((report.grpc_requests, report.spans), (40, 2000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_every_failed_request_and_sink_counts_undecodable_ones() {
    // Nothing listens on a port that was just released.
    let closed = listener().await.local_addr().unwrap().to_string();
    let mut config = load_config(closed, Protocol::Http, false);
    config.requests = 5;
    config.timeout = Duration::from_secs(2);
    let report = run_load(&config).await.unwrap();
    assert_eq!(
        (report.requests, report.errors, report.spans_sent),
        (5, 5, 0)
    );
    assert!(report.first_error.is_some());

    let sink = CountingSink::start(None, Some(listener().await)).unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    let request = http::Request::post(format!("http://{}/v1/traces", sink.http_addr().unwrap()))
        .header("content-type", "application/x-protobuf")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            b"\xff\xff not protobuf",
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 400);
    let report = sink.stop().await.unwrap();
    assert_eq!((report.requests, report.invalid_requests), (0, 1));
}

#[test]
fn bench_commands_count_every_span_and_write_the_final_report_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("weft-bench-harness-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let report_file = dir.join("sink.json");
    let mut sink = Command::new(WEFT_BENCH)
        .arg("sink")
        .args(["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .arg("--report-file")
        .arg(&report_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(sink.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let (grpc, http) = loop {
        assert!(Instant::now() < deadline, "the sink did not start");
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the sink exited");
        if line.contains("Counting sink listening.") {
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            let addr = |field: &str| {
                log["fields"][field]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("Some(")
                    .trim_end_matches(')')
                    .to_owned()
            };
            break (addr("grpc"), addr("http"));
        }
    };
    let mut sent = 0;
    for (protocol, endpoint) in [("grpc", &grpc), ("http", &http)] {
        let output = Command::new(WEFT_BENCH)
            .args(["load", "--json", "--gzip", "--protocol", protocol])
            .args(["--endpoint", endpoint])
            .args(["--requests", "12", "--spans-per-request", "40"])
            .args(["--duration-secs", "30"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["errors"], 0);
        sent += report["spans_sent"].as_u64().unwrap();
    }
    assert_eq!(sent, 2 * 12 * 40);
    let status = Command::new("kill")
        .args(["-TERM", &sink.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = sink.wait_with_output().unwrap();
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_file).unwrap()).unwrap();
    assert_eq!(printed, written);
    assert_eq!(written["spans"].as_u64(), Some(sent));
    assert_eq!(written["grpc_requests"], 12);
    assert_eq!(written["http_requests"], 12);
    assert_eq!(written["invalid_requests"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
