//! A load-balancing gateway in front of three tail-sampling Wefts (real processes on
//! 127.0.0.1): every trace reaches one backend and is decided once; a backend killed mid-run
//! leaves the ring, its traces go to the new owners, and nothing acknowledged is lost.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;
use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::client::{get, grpc_client};
use weft_tests::process::WeftProcess;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{number_of, request_of, span, string_attribute};
use weft_tests::{free_port, scratch_dir};

/// Spans per trace in `spans::span` numbering (trace id from `n / 8`).
const SPANS_PER_TRACE: u64 = 8;

/// A tail-sampling backend that keeps every trace 800 ms after its first span, tags its spans
/// with its name, and keeps what it acknowledged in a persistent queue.
fn backend_config(name: &str, port: u16, sink: SocketAddr) -> String {
    format!(
        r#"
[receivers.otlp.grpc]
endpoint = "127.0.0.1:{port}"
[receivers.otlp.http]
endpoint = "127.0.0.1:0"
[pipeline]
component_cache = false
[pipeline.persistence]
dir = "data-{name}"
[admin]
endpoint = "127.0.0.1:0"

[[processors]]
name = "tail"
plugin = "builtin:tail-policy"
[processors.tail_sampling]
decision_wait_ms = 800
[processors.config]
rules = [{{ name = "all", ratio = 1.0 }}]

[[processors]]
name = "tag"
plugin = "builtin:enrich"
config = {{ actions = [{{ action = "upsert", key = "weft.backend", value = "{name}" }}] }}

[exporters.sink]
type = "otlp"
endpoint = "http://{sink}"
[exporters.sink.batch]
timeout_ms = 20
"#
    )
}

fn gateway_config(backends: &[u16]) -> String {
    let list: Vec<String> = backends
        .iter()
        .map(|p| format!("\"127.0.0.1:{p}\""))
        .collect();
    format!(
        r#"
[receivers.otlp.grpc]
endpoint = "127.0.0.1:0"
[pipeline]
component_cache = false
[reload]
watch = false
[admin]
endpoint = "127.0.0.1:0"

[exporters.tier]
type = "loadbalancing"
[exporters.tier.resolver]
static = [{}]
[exporters.tier.batch]
timeout_ms = 20
[exporters.tier.retry]
initial_backoff_ms = 10
max_backoff_ms = 100
max_elapsed_ms = 1000
[exporters.tier.health]
eject_after_failures = 2
probe_interval_ms = 200
"#,
        list.join(", ")
    )
}

/// Sends spans `numbers` in a shuffled order, ten to a request, from four clients, over
/// about `over`. Returns the numbers acknowledged.
async fn send_shuffled(
    gateway: SocketAddr,
    numbers: std::ops::Range<u64>,
    over: Duration,
) -> HashSet<u64> {
    let mut order: Vec<u64> = numbers.collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..order.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let chunks: Vec<Vec<u64>> = order.chunks(10).map(<[u64]>::to_vec).collect();
    let pause = over / (chunks.len() as u32 / 4).max(1);
    let mut tasks = Vec::new();
    for client in 0..4 {
        let mine: Vec<Vec<u64>> = chunks.iter().skip(client).step_by(4).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut client = grpc_client(gateway).await;
            let mut acked = Vec::new();
            for chunk in mine {
                let spans: Vec<Span> = chunk.iter().map(|n| span(*n, "checkout")).collect();
                if client.export(request_of(spans)).await.is_ok() {
                    acked.extend(chunk);
                }
                tokio::time::sleep(pause).await;
            }
            acked
        }));
    }
    let mut acked = HashSet::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    acked
}

/// Per trace (its `spans::span` number / 8), the backends that tagged its spans; and the span
/// numbers received.
fn by_trace(sink: &OtlpSink) -> (HashMap<u64, HashSet<String>>, HashSet<u64>) {
    let mut traces: HashMap<u64, HashSet<String>> = HashMap::new();
    let mut numbers = HashSet::new();
    for span in sink.spans() {
        let n = number_of(&span);
        numbers.insert(n);
        let backend = string_attribute(&span, "weft.backend")
            .unwrap_or("none")
            .to_owned();
        traces
            .entry(n / SPANS_PER_TRACE)
            .or_default()
            .insert(backend);
    }
    (traces, numbers)
}

