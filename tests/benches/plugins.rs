//! Each reference plugin's throughput inside the host (view, guest call, edits applied) against
//! the same plugin code compiled natively and run on an equivalent batch, in the same run.
//!
//! `cargo bench -p weft-tests --bench plugins`

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message;
use weft::contract::{apply_edits, build_view_into, empty_view};
use weft::pdata::Traces;
use weft::sandbox::{Limits, LoadedPlugin, PluginEngine};
use weft_sdk::testing::BatchBuilder;
use weft_sdk::{Processor, StatusCode, TraceId};
use weft_tests::spans::{clean_span, request, request_of};

const BATCH: u64 = 512;
const ROUND: Duration = Duration::from_millis(700);
/// Batches per timed round in the host (each freshly decoded).
const COPIES: usize = 300;

/// Spans per second through the plugin inside the host, best of three rounds. Each batch is
/// decoded from protobuf just before the clock runs for it, as a worker gets it from the
/// receiver: the stage's cost is timed, not the decoding (a worker owns its batch and edits
/// it in place). Decoded, not cloned: a clone's attribute lists have no spare capacity, so
/// every attribute an edit adds would reallocate its span's list, which prost's lists (ten
/// attributes in room for sixteen) do not.
fn in_host(
    engine: &PluginEngine,
    builtin: &str,
    config: &str,
    input: &ExportTraceServiceRequest,
) -> f64 {
    in_host_bytes(
        engine,
        builtin,
        weft::builtin::plugin(builtin).unwrap(),
        config,
        input,
    )
}

/// [`in_host`] for any component's bytes.
fn in_host_bytes(
    engine: &PluginEngine,
    name: &str,
    bytes: &[u8],
    config: &str,
    input: &ExportTraceServiceRequest,
) -> f64 {
    // Interpreters (CPython, SpiderMonkey) need more than the 64 MiB default on 512-span batches.
    let limits = Limits {
        memory_bytes: 512 << 20,
        ..Limits::default()
    };
    let plugin =
        Arc::new(LoadedPlugin::load(engine, name, bytes, config.to_owned(), limits).unwrap());
    let mut instance = plugin.instantiate().unwrap();
    // As in a worker: every batch's view is built in the same storage.
    let mut view = empty_view();
    let encoded = bytes::Bytes::from(input.encode_to_vec());
    let mut best = 0f64;
    for _ in 0..3 {
        let mut elapsed = Duration::ZERO;
        for _ in 0..COPIES {
            let mut request = Traces::decode_unchecked_ids(encoded.clone()).unwrap();
            let started = Instant::now();
            build_view_into(&request, plugin.interest(), &mut view);
            let edits = instance.process(&view).unwrap();
            apply_edits(&mut request, edits).unwrap();
            elapsed += started.elapsed();
        }
        best = best.max((COPIES * BATCH as usize) as f64 / elapsed.as_secs_f64());
    }
    best
}

/// Spans per second for the same plugin code run natively on an equivalent batch.
fn native<P: Processor>(config: &str, batch: &weft_sdk::Batch) -> f64 {
    let mut processor = P::init(config).unwrap();
    best_of_three(|| {
        std::hint::black_box(weft_sdk::testing::run(&mut processor, batch).unwrap());
    })
}

fn best_of_three(mut one_batch: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let mut spans = 0u64;
        while started.elapsed() < ROUND {
            one_batch();
            spans += BATCH;
        }
        best = best.max(spans as f64 / started.elapsed().as_secs_f64());
    }
    best
}

