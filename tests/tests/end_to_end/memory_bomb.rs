//! A plugin that allocates until its cap on every batch, under load, in a real `weft` process:
//! the host's peak RSS stays under the ceiling its config sets, and does not grow from one
//! round of traps to the next.

use std::net::SocketAddr;
use std::time::Duration;

use prost::Message;
use weft_tests::client::post_traces;
use weft_tests::process::WeftProcess;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::request;
use weft_tests::{config_with_pipeline, fixture, scratch_dir};

const WORKERS: u64 = 2;
const PLUGIN_CAP_MB: u64 = 32;
const PIPELINE_CAP_MB: u64 = 16;

/// Sends `requests` requests of 100 spans from 4 concurrent clients; all must be accepted.
pub(crate) async fn load(http: SocketAddr, first: u64, requests: u64) {
    let clients: Vec<_> = (0..4)
        .map(|c| {
            tokio::spawn(async move {
                for r in (c..requests).step_by(4) {
                    let body = request(first + r * 100, 100).encode_to_vec();
                    let response =
                        post_traces(http, &[("content-type", "application/x-protobuf")], body)
                            .await;
                    assert_eq!(response.status, 200, "{:?}", response.body);
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_under_load_keeps_host_rss_under_its_ceiling() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "bomb"
plugin = "{}"
on_error = "pass"
memory_limit_mb = {PLUGIN_CAP_MB}
quarantine_after = 0
config = {{ attack = "alloc", every = 1 }}
"#,
        fixture("hostile")
    );
    let config = scratch_dir("memory-bomb").join("weft.toml");
    let settings = format!("workers = {WORKERS}\nmemory_limit_mb = {PIPELINE_CAP_MB}");
    std::fs::write(
        &config,
        config_with_pipeline(&chain, sink.addr(), &settings),
    )
    .unwrap();
    let weft = WeftProcess::spawn(&config);
    let http = weft.http;
    let (started, _) = weft.rss_mb();

    // Round 1: 100 batches; every instance's second batch is a bomb that fills its 32 MiB and
    // traps (the replacement passes its first batch, then bombs): 50 traps a round.
    load(http, 0, 100).await;
    assert_eq!(sink.wait_for(10_000, Duration::from_secs(60)).await, 10_000);
    let (after_first, _) = weft.rss_mb();
    // Round 2: as many again. Memory of trapped instances is given back, not kept.
    load(http, 1_000_000, 100).await;
    assert_eq!(sink.wait_for(20_000, Duration::from_secs(60)).await, 20_000);
    let (after_second, peak) = weft.rss_mb();
    drop(weft);
    // What the config allows: each worker's instance at its cap, the pipeline's admission
    // ceiling, and 64 MiB for the receivers' and exporters' buffers and the allocator.
    let ceiling = started + WORKERS * PLUGIN_CAP_MB + PIPELINE_CAP_MB + 64;
    eprintln!(
        "RSS MiB: started {started}, after 50 traps {after_first}, after 100 {after_second}, \
         peak {peak}, ceiling {ceiling}"
    );
    assert!(
        peak >= started + PLUGIN_CAP_MB,
        "the bombs went off: at least one instance filled its {PLUGIN_CAP_MB} MiB"
    );
    assert!(
        peak <= ceiling,
        "peak RSS {peak} MiB passed the ceiling {ceiling} MiB"
    );
    assert!(
        after_second <= after_first + 16,
        "RSS grew from {after_first} to {after_second} MiB over 50 more traps"
    );
}
