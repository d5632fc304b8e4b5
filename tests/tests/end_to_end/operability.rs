//! What operators rely on: `/metrics` matching what was sent and dropped, `/readyz` flipping
//! when a processor fails to load and recovering, `/api/plugins` saying why, and the Grafana
//! dashboard in `examples/observability` querying only metrics weft exports.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::client::{get, grpc_client, metric_sample as sample};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::request_named;
use weft_tests::{config_with, fixture, scratch_dir, start_weft};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_was_sent_dropped_and_failed() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "faulty"
plugin = "{}"
on_error = "drop"
[[processors]]
name = "stamp"
plugin = "builtin:enrich"
config = {{ actions = [{{ action = "upsert", key = "stamped", value = true }}] }}
"#,
        fixture("faulty")
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let admin = weft.admin_addr().unwrap();
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    // 6 good batches of 10 spans, 3 the plugin fails (dropped by policy), and one batch of
    // 10 where the plugin drops 5 spans by verdict.
    for i in 0..6 {
        client
            .export(request_named(i * 10, 10, |_| "ok".into()))
            .await
            .unwrap();
    }
    for i in 0..3 {
        client
            .export(request_named(100 + i * 10, 10, |_| "error".into()))
            .await
            .unwrap();
    }
    client
        .export(request_named(200, 10, |n| {
            if n % 2 == 0 {
                "drop-me".into()
            } else {
                "ok".into()
            }
        }))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(65, Duration::from_secs(20)).await, 65);
    // Wait for the exporter's counter to catch up with the sink.
    let deadline = Instant::now() + Duration::from_secs(10);
    let scrape = loop {
        let (status, scrape) = get(admin, "/metrics").await;
        assert_eq!(status, 200);
        if sample(&scrape, "weft_exporter_spans_sent_total{exporter=\"sink\"}") == 65
            || Instant::now() > deadline
        {
            break scrape;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    weft.shutdown().await;

    assert_eq!(
        sample(
            &scrape,
            "weft_receiver_spans_accepted_total{protocol=\"grpc\"}"
        ),
        100
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_receiver_spans_refused_total{protocol=\"grpc\"}"
        ),
        0
    );
    assert_eq!(
        sample(&scrape, "weft_processor_calls_total{processor=\"faulty\"}"),
        10
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_spans_in_total{processor=\"faulty\"}"
        ),
        100
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_spans_out_total{processor=\"faulty\"}"
        ),
        65
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_spans_dropped_total{processor=\"faulty\"}"
        ),
        5
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_errors_total{processor=\"faulty\",kind=\"error\"}"
        ),
        3
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_errors_total{processor=\"faulty\",kind=\"trap\"}"
        ),
        0
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_duration_seconds_count{processor=\"faulty\"}"
        ),
        10
    );
    assert_eq!(
        sample(&scrape, "weft_processor_calls_total{processor=\"stamp\"}"),
        7
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_spans_in_total{processor=\"stamp\"}"
        ),
        65
    );
    assert_eq!(
        sample(&scrape, "weft_pipeline_spans_dropped_on_error_total"),
        30
    );
    assert_eq!(
        sample(&scrape, "weft_exporter_spans_sent_total{exporter=\"sink\"}"),
        65
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_exporter_spans_failed_total{exporter=\"sink\"}"
        ),
        0
    );
    assert!(scrape.contains("# TYPE weft_processor_duration_seconds histogram"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_flips_when_a_plugin_fails_to_load_and_recovers_and_a_removed_file_keeps_serving() {
    let dir = scratch_dir("readyz");
    let plugin = dir.join("stamp.wasm");
    let v1 = std::fs::read(fixture("stamp-v1")).unwrap();
    std::fs::write(&plugin, &v1).unwrap();
    let sink = OtlpSink::start().await;
    let config = dir.join("weft.toml");
    let processors = "[[processors]]\nname = \"stamp\"\nplugin = \"stamp.wasm\"\n";
    std::fs::write(
        &config,
        config_with(processors, sink.addr())
            .replace("[pipeline]", "[reload]\ndebounce_ms = 50\n[pipeline]"),
    )
    .unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&config).unwrap())
        .await
        .unwrap();
    let admin = weft.admin_addr().unwrap();
    assert_eq!(get(admin, "/readyz").await, (200, "ready\n".into()));
    let (_, plugins) = get(admin, "/api/plugins").await;
    let plugins: serde_json::Value = serde_json::from_str(&plugins).unwrap();
    assert_eq!(plugins[0]["processor"], "stamp");
    assert_eq!(plugins[0]["state"], "serving");
    assert_eq!(plugins[0]["size"], v1.len());

    std::fs::write(&plugin, b"this is not wasm").unwrap();
    let started = Instant::now();
    while weft.stats().snapshot().reloads_refused == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the broken plugin was never refused"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, body) = get(admin, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("processor \"stamp\" failed to load"),
        "{body}"
    );
    let (_, plugins) = get(admin, "/api/plugins").await;
    let plugins: serde_json::Value = serde_json::from_str(&plugins).unwrap();
    assert_eq!(plugins[0]["state"], "reload_failed");
    assert!(
        plugins[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("not a valid WebAssembly component"),
        "{plugins}"
    );
    // The old version still serves meanwhile.
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client
        .export(request_named(0, 5, |_| "x".into()))
        .await
        .unwrap();

    std::fs::write(&plugin, &v1).unwrap();
    let started = Instant::now();
    while get(admin, "/readyz").await.0 != 200 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "readyz never recovered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A removed plugin file: the loaded version keeps serving.
    let generation = weft.reload().generation();
    std::fs::remove_file(&plugin).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(weft.reload().generation(), generation);
    client
        .export(request_named(100, 5, |_| "y".into()))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(10, Duration::from_secs(10)).await, 10);
    weft.shutdown().await;
    assert!(
        sink.spans()
            .iter()
            .all(|s| s.attributes.iter().any(|kv| kv.key == "v"))
    );
}

