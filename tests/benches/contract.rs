//! Contract-shape benchmark: what crossing the WASM boundary costs per span for a full view
//! (whole records in), a narrow projection, and edits that rewrite every attribute (whole
//! records out), on 512-span batches of spans with 10 string attributes.
//!
//! `cargo bench -p weft-tests --bench contract` prints spans/s per workload and the ratio of
//! each to the same workload's full-view run, all measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use weft::contract::{apply_edits, build_view};
use weft::pdata::Traces;
use weft::sandbox::{Limits, LoadedPlugin, PluginEngine};
use weft_tests::fixture;
use weft_tests::spans::{kv, request};

const BATCH: u64 = 512;

/// 512 spans with exactly 10 string attributes each (one holding an email).
fn batch() -> ExportTraceServiceRequest {
    let mut request = request(0, BATCH);
    for span in request.resource_spans[0].scope_spans[0].spans.iter_mut() {
        let n = span_id(span);
        span.attributes = (0..10)
            .map(|i| match i {
                0 => kv("user.email", "ann.smith@example.com"),
                _ => kv(&format!("attr.{i}"), &format!("value-{n}-{i}-lorem-ipsum")),
            })
            .collect();
    }
    request
}

fn span_id(span: &Span) -> u64 {
    u64::from_be_bytes(span.span_id.as_slice().try_into().unwrap())
}

/// Spans per second through one plugin stage (view, call, apply), best of 3 rounds.
fn measure(
    engine: &PluginEngine,
    mode: &str,
    view: &str,
    input: &ExportTraceServiceRequest,
) -> f64 {
    let config = format!(r#"{{"mode": "{mode}", "view": "{view}"}}"#);
    let bytes = std::fs::read(fixture("contract-bench")).unwrap();
    let plugin =
        Arc::new(LoadedPlugin::load(engine, "bench", &bytes, config, Limits::default()).unwrap());
    let mut instance = plugin.instantiate().unwrap();
    let mut best = 0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let mut spans = 0u64;
        while started.elapsed() < Duration::from_millis(700) {
            let mut request = Traces::from_request(input);
            let edits = instance
                .process(&build_view(&request, plugin.interest()))
                .unwrap();
            apply_edits(&mut request, edits).unwrap();
            spans += BATCH;
        }
        best = best.max(spans as f64 / started.elapsed().as_secs_f64());
    }
    best
}

/// Spans per second for making the batch alone (encoded and indexed): the floor every row
/// above pays.
fn measure_batch_floor(input: &ExportTraceServiceRequest) -> f64 {
    let started = Instant::now();
    let mut spans = 0u64;
    while started.elapsed() < Duration::from_millis(700) {
        std::hint::black_box(Traces::from_request(input));
        spans += BATCH;
    }
    spans as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let engine = PluginEngine::new().unwrap();
    let input = batch();
    println!("contract shapes, Rust guest, {BATCH}-span batches, 10 string attributes per span");
    println!(
        "{:<12} {:>16} {:>16} {:>10}",
        "workload", "full view sp/s", "narrow sp/s", "narrow/full"
    );
    for mode in ["passthrough", "redact", "sample"] {
        let full = measure(&engine, mode, "full", &input);
        let narrow = measure(&engine, mode, "narrow", &input);
        println!(
            "{mode:<12} {full:>16.0} {narrow:>16.0} {:>9.1}x",
            narrow / full
        );
    }
    let whole_in_out = measure(&engine, "rewrite", "full", &input);
    let redact_narrow = measure(&engine, "redact", "narrow", &input);
    println!(
        "whole records in + out (full view, every attribute re-set): {whole_in_out:.0} spans/s"
    );
    println!(
        "redact, narrow view + edits vs whole records in + out: {:.1}x",
        redact_narrow / whole_in_out
    );
    println!(
        "batch made alone, encoded and indexed (host floor): {:.0} spans/s",
        measure_batch_floor(&input)
    );
    for (mode, view) in [
        ("passthrough", "narrow"),
        ("redact", "narrow"),
        ("sample", "narrow"),
        ("redact", "full"),
    ] {
        breakdown(&engine, mode, view, &input);
    }
}

/// Where the time of one stage goes, per span: building the view, the guest call (lowering,
/// guest work, lifting the edits), applying the edits.
pub fn breakdown(engine: &PluginEngine, mode: &str, view: &str, input: &ExportTraceServiceRequest) {
    let input = Traces::from_request(input);
    let config = format!(r#"{{"mode": "{mode}", "view": "{view}"}}"#);
    let bytes = std::fs::read(fixture("contract-bench")).unwrap();
    let plugin =
        Arc::new(LoadedPlugin::load(engine, "bench", &bytes, config, Limits::default()).unwrap());
    let mut instance = plugin.instantiate().unwrap();
    let rounds = 400u32;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(build_view(&input, plugin.interest()));
    }
    let view_ns = started.elapsed().as_nanos() as f64 / (rounds as f64 * BATCH as f64);
    let batch_view = build_view(&input, plugin.interest());
    let started = Instant::now();
    let mut edits = Vec::new();
    for _ in 0..rounds {
        edits = instance.process(&batch_view).unwrap();
    }
    let call_ns = started.elapsed().as_nanos() as f64 / (rounds as f64 * BATCH as f64);
    let mut copies: Vec<_> = (0..rounds).map(|_| input.clone()).collect();
    let started = Instant::now();
    for copy in &mut copies {
        apply_edits(copy, edits.clone()).unwrap();
    }
    let apply_ns = started.elapsed().as_nanos() as f64 / (rounds as f64 * BATCH as f64);
    println!(
        "{mode}/{view} per span: view {view_ns:.0} ns, guest call {call_ns:.0} ns, apply {apply_ns:.0} ns ({} edits/batch)",
        edits.len()
    );
}
