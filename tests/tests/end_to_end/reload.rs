//! Hot reload under load: plugin files swapped back and forth while spans flow, and broken
//! files refused while the running version keeps serving.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::client::{grpc_client, post};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, span_number, string_attribute};
use weft_tests::{fixture, scratch_dir};

const PER_REQUEST: u64 = 200;
const MIN_SPANS: u64 = 200_000;
const CYCLES: usize = 10;

/// Replaces `dest` the way deploy tools do: write a temporary file, rename it into place.
fn deploy(source: &[u8], dest: &Path) {
    let partial = dest.with_extension("partial");
    std::fs::write(&partial, source).unwrap();
    std::fs::rename(&partial, dest).unwrap();
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_plugins_under_load_loses_no_span_and_switches_cleanly() {
    let dir = scratch_dir("reload");
    let plugin = dir.join("stamp.wasm");
    let v1 = std::fs::read(fixture("stamp-v1")).unwrap();
    let v2 = std::fs::read(fixture("stamp-v2")).unwrap();
    std::fs::write(&plugin, &v1).unwrap();
    let sink = OtlpSink::start().await;
    let config = dir.join("weft.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[receivers.otlp.grpc]
endpoint = "127.0.0.1:0"
[pipeline]
cache_dir = "cache"
[reload]
debounce_ms = 100
[admin]
endpoint = "127.0.0.1:0"
[[processors]]
name = "stamp"
plugin = "stamp.wasm"
# The stamp fixtures ignore their config; the faulty fixture refuses to start with it.
config = {{ mode = "refuse" }}
[exporters.sink]
type = "otlp"
endpoint = "http://{}"
[exporters.sink.batch]
timeout_ms = 20
"#,
            sink.addr()
        ),
    )
    .unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&config).unwrap())
        .await
        .unwrap();
    let addr = weft.grpc_addr().unwrap();

    // Continuous load from two clients; span numbers are handed out before each request is built.
    let next = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..2)
        .map(|_| {
            let (next, stop) = (next.clone(), stop.clone());
            tokio::spawn(async move {
                let mut client = grpc_client(addr).await;
                let mut latencies = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let first = next.fetch_add(PER_REQUEST, Ordering::SeqCst);
                    let started = Instant::now();
                    client
                        .export(request(first, PER_REQUEST))
                        .await
                        .expect("no error reaches the client");
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();

    // (first span number built after the swap completed, first number that may see the next
    // swap, expected version)
    let mut windows: Vec<(u64, u64, &str)> = Vec::new();
    let mut latencies = Vec::new();
    let mut settled = next.load(Ordering::SeqCst);
    let mut version = "1";
    for cycle in 0..CYCLES * 2 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (bytes, new_version) = if cycle % 2 == 0 {
            (&v2, "2")
        } else {
            (&v1, "1")
        };
        let before = weft.reload().generation();
        let pre = next.load(Ordering::SeqCst);
        windows.push((settled, pre, version));
        let written = Instant::now();
        if cycle == 4 {
            std::fs::write(&plugin, bytes).unwrap(); // an in-place write works too
        } else {
            deploy(bytes, &plugin);
        }
        wait_until("the new version to serve", || {
            weft.reload().generation() > before
        })
        .await;
        latencies.push((cycle, written.elapsed()));
        settled = next.load(Ordering::SeqCst);
        version = new_version;
    }

    // Broken files: each is refused, counted, and the running version keeps serving.
    let wrong_world = std::fs::read(fixture("wrong-world")).unwrap();
    let refuses_init = std::fs::read(fixture("faulty")).unwrap();
    for (what, bytes) in [
        ("garbage", b"\0asm but not really".to_vec()),
        ("wrong world", wrong_world),
        ("init refuses", refuses_init),
    ] {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let refused = weft.stats().snapshot().reloads_refused;
        let generation = weft.reload().generation();
        deploy(&bytes, &plugin);
        wait_until(what, || weft.stats().snapshot().reloads_refused > refused).await;
        assert_eq!(
            weft.reload().generation(),
            generation,
            "{what}: the chain must not change"
        );
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    while next.load(Ordering::SeqCst) < MIN_SPANS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end = next.load(Ordering::SeqCst);
    windows.push((settled, end, version));
    stop.store(true, Ordering::SeqCst);
    let mut request_latencies: Vec<Duration> = Vec::new();
    for task in load {
        request_latencies.extend(task.await.unwrap());
    }
    // Every number handed out was sent: a client checks `stop` before taking the next block.
    let sent = next.load(Ordering::SeqCst);
    let stats_refused = weft.stats().snapshot().reloads_refused;
    assert_eq!(stats_refused, 3, "each broken file is counted once");
    weft.shutdown().await;

    let spans = sink.spans();
    let mut by_number: HashMap<u64, &str> = HashMap::new();
    for span in &spans {
        let n = span_number(span).unwrap() as u64;
        let stamps: Vec<_> = span.attributes.iter().filter(|kv| kv.key == "v").collect();
        assert_eq!(
            stamps.len(),
            1,
            "span {n} carries exactly one version stamp"
        );
        assert!(
            by_number
                .insert(n, string_attribute(span, "v").unwrap())
                .is_none(),
            "span {n} arrived twice"
        );
    }
    assert!(sent >= MIN_SPANS);
    assert_eq!(
        spans.len() as u64,
        sent,
        "every span sent arrives exactly once"
    );
    for (from, to, version) in &windows {
        for n in *from..*to {
            if let Some(stamp) = by_number.get(&n) {
                assert_eq!(
                    stamp, version,
                    "span {n}, built after the swap to v{version} completed"
                );
            }
        }
    }
    let first_swap = latencies[0].1;
    let mut cached: Vec<Duration> = latencies[2..].iter().map(|(_, d)| *d).collect();
    eprintln!(
        "reload latency, file written -> new version serving (Rust plugin, debounce 100 ms): uncached {:?}, cached median {:?}, max {:?}",
        first_swap,
        percentile(&mut cached, 0.5),
        percentile(&mut cached, 1.0)
    );
    eprintln!(
        "{} requests during {} swaps: p50 {:?}, p99 {:?}; {} spans; {stats_refused} broken files refused",
        request_latencies.len(),
        CYCLES * 2,
        percentile(&mut request_latencies, 0.5),
        percentile(&mut request_latencies, 0.99),
        spans.len()
    );
}

fn chain_config(sink: std::net::SocketAddr, processors: &str) -> String {
    format!(
        r#"
[receivers.otlp.grpc]
endpoint = "127.0.0.1:0"
[pipeline]
component_cache = false
[reload]
debounce_ms = 50
[admin]
endpoint = "127.0.0.1:0"
{processors}
[exporters.sink]
type = "otlp"
endpoint = "http://{sink}"
[exporters.sink.batch]
timeout_ms = 20
"#
    )
}

const STAGE_A: &str = r#"
[[processors]]
name = "stage"
plugin = "builtin:enrich"
config = { actions = [{ action = "upsert", key = "stage", value = "a" }] }
"#;

const STAGE_B_AND_EXTRA: &str = r#"
[[processors]]
name = "extra"
plugin = "builtin:enrich"
config = { actions = [{ action = "upsert", key = "extra", value = true }] }
[[processors]]
name = "stage"
plugin = "builtin:enrich"
config = { actions = [{ action = "upsert", key = "stage", value = "b" }] }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_changes_apply_live_and_an_invalid_config_is_refused_whole() {
    let dir = scratch_dir("config-reload");
    let sink = OtlpSink::start().await;
    let config = dir.join("weft.toml");
    std::fs::write(&config, chain_config(sink.addr(), STAGE_A)).unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&config).unwrap())
        .await
        .unwrap();
    let admin = weft.admin_addr().unwrap();
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client.export(request(0, 10)).await.unwrap();

    // A new processor and a changed config for the existing one: picked up from the file.
    deploy(
        chain_config(sink.addr(), STAGE_B_AND_EXTRA).as_bytes(),
        &config,
    );
    wait_until("the new chain", || weft.reload().generation() == 1).await;
    client.export(request(100, 10)).await.unwrap();

    // An invalid config, reloaded on demand: refused whole, every error listed, old chain kept.
    let broken = chain_config(sink.addr(), STAGE_A)
        .replace("debounce_ms = 50", "debounce_ms = 50\ncolour = \"red\"")
        .replace("plugin = \"builtin:enrich\"", "plugin = \"builtin:nope\"");
    std::fs::write(&config, broken).unwrap();
    let (status, body) = post(admin, "/reload").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("reload.colour: unknown field `colour`"),
        "{body}"
    );
    assert!(
        body.contains("processors[0] (\\\"stage\\\").plugin: no built-in plugin \\\"nope\\\""),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        weft.reload().generation(),
        1,
        "the refused config changed nothing"
    );
    client.export(request(200, 10)).await.unwrap();

    // Fixing the file and asking again applies it.
    std::fs::write(&config, chain_config(sink.addr(), STAGE_A)).unwrap();
    let (status, body) = post(admin, "/reload").await;
    assert_eq!(status, 200, "{body}");
    client.export(request(300, 10)).await.unwrap();
    assert_eq!(sink.wait_for(40, Duration::from_secs(20)).await, 40);
    weft.shutdown().await;

    for span in sink.spans() {
        let n = span_number(&span).unwrap();
        let (stage, extra) = match n / 100 {
            0 | 3 => ("a", false),
            _ => ("b", true),
        };
        assert_eq!(string_attribute(&span, "stage"), Some(stage), "span {n}");
        assert_eq!(
            span.attributes.iter().any(|kv| kv.key == "extra"),
            extra,
            "span {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_and_exporters_are_replaced_live_without_losing_accepted_spans() {
    let dir = scratch_dir("topology-reload");
    let first_sink = OtlpSink::start().await;
    let second_sink = OtlpSink::start().await;
    let config = dir.join("weft.toml");
    std::fs::write(&config, chain_config(first_sink.addr(), STAGE_A)).unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&config).unwrap())
        .await
        .unwrap();
    let admin = weft.admin_addr().unwrap();
    let old_grpc = weft.grpc_addr().unwrap();
    let mut client = grpc_client(old_grpc).await;
    for i in 0..5 {
        client.export(request(i * 100, 100)).await.unwrap();
    }

    // A new exporter destination and a new gRPC listener (port 0: a fresh port).
    let moved = chain_config(second_sink.addr(), STAGE_A).replace(
        "[receivers.otlp.grpc]\nendpoint = \"127.0.0.1:0\"",
        "[receivers.otlp.grpc]\nendpoint = \"127.0.0.1:0\"\nmax_request_bytes = 2097152",
    );
    std::fs::write(&config, moved).unwrap();
    let (status, body) = post(admin, "/reload").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("exporters.sink") && body.contains("receivers.otlp.grpc"),
        "{body}"
    );
    let new_grpc = weft.grpc_addr().unwrap();
    assert_ne!(
        new_grpc, old_grpc,
        "the gRPC receiver moved to its new listener"
    );
    let mut client = grpc_client(new_grpc).await;
    for i in 5..10 {
        client.export(request(i * 100, 100)).await.unwrap();
    }
    assert_eq!(
        second_sink.wait_for(500, Duration::from_secs(20)).await,
        500
    );
    weft.shutdown().await;

    // Everything accepted before the change went to the first sink, everything after to the second.
    let numbers = |sink: &OtlpSink| {
        let mut n: Vec<i64> = sink
            .spans()
            .iter()
            .map(|s| span_number(s).unwrap())
            .collect();
        n.sort();
        n
    };
    assert_eq!(numbers(&first_sink), (0..500).collect::<Vec<_>>());
    assert_eq!(numbers(&second_sink), (500..1000).collect::<Vec<_>>());
}
