//! Micro-benchmarks of the host's per-batch work outside the guests, on the load generator's
//! 512-span requests (10 attributes per span, four with PII): reading a request (the validating
//! index walk, and prost's full decode beside it for comparison), the contract view each
//! reference plugin's interest asks for, applying the redactor's edits as patches, and export
//! encoding (protobuf, and protobuf + gzip for OTLP/HTTP) of untouched and patched batches, and
//! the tail-sampling stage's splitting of batches by trace and joining of traces.
//!
//! `cargo bench -p weft-bench --bench hot_paths` prints nanoseconds per span and spans/s per stage,
//! best of three rounds. The guests themselves are measured by `tests/benches/plugins.rs`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use weft::config::{Compression, ExporterConfig, OtlpExporterConfig};
use weft::contract::{apply_edits, build_view, build_view_into, empty_view};
use weft::exporter::Sink;
use weft::pdata::Traces;
use weft::pdata::traces::join_fragments;
use weft::sandbox::{Limits, LoadedPlugin, PluginEngine};
use weft_bench::{PayloadSpec, build_request};

const SPANS: usize = 512;
const ROUND: Duration = Duration::from_millis(600);
/// Requests merged into one export batch (8192 spans, the exporters' default `max_spans`).
const EXPORT_BATCH: usize = 16;

/// Best of three rounds of `one` (which handles `spans` spans per call), in spans per second.
fn measure(spans: usize, mut one: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let mut done = 0usize;
        while started.elapsed() < ROUND {
            one();
            done += spans;
        }
        best = best.max(done as f64 / started.elapsed().as_secs_f64());
    }
    best
}

/// Like [`measure`], for work that consumes its input: `prepare` runs before the clock starts.
fn measure_consuming<T>(
    spans: usize,
    mut prepare: impl FnMut() -> T,
    mut one: impl FnMut(T),
) -> f64 {
    const COPIES: usize = 200;
    let mut best = 0f64;
    for _ in 0..3 {
        let inputs: Vec<T> = (0..COPIES).map(|_| prepare()).collect();
        let started = Instant::now();
        for input in inputs {
            one(input);
        }
        best = best.max((COPIES * spans) as f64 / started.elapsed().as_secs_f64());
    }
    best
}

fn print(stage: &str, spans_per_sec: f64) {
    println!(
        "{stage:<44} {:>9.0} ns/span {:>12.0} spans/s",
        1e9 / spans_per_sec,
        spans_per_sec
    );
}

fn exporter(compression: Compression, http: bool) -> Sink {
    let config = OtlpExporterConfig {
        endpoint: "http://127.0.0.1:9".into(),
        compression,
        timeout_ms: 1000,
        headers: Default::default(),
        tls: None,
        batch: Default::default(),
        retry: Default::default(),
    };
    let config = if http {
        ExporterConfig::Otlphttp(config)
    } else {
        ExporterConfig::Otlp(config)
    };
    Sink::from_config(&config, std::path::Path::new(".")).unwrap()
}