/// The SDK's view of the same spans, as the host would build it for a plugin reading everything.
fn sdk_batch(request: &ExportTraceServiceRequest) -> weft_sdk::Batch {
    let mut builder = BatchBuilder::new().resource_attribute("service.name", "checkout");
    for span in request
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
    {
        builder = builder.span_with(&span.name, |s| {
            s.trace_id = TraceId {
                high: u64::from_be_bytes(span.trace_id[..8].try_into().unwrap()),
                low: u64::from_be_bytes(span.trace_id[8..].try_into().unwrap()),
            };
            s.span_id = u64::from_be_bytes(span.span_id[..].try_into().unwrap());
            s.start_time_unix_nano = span.start_time_unix_nano;
            s.end_time_unix_nano = span.end_time_unix_nano;
            s.status_code = StatusCode::Ok;
        });
        for kv in &span.attributes {
            builder = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => builder.attribute(&kv.key, s.as_str()),
                Some(any_value::Value::IntValue(i)) => builder.attribute(&kv.key, *i),
                _ => builder,
            };
        }
    }
    builder.build()
}

fn main() {
    let engine = PluginEngine::new().unwrap();
    let input = request(0, BATCH);
    let batch = sdk_batch(&input);
    let enrich = r#"{"actions": [
        {"action": "upsert", "key": "deployment.environment", "value": "prod"},
        {"action": "insert", "key": "team", "value": "payments", "when": {"service": "checkout"}},
        {"action": "normalize_route", "key": "http.route.normalized", "from_attribute": "url.path"}
    ]}"#;
    let sample =
        r#"{"default_ratio": 0.1, "rules": [{"keep_errors": true}, {"slower_than_ms": 2000}]}"#;
    let redact = "{}";
    println!(
        "reference plugins, {BATCH}-span batches of checkout spans (10 attributes, 3 with PII)"
    );
    println!(
        "{:<12} {:>14} {:>14} {:>12}",
        "plugin", "in weft sp/s", "native sp/s", "weft/native"
    );
    let rows = [
        (
            "pii-redact",
            in_host(&engine, "pii-redact", redact, &input),
            native::<weft_plugin_pii_redact::PiiRedact>(redact, &batch),
        ),
        (
            "enrich",
            in_host(&engine, "enrich", enrich, &input),
            native::<weft_plugin_enrich::Enrich>(enrich, &batch),
        ),
        (
            "sample",
            in_host(&engine, "sample", sample, &input),
            native::<weft_plugin_sample::Sample>(sample, &batch),
        ),
    ];
    for (name, host, native) in &rows {
        println!(
            "{name:<12} {host:>14.0} {native:>14.0} {:>11.2}x",
            host / native
        );
    }
    // Most traffic carries no personal data: the redactor's cost on spans with 10 string
    // attributes (routes, queries, ids, versions) that must all pass untouched.
    let clean = request_of((0..BATCH).map(clean_span).collect());
    println!(
        "pii-redact, spans with 10 string attributes and no PII: {:.0} sp/s in weft, {:.0} native",
        in_host(&engine, "pii-redact", redact, &clean),
        native::<weft_plugin_pii_redact::PiiRedact>(redact, &sdk_batch(&clean)),
    );
    // The Python, JavaScript and C examples, inside weft (no native counterpart), against the
    // Rust plugin doing comparable work in the same run.
    let file = |name: &str| std::fs::read(weft_tests::fixture(name)).unwrap();
    let polyglot = [
        ("python-redact", file("python-redact"), "{}", rows[0].1),
        (
            "js-enrich",
            file("javascript-enrich"),
            r#"{"set": {"deployment.environment": "prod"}}"#,
            rows[1].1,
        ),
        (
            "c-sample",
            file("c-sample"),
            r#"{"ratio": 0.1, "keep_errors": true, "slower_than_ms": 2000}"#,
            rows[2].1,
        ),
    ];
    println!(
        "{:<14} {:>14} {:>16}",
        "plugin", "in weft sp/s", "vs Rust in weft"
    );
    for (name, bytes, config, rust) in polyglot {
        let speed = in_host_bytes(&engine, name, &bytes, config, &input);
        println!("{name:<14} {speed:>14.0} {:>15.2}x", speed / rust);
    }
}