async fn wait_for(sink: &OtlpSink, wanted: &HashSet<u64>, within: Duration) {
    let deadline = Instant::now() + within;
    while !wanted.is_subset(&by_trace(sink).1) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Traces decided by a backend, from its metrics.
async fn decisions(admin: SocketAddr) -> u64 {
    let (_, scrape) = get(admin, "/metrics").await;
    scrape
        .lines()
        .filter(|l| l.starts_with("weft_tail_decisions_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

fn spawn_backend(dir: &Path, name: &str, port: u16, sink: SocketAddr) -> WeftProcess {
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(&config, backend_config(name, port, sink)).unwrap();
    WeftProcess::spawn(&config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_one_backend_each_and_survive_a_backend_killed_mid_run() {
    let sink = OtlpSink::start().await;
    let dir = scratch_dir("loadbalancing");
    let ports = [free_port(), free_port(), free_port()];
    let names = ["b0", "b1", "b2"];
    let mut backends: Vec<Option<WeftProcess>> = names
        .iter()
        .zip(ports)
        .map(|(name, port)| Some(spawn_backend(&dir, name, port, sink.addr())))
        .collect();
    let gateway_file = dir.join("gateway.toml");
    std::fs::write(&gateway_file, gateway_config(&ports)).unwrap();
    let gateway = RunningService::start(LoadedConfig::from_file(&gateway_file).unwrap())
        .await
        .unwrap();
    let entry = gateway.grpc_addr().unwrap();

    // 1. 150 traces of 8 spans, shuffled over 1.5 s: each reaches one backend, decided once.
    let first = 0..150 * SPANS_PER_TRACE;
    let acked = send_shuffled(entry, first.clone(), Duration::from_millis(1500)).await;
    assert_eq!(
        acked.len() as u64,
        first.end,
        "every request is acknowledged"
    );
    wait_for(&sink, &acked, Duration::from_secs(60)).await;
    let (traces, received) = by_trace(&sink);
    assert!(
        acked.is_subset(&received),
        "spans lost with every backend up"
    );
    let split: Vec<_> = traces.iter().filter(|(_, b)| b.len() > 1).collect();
    assert!(
        split.is_empty(),
        "traces that reached two backends: {split:?}"
    );
    let used: HashSet<&String> = traces.values().flatten().collect();
    assert_eq!(
        used.len(),
        3,
        "the ring spreads traces over all three: {used:?}"
    );
    let mut decided = 0;
    for backend in backends.iter().flatten() {
        decided += decisions(backend.admin).await;
    }
    assert_eq!(decided, 150, "one decision per trace");
    let owner_before: HashMap<u64, String> = traces
        .iter()
        .map(|(t, b)| (*t, b.iter().next().unwrap().clone()))
        .collect();

    // 2. The same again for new traces, with b1 killed (SIGKILL) a third of the way in. Its
    // traces go to the new owners; what it had acknowledged is in its persistent queue, sent
    // when it comes back (as a StatefulSet pod would, with its volume).
    let second = first.end..first.end + 150 * SPANS_PER_TRACE;
    let sending = tokio::spawn(send_shuffled(
        entry,
        second.clone(),
        Duration::from_millis(3000),
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    backends[1].take().unwrap().kill_9();
    let acked = sending.await.unwrap();
    assert_eq!(
        acked.len() as u64,
        second.end - second.start,
        "the gateway acknowledges everything while a backend is down"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    backends[1] = Some(spawn_backend(&dir, "b1", ports[1], sink.addr()));
    wait_for(&sink, &acked, Duration::from_secs(90)).await;
    let (traces, received) = by_trace(&sink);
    let missing: Vec<&u64> = acked.difference(&received).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged spans lost",
        missing.len()
    );
    let split: Vec<u64> = traces
        .iter()
        .filter(|(t, b)| **t >= second.start / SPANS_PER_TRACE && b.len() > 1)
        .map(|(t, _)| *t)
        .collect();
    // Consistent hashing: traces of the first round stayed where they were.
    for (trace, owner) in &owner_before {
        assert_eq!(traces[trace], HashSet::from([owner.clone()]));
    }
    let (_, scrape) = get(gateway.admin_addr().unwrap(), "/metrics").await;
    eprintln!(
        "second round: {} of 150 traces split between b1 (before its kill) and a new owner, \
         each part decided on its own; gateway: {}",
        split.len(),
        scrape
            .lines()
            .filter(
                |l| l.starts_with("weft_exporter_ring_changes_total{exporter=\"tier\"}")
                    || l.starts_with("weft_exporter_spans_rerouted_total{exporter=\"tier/")
            )
            .collect::<Vec<_>>()
            .join("; ")
    );
    // Only b1's share can split.
    for trace in &split {
        assert!(
            traces[trace].contains("b1"),
            "trace {trace} split without b1"
        );
    }
    gateway.shutdown().await;
    drop(backends);
    std::fs::remove_dir_all(&dir).unwrap();
}
