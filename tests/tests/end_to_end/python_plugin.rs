//! Plugins written in Python (componentize-py), built from source by the test build, run
//! through weft: a redaction processor (its effect end to end, its compile and cache figures,
//! its reload latency) and a tail-sampling policy.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{kv, request_named, request_of, span_number, string_attribute};
use weft_tests::{config_with, fixture, scratch_dir, start_weft};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_redaction_plugin_masks_pii_end_to_end_and_reloads_from_the_cache() {
    let dir = scratch_dir("python");
    let plugin = dir.join("redact.wasm");
    std::fs::write(&plugin, std::fs::read(fixture("stamp-v1")).unwrap()).unwrap();
    let python = std::fs::read(fixture("python-redact")).unwrap();

    let sink = OtlpSink::start().await;
    let config = dir.join("weft.toml");
    let processors =
        "[[processors]]\nname = \"redact\"\nplugin = \"redact.wasm\"\non_error = \"drop\"\n";
    let text = config_with(processors, sink.addr())
        .replace("component_cache = false", "cache_dir = \"weft-cache\"")
        .replace("[admin]", "[reload]\ndebounce_ms = 50\n[admin]");
    std::fs::write(&config, text).unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&config).unwrap())
        .await
        .unwrap();

    // Swap the Rust plugin for the Python one (compiled: the cache is empty), back to Rust,
    // and to Python again (from the cache).
    let stamp = std::fs::read(fixture("stamp-v1")).unwrap();
    let mut latencies = Vec::new();
    for (generation, bytes) in [(1, &python), (2, &stamp), (3, &python)] {
        let written = Instant::now();
        std::fs::write(dir.join("redact.partial"), bytes).unwrap();
        std::fs::rename(dir.join("redact.partial"), &plugin).unwrap();
        while weft.reload().generation() < generation {
            assert!(
                written.elapsed() < Duration::from_secs(120),
                "reload {generation} never happened"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(written.elapsed());
    }
    eprintln!(
        "python component {} bytes; reload latency, file written -> serving (debounce 50 ms): uncached {:?}, cached {:?}",
        python.len(),
        latencies[0],
        latencies[2]
    );
    assert!(
        latencies[2] < latencies[0],
        "the second Python load comes from the cache"
    );

    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let mut request = request_named(0, 20, |_| "POST /pay".into());
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        span.attributes
            .push(kv("note", "refund to ann@example.com, ssn 078-05-1120"));
    }
    client.export(request).await.unwrap();
    assert_eq!(sink.wait_for(20, Duration::from_secs(30)).await, 20);
    weft.shutdown().await;
    for span in sink.spans() {
        let n = span_number(&span).unwrap();
        assert_eq!(
            string_attribute(&span, "note"),
            Some("refund to [REDACTED:email], ssn [REDACTED:ssn]"),
            "span {n}"
        );
        assert_eq!(
            string_attribute(&span, "user.email"),
            Some("[REDACTED:email]"),
            "span {n}"
        );
        assert_eq!(
            string_attribute(&span, "order.id"),
            Some("ord-2024-000123"),
            "clean values stay, span {n}"
        );
        assert!(
            span.attributes.iter().all(|kv| kv.key != "v"),
            "the Rust stamp plugin is gone after the swap"
        );
    }
}

/// A checkout trace: a payment span then a checkout span, each with its own outcome.
fn checkout_trace(n: u8, payment_failed: bool, checkout_failed: bool) -> Vec<Span> {
    let span = |id: u8, name: &str, end_ms: u64, failed: bool| Span {
        trace_id: vec![n; 16],
        span_id: vec![n, id, 1, 1, 1, 1, 1, 1],
        name: name.into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + end_ms * 1_000_000,
        status: Some(Status {
            code: if failed { 2 } else { 1 },
            ..Default::default()
        }),
        ..Default::default()
    };
    vec![
        span(1, "charge card", 40, payment_failed),
        span(2, "POST /checkout", 90, checkout_failed),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_tail_policy_keeps_checkouts_that_failed_after_payment() {
    let dir = scratch_dir("python-policy");
    std::fs::copy(
        fixture("python-checkout-policy"),
        dir.join("checkout-policy.wasm"),
    )
    .unwrap();
    let sink = OtlpSink::start().await;
    let processors = format!(
        r#"
[[processors]]
name = "checkout-policy"
plugin = "{}"
memory_limit_mb = 256
timeout_ms = 5000
[processors.tail_sampling]
decision_wait_ms = 1000
reason_attribute = "sampling.reason"
"#,
        dir.join("checkout-policy.wasm").display()
    );
    let weft = start_weft(&config_with(&processors, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    // 30 traces: paid then checkout failed (kept), payment failed too, checkout succeeded.
    let traces: Vec<(u8, Vec<Span>)> = (1..=30)
        .map(|n| (n, checkout_trace(n, n % 3 == 1, n % 3 != 2)))
        .collect();
    // Each trace's two spans arrive in separate requests, checkout first.
    for half in [1, 0] {
        let spans = traces.iter().map(|(_, t)| t[half].clone()).collect();
        client.export(request_of(spans)).await.unwrap();
    }
    let kept: Vec<u8> = (1..=30).filter(|n| n % 3 == 0).collect();
    assert_eq!(
        sink.wait_for(kept.len() * 2, Duration::from_secs(30)).await,
        kept.len() * 2
    );
    weft.shutdown().await;
    let spans = sink.spans();
    assert_eq!(
        spans.len(),
        kept.len() * 2,
        "only the paid-then-failed traces"
    );
    for span in &spans {
        assert!(
            kept.contains(&span.trace_id[0]),
            "trace {}",
            span.trace_id[0]
        );
        assert_eq!(
            string_attribute(span, "sampling.reason"),
            Some("paid-then-failed")
        );
    }
}
