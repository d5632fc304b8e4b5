//! A drop-in plugin directory (`[pipeline] chain = "directory"`) under load: components
//! copied in join the chain in file-name order, a removed one leaves it, a corrupt one is
//! refused and the chain stays — all live, with no span lost.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::client::{get, grpc_client, metric_sample};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{number_of, request, string_attribute};
use weft_tests::{config_with, scratch_dir};

/// Writes a file whole: written aside, then renamed into place, as deployment tools do.
fn put(path: &Path, bytes: &[u8]) {
    let aside = path.with_extension("partial");
    std::fs::write(&aside, bytes).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

/// An enrich component named `name` in `dir` whose sidecar applies `action` to `drop.order`.
fn drop_in(dir: &Path, name: &str, action: &str, value: &str) {
    put(
        &dir.join(format!("{name}.toml")),
        format!(
            "[config]\nactions = [{{ action = \"{action}\", key = \"drop.order\", value = \"{value}\" }}]\n"
        )
        .as_bytes(),
    );
    put(
        &dir.join(format!("{name}.wasm")),
        weft::builtin::plugin("enrich").unwrap(),
    );
}

/// Waits until a span sent after `from` (its number) arrives with `drop.order` = `want`
/// (`None`: without the attribute).
async fn wait_for_order(sink: &OtlpSink, from: u64, want: Option<&str>, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = sink.spans().iter().any(|s| {
            let n = number_of(s);
            n >= from && string_attribute(s, "drop.order") == want
        });
        if seen {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_dropped_in_join_in_order_leave_and_a_corrupt_one_is_refused_live() {
    let sink = OtlpSink::start().await;
    let dir = scratch_dir("drop-in");
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    let config = config_with("", sink.addr())
        .replace(
            "[pipeline]\n",
            "[pipeline]\nchain = \"directory\"\nplugin_dir = \"plugins\"\n",
        )
        .replace("[admin]", "[reload]\ndebounce_ms = 100\n[admin]");
    std::fs::write(dir.join("weft.toml"), config).unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&dir.join("weft.toml")).unwrap())
        .await
        .unwrap();
    let admin = weft.admin_addr().unwrap();

    // Load all along: requests of 10 numbered spans, one after the other.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let load = {
        let (stop, sent) = (stop.clone(), sent.clone());
        let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
        tokio::spawn(async move {
            let mut acked = HashSet::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                if client.export(request(n, 10)).await.is_ok() {
                    acked.extend(n..n + 10);
                }
                n += 10;
                sent.store(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            acked
        })
    };
    let now = || sent.load(Ordering::SeqCst);

    // Two components join, in file-name order: 20-b updates what 10-a set, so "b" shows
    // that 10-a ran first (in the other order the update would find nothing to update).
    drop_in(&plugins, "20-b", "update", "b");
    drop_in(&plugins, "10-a", "upsert", "a");
    wait_for_order(&sink, now(), Some("b"), "10-a then 20-b").await;

    // Removing one shrinks the chain.
    std::fs::remove_file(plugins.join("20-b.wasm")).unwrap();
    wait_for_order(&sink, now(), Some("a"), "the chain without 20-b").await;

    // A corrupt component is refused; the chain stays as it was.
    let refused_before = metric_sample(
        &get(admin, "/metrics").await.1,
        "weft_reloads_total{outcome=\"refused\"}",
    );
    put(&plugins.join("30-bad.wasm"), b"not a component");
    let deadline = Instant::now() + Duration::from_secs(60);
    while metric_sample(
        &get(admin, "/metrics").await.1,
        "weft_reloads_total{outcome=\"refused\"}",
    ) == refused_before
    {
        assert!(
            Instant::now() < deadline,
            "the corrupt component was not refused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after_refusal = now();
    wait_for_order(
        &sink,
        after_refusal,
        Some("a"),
        "the chain kept after the refusal",
    )
    .await;
    let (_, plugins_status) = get(admin, "/api/plugins").await;
    assert!(plugins_status.contains("10-a"), "{plugins_status}");

    stop.store(true, Ordering::SeqCst);
    let acked = load.await.unwrap();
    assert!(acked.len() > 100, "{} spans acknowledged", acked.len());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got: HashSet<u64> = sink.spans().iter().map(number_of).collect();
        let missing = acked.difference(&got).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged spans lost"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    weft.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