/// Every metric the Grafana dashboard in `examples/observability` queries (panel `expr`s and
/// template variables) is a family weft exports, so a renamed or removed metric fails here
/// instead of leaving an empty panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_queries_only_metrics_weft_exports() {
    let sink = OtlpSink::start().await;
    let chain = r#"
[[processors]]
name = "stamp"
plugin = "builtin:enrich"
config = { actions = [{ action = "upsert", key = "stamped", value = true }] }
"#;
    let weft = start_weft(&config_with(chain, sink.addr())).await;
    let admin = weft.admin_addr().unwrap();
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client
        .export(request_named(0, 5, |_| "checkout".into()))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(5, Duration::from_secs(20)).await, 5);
    let (status, scrape) = get(admin, "/metrics").await;
    weft.shutdown().await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &scrape,
            "weft_receiver_spans_accepted_total{protocol=\"grpc\"}"
        ),
        5
    );
    let families: BTreeMap<&str, &str> = scrape
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.split_once(' '))
        .collect();

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/observability/grafana-dashboard.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    let used: BTreeSet<&str> = queries.iter().flat_map(|q| metric_names(q)).collect();
    assert!(
        used.len() >= 20,
        "only {} metric names found in the dashboard's queries: {used:?}",
        used.len()
    );
    let unknown: Vec<&str> = used
        .iter()
        .copied()
        .filter(|name| {
            if families.contains_key(name) {
                return false;
            }
            let histogram = ["_bucket", "_sum", "_count"].iter().any(|suffix| {
                name.strip_suffix(suffix)
                    .is_some_and(|family| families.get(family) == Some(&"histogram"))
            });
            !histogram
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics weft does not export: {unknown:?}\nexported families: {:?}",
        families.keys().collect::<Vec<_>>()
    );
}

/// The PromQL of every panel target (`expr`) and template variable (`query`, `definition`).
fn collect_queries<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value.as_str()) {
                    ("expr" | "query" | "definition", Some(query)) => out.push(query),
                    _ => collect_queries(value, out),
                }
            }
        }
        serde_json::Value::Array(values) => {
            for value in values {
                collect_queries(value, out);
            }
        }
        _ => {}
    }
}

/// The `weft_*` metric names in a PromQL expression.
fn metric_names(query: &str) -> Vec<&str> {
    let is_name = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_';
    let bytes = query.as_bytes();
    let mut names = Vec::new();
    let mut at = 0;
    while let Some(found) = query[at..].find("weft_") {
        let start = at + found;
        let mut end = start + "weft_".len();
        while end < bytes.len() && is_name(bytes[end]) {
            end += 1;
        }
        let glued =
            start > 0 && (is_name(bytes[start - 1]) || bytes[start - 1].is_ascii_uppercase());
        if !glued {
            names.push(&query[start..end]);
        }
        at = end;
    }
    names
}