fn main() {
    // The gRPC exporter connects lazily, which needs a Tokio context even when nothing is sent.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _context = runtime.enter();
    let encoded = bytes::Bytes::from(
        build_request(
            PayloadSpec {
                spans_per_request: SPANS,
                attributes_per_span: 10,
            },
            0,
        )
        .encode_to_vec(),
    );
    let request = Traces::decode(encoded.clone()).unwrap();
    println!(
        "host hot paths, {SPANS}-span requests ({} bytes of protobuf), best of 3 rounds",
        encoded.len()
    );

    print(
        "read a request: validate and index (Weft)",
        measure(SPANS, || {
            black_box(Traces::decode(black_box(encoded.clone())).unwrap());
        }),
    );
    print(
        "read a request: prost decode (for comparison)",
        measure(SPANS, || {
            black_box(ExportTraceServiceRequest::decode(black_box(&encoded[..])).unwrap());
        }),
    );

    let engine = PluginEngine::new().unwrap();
    let load = |name: &str, config: &str| {
        Arc::new(
            LoadedPlugin::load(
                &engine,
                name,
                weft::builtin::plugin(name).unwrap(),
                config.to_owned(),
                Limits::default(),
            )
            .unwrap(),
        )
    };
    let redact = load("pii-redact", "{}");
    let enrich = load(
        "enrich",
        r#"{"actions": [{"action": "upsert", "key": "weft.pipeline", "value": "bench"}]}"#,
    );
    let sample = load(
        "sample",
        r#"{"default_ratio": 1.0, "rules": [{"keep_errors": true}]}"#,
    );
    // A worker builds every batch's view in the same storage (see `build_view_into`); a view
    // built from nothing shows what that saves.
    print(
        "contract view for pii-redact's interest, fresh",
        measure(SPANS, || {
            black_box(build_view(black_box(&request), redact.interest()));
        }),
    );
    let mut view = empty_view();
    for plugin in [&redact, &enrich, &sample] {
        print(
            &format!("contract view for {}'s interest", plugin.name()),
            measure(SPANS, || {
                build_view_into(black_box(&request), plugin.interest(), &mut view);
                black_box(&view);
            }),
        );
    }

    let edits = redact
        .instantiate()
        .unwrap()
        .process(&build_view(&request, redact.interest()))
        .unwrap();
    let edits_per_span = edits.len() as f64 / SPANS as f64;
    print(
        &format!("apply pii-redact's edits ({edits_per_span:.1} per span)"),
        measure_consuming(
            SPANS,
            || (request.clone(), edits.clone()),
            |(mut request, edits)| {
                apply_edits(&mut request, edits).unwrap();
                black_box(request);
            },
        ),
    );

    let untouched: Vec<Arc<Traces>> = (0..EXPORT_BATCH)
        .map(|_| Arc::new(request.clone()))
        .collect();
    let mut redacted = request.clone();
    apply_edits(&mut redacted, edits.clone()).unwrap();
    let patched: Vec<Arc<Traces>> = (0..EXPORT_BATCH)
        .map(|_| Arc::new(redacted.clone()))
        .collect();
    for (stage, sink, batch) in [
        (
            "export encode, untouched, protobuf (gRPC)",
            exporter(Compression::None, false),
            &untouched,
        ),
        (
            "export encode, redacted, protobuf (gRPC)",
            exporter(Compression::None, false),
            &patched,
        ),
        (
            "export encode, redacted, protobuf + gzip (HTTP)",
            exporter(Compression::Gzip, true),
            &patched,
        ),
    ] {
        print(
            stage,
            measure(SPANS * EXPORT_BATCH, || {
                black_box(sink.encode(black_box(batch)).unwrap());
            }),
        );
    }
    // The tail-sampling stage: each batch is split into per-trace fragments (64 traces of 8
    // spans a request here), and a policy call's traces are joined back into one request and
    // read like a received one. Before the wire-level path it decoded the batch through prost
    // and encoded each fragment again (and decoded them again for the policy).
    print(
        "tail: split a request by trace",
        measure(SPANS, || {
            black_box(
                black_box(request.clone())
                    .split_by_trace(&Default::default())
                    .unwrap(),
            );
        }),
    );
    print(
        "tail: split a redacted batch by trace",
        measure(SPANS, || {
            black_box(
                black_box(redacted.clone())
                    .split_by_trace(&Default::default())
                    .unwrap(),
            );
        }),
    );
    let fragments = request.clone().split_by_trace(&Default::default()).unwrap();
    print(
        "tail: join a request's traces and read the join",
        measure(SPANS, || {
            let joined = join_fragments(black_box(&fragments));
            black_box(Traces::decode_trusted(joined.into()).unwrap());
        }),
    );
    print(
        "tail (for comparison): prost decode + encode",
        measure(SPANS, || {
            let decoded = ExportTraceServiceRequest::decode(black_box(&encoded[..])).unwrap();
            black_box(decoded.encode_to_vec());
        }),
    );
    let gzipped = weft::codec::gzip(&encoded);
    print(
        "receive: gunzip + decode (HTTP, gzip)",
        measure(SPANS, || {
            let body = weft::codec::gunzip(black_box(&gzipped), 64 << 20).unwrap();
            black_box(Traces::decode(body.into()).unwrap());
        }),
    );
}
