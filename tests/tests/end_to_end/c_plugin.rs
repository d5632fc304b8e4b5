//! A sampler written in C (clang, wasi-libc, `wit-bindgen c`, the preview1 adapter), built
//! from source by the test build, run through weft end to end: it keeps every error and every
//! slow span, and of the rest exactly the traces the Rust SDK's consistent ratio rule keeps.

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Status;
use weft_sdk::TraceId;
use weft_sdk::sampling::ratio::sampled;
use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, span_number};
use weft_tests::{config_with, fixture, start_weft};

/// A well-mixed trace id for span `n`, so the ratio rule sees realistic randomness.
fn trace_id(n: u64) -> [u8; 16] {
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(23) ^ 0x2545_F491_4F6C_DD1D;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(n + 1).to_be_bytes());
    id[8..].copy_from_slice(&mixed.to_be_bytes());
    id
}

/// A chain of the C sampler with `config` (the inside of its TOML config table).
fn c_sampler(config: &str) -> String {
    format!(
        "[[processors]]\nname = \"sample-c\"\nplugin = \"{}\"\nconfig = {{ {config} }}\n",
        fixture("c-sample")
    )
}

fn rust_rule_keeps(id: &[u8; 16], ratio: f64) -> bool {
    let trace = TraceId {
        high: u64::from_be_bytes(id[..8].try_into().unwrap()),
        low: u64::from_be_bytes(id[8..].try_into().unwrap()),
    };
    sampled(trace, ratio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_sampler_keeps_errors_slow_spans_and_the_consistent_share() {
    let sink = OtlpSink::start().await;
    let chain = c_sampler("ratio = 0.25, keep_errors = true, slower_than_ms = 500");
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let (batches, per_batch) = (20u64, 200u64);
    for b in 0..batches {
        let mut batch = request(b * per_batch, per_batch);
        for span in &mut batch.resource_spans[0].scope_spans[0].spans {
            let n = span_number(span).unwrap() as u64;
            span.trace_id = trace_id(n).to_vec();
            if n % 10 == 3 {
                span.status = Some(Status {
                    code: 2,
                    message: "payment declined".into(),
                });
            }
            if n % 10 == 7 {
                span.end_time_unix_nano = span.start_time_unix_nano + 750_000_000;
            }
        }
        client.export(batch).await.unwrap();
    }
    let total = batches * per_batch;
    let expected: HashSet<u64> = (0..total)
        .filter(|n| n % 10 == 3 || n % 10 == 7 || rust_rule_keeps(&trace_id(*n), 0.25))
        .collect();
    sink.wait_for(expected.len(), Duration::from_secs(30)).await;
    weft.shutdown().await;
    let kept: HashSet<u64> = sink
        .spans()
        .iter()
        .map(|span| span_number(span).unwrap() as u64)
        .collect();
    assert_eq!(sink.span_count(), kept.len(), "no span twice");
    assert_eq!(
        kept, expected,
        "every error and slow span, and exactly the ordinary traces the Rust rule keeps"
    );
    let ordinary = (0..total).filter(|n| n % 10 != 3 && n % 10 != 7).count() as f64;
    let ordinary_kept = kept.iter().filter(|n| *n % 10 != 3 && *n % 10 != 7).count() as f64;
    let sigma = (ordinary * 0.25 * 0.75).sqrt();
    assert!(
        (ordinary_kept - ordinary * 0.25).abs() < 4.0 * sigma,
        "kept {ordinary_kept} of {ordinary} ordinary spans at ratio 0.25"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_sampler_refuses_a_bad_config_with_the_key() {
    let sink = OtlpSink::start().await;
    let chain = c_sampler("ratio = 1.5");
    let config = weft::config::LoadedConfig::from_str(
        &config_with(&chain, sink.addr()),
        std::path::PathBuf::from("."),
        "test config".into(),
    )
    .unwrap();
    let error = weft::service::RunningService::start(config)
        .await
        .err()
        .expect("a ratio above 1 is refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("sample-c") && message.contains("`ratio`: expected a number from 0 to 1"),
        "{message}"
    );
}
