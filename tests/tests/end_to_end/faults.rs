//! A plugin that traps, loops, fails or returns bad edits costs its own batch at most (per its
//! `on_error` policy), never the host or other batches.

use std::time::Duration;

use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request_named, span_number, string_attribute};
use weft_tests::{config_with, fixture, start_weft};

fn faulty(on_error: &str) -> String {
    format!(
        r#"
[[processors]]
name = "faulty"
plugin = "{}"
on_error = "{on_error}"
timeout_ms = 100
"#,
        fixture("faulty")
    )
}

/// Sends one request of 10 spans per name in `names` (spans 100*i ..), in order.
async fn send_batches(addr: std::net::SocketAddr, names: &[&str]) {
    let mut client = grpc_client(addr).await;
    for (i, name) in names.iter().enumerate() {
        let name = name.to_string();
        client
            .export(request_named(i as u64 * 100, 10, move |_| name.clone()))
            .await
            .expect("the receiver accepts every batch");
    }
}

const FAILURES: [&str; 4] = ["panic", "loop", "error", "bad-edit"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_batches_pass_unchanged_with_on_error_pass_and_others_are_processed() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(&faulty("pass"), sink.addr())).await;
    // ok, failure, ok, failure, ...: each ok batch after a trap needs a fresh instance.
    let names: Vec<&str> = FAILURES
        .iter()
        .flat_map(|f| ["ok", *f])
        .chain(["ok"])
        .collect();
    send_batches(weft.grpc_addr().unwrap(), &names).await;
    let expected = names.len() * 10;
    assert_eq!(
        sink.wait_for(expected, Duration::from_secs(30)).await,
        expected
    );
    let stats = weft.stats().snapshot();
    weft.shutdown().await;
    for span in sink.spans() {
        let batch = span_number(&span).unwrap() as usize / 100;
        let seen = string_attribute(&span, "faulty.seen").is_some()
            || span.attributes.iter().any(|kv| kv.key == "faulty.seen");
        assert_eq!(
            seen,
            names[batch] == "ok",
            "batch {batch} ({}) edited: {seen}",
            names[batch]
        );
    }
    assert_eq!(stats.processor_failures, FAILURES.len() as u64);
    assert_eq!(stats.spans_dropped_on_error, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_batches_are_dropped_and_counted_with_on_error_drop() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(&faulty("drop"), sink.addr())).await;
    let names: Vec<&str> = FAILURES
        .iter()
        .flat_map(|f| ["ok", *f])
        .chain(["ok"])
        .collect();
    send_batches(weft.grpc_addr().unwrap(), &names).await;
    let ok_spans = names.iter().filter(|n| **n == "ok").count() * 10;
    weft.shutdown().await;
    let stats_spans = sink.span_count();
    assert_eq!(
        stats_spans, ok_spans,
        "only the batches the plugin handled are exported"
    );
    for span in sink.spans() {
        assert!(span.attributes.iter().any(|kv| kv.key == "faulty.seen"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_verdicts_remove_only_the_chosen_spans() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(&faulty("pass"), sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client
        .export(request_named(0, 100, |n| {
            if n % 4 == 0 {
                "drop-me".into()
            } else {
                "keep".into()
            }
        }))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(75, Duration::from_secs(20)).await, 75);
    let stats = weft.stats().snapshot();
    weft.shutdown().await;
    assert!(
        sink.spans()
            .iter()
            .all(|s| span_number(s).unwrap() % 4 != 0)
    );
    assert_eq!(stats.spans_dropped_by_processors, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_refuses_its_config_stops_start_up_with_the_reason() {
    let sink = OtlpSink::start().await;
    let config = config_with(
        &format!("{}config = {{ mode = \"refuse\" }}\n", faulty("pass")),
        sink.addr(),
    );
    let loaded = weft::config::LoadedConfig::from_str(&config, ".".into(), "test".into()).unwrap();
    let error = match weft::service::RunningService::start(loaded).await {
        Ok(_) => panic!("start-up must fail"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("\"faulty\" refused its config: config asked me to refuse"),
        "{error}"
    );
}
