//! Where a worker's time goes on the end-to-end benchmark's load, in one thread: decoding each
//! request, every stage of `bench/chain.toml` (its view, the guest call, its edits applied),
//! then encoding and gzipping the result as the exporter does, in ns per span.
//!
//! `cargo bench -p weft-tests --bench chain_stages` runs the chain and then the same loop with
//! no stages. Two variables change what runs:
//!
//! - `SECONDS`: how long each loop runs (default 8).
//! - `COMPARE="old.wasm;new.wasm"`: instead, run each component as the chain's first stage
//!   (with its config) on the same requests, alternating batch by batch, so that two builds of
//!   a plugin are compared under the same machine load. An entry `path|{json}` runs that
//!   component with the JSON config instead of the chain's, to tell apart what each setting
//!   costs (`new.wasm;new.wasm|{"redact_span_names": false}`).
//! - `CLEAN=1`: requests of the plugins bench's clean spans (no personal data, no secrets)
//!   instead of the load's, to see what a plugin costs on values it must leave alone.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use weft::config::LoadedConfig;
use weft::contract::bindings::Batch;
use weft::contract::{apply_edits, build_view_into, empty_view};
use weft::loader::{load_chain, plugin_settings};
use weft::pdata::Traces;
use weft::sandbox::{ComponentCache, LoadedPlugin, PluginEngine, PluginInstance};
use weft_bench::{PayloadSpec, build_request};
use weft_tests::spans::{clean_span, request_of};

/// The load generator's default request shape.
const SPEC: PayloadSpec = PayloadSpec {
    spans_per_request: 512,
    attributes_per_span: 10,
};

/// Distinct requests, sent in turn, as the load generator does.
const REQUESTS: u64 = 8;

/// One stage and the time spent in each of its steps.
struct Stage {
    plugin: Arc<LoadedPlugin>,
    instance: PluginInstance,
    view: Duration,
    call: Duration,
    apply: Duration,
}

impl Stage {
    fn new(plugin: Arc<LoadedPlugin>) -> Stage {
        let instance = plugin.instantiate().unwrap();
        Stage {
            plugin,
            instance,
            view: Duration::ZERO,
            call: Duration::ZERO,
            apply: Duration::ZERO,
        }
    }

    /// Runs the stage on `request` in place, timing each step.
    fn run(&mut self, request: &mut Traces, view: &mut Batch) {
        let started = Instant::now();
        build_view_into(request, self.plugin.interest(), view);
        let built = Instant::now();
        let edits = self.instance.process(view).unwrap();
        let called = Instant::now();
        apply_edits(request, edits).unwrap();
        self.view += built - started;
        self.call += called - built;
        self.apply += called.elapsed();
    }

    fn report(&self, spans: f64) {
        println!(
            "  {:<40} view {:>5.0}  call {:>5.0}  edits {:>4.0}",
            self.plugin.name(),
            per_span(self.view, spans),
            per_span(self.call, spans),
            per_span(self.apply, spans)
        );
    }
}

fn per_span(time: Duration, spans: f64) -> f64 {
    time.as_secs_f64() / spans * 1e9
}

/// The chain of `bench/chain.toml`, loaded as `weft` loads it.
fn chain(engine: &PluginEngine) -> Vec<(Arc<LoadedPlugin>, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../bench/chain.toml");
    // The processors as the end-to-end benchmark appends them to a collector's config.
    let text = format!(
        "[receivers.otlp.grpc]\nendpoint = \"127.0.0.1:4317\"\n[exporters.out]\ntype = \"stdout\"\n{}",
        std::fs::read_to_string(path).unwrap()
    );
    let config = LoadedConfig::from_str(&text, ".".into(), path.into()).unwrap();
    let loaded = load_chain(engine, &ComponentCache::disabled(), &config, None).unwrap();
    loaded
        .spec
        .stages
        .iter()
        .zip(&config.config.processors)
        .map(|(stage, processor)| (stage.plugin.clone(), plugin_settings(processor).0))
        .collect()
}

/// Decode, every stage, encode and gzip, for `seconds`; prints ns per span for each step.
fn whole_path(stages: &mut [Stage], requests: &[bytes::Bytes], seconds: u64) {
    let mut view = empty_view();
    let (mut decode, mut encode, mut gzip, mut free) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut encoded = Vec::new();
    let mut batches = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        let at = Instant::now();
        let mut request = Traces::decode(requests[batches % requests.len()].clone()).unwrap();
        decode += at.elapsed();
        for stage in stages.iter_mut() {
            stage.run(&mut request, &mut view);
        }
        let at = Instant::now();
        encoded.clear();
        request.encode_into(&mut encoded);
        let encoded_at = Instant::now();
        let compressed = weft::codec::gzip(&encoded);
        let compressed_at = Instant::now();
        drop((request, compressed));
        free += compressed_at.elapsed();
        encode += encoded_at - at;
        gzip += compressed_at - encoded_at;
        batches += 1;
    }
    let spans = (batches * SPEC.spans_per_request) as f64;
    let total: Duration = decode
        + encode
        + gzip
        + free
        + stages
            .iter()
            .map(|s| s.view + s.call + s.apply)
            .sum::<Duration>();
    println!(
        "  decode {:.0}  encode {:.0}  gzip {:.0}  free {:.0}",
        per_span(decode, spans),
        per_span(encode, spans),
        per_span(gzip, spans),
        per_span(free, spans)
    );
    for stage in stages.iter() {
        stage.report(spans);
    }
    println!("  total {:.0} ns per span", per_span(total, spans));
}

/// Each component of `paths` as the chain's first stage, alternating batch by batch.
fn compare(
    engine: &PluginEngine,
    config: &str,
    paths: &str,
    requests: &[bytes::Bytes],
    seconds: u64,
) {
    let mut stages: Vec<Stage> = paths
        .split(';')
        .map(|entry| {
            let (path, config) = entry.split_once('|').unwrap_or((entry, config));
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let limits = weft::sandbox::Limits::default();
            let plugin = LoadedPlugin::load(engine, entry, &bytes, config.to_owned(), limits);
            Stage::new(Arc::new(plugin.unwrap()))
        })
        .collect();
    let mut view = empty_view();
    let mut batches = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        for stage in stages.iter_mut() {
            let mut request = Traces::decode(requests[batches % requests.len()].clone()).unwrap();
            stage.run(&mut request, &mut view);
        }
        batches += 1;
    }
    let spans = (batches * SPEC.spans_per_request) as f64;
    println!("alternating batch by batch, ns per span:");
    for stage in &stages {
        stage.report(spans);
    }
}

fn main() {
    let seconds = std::env::var("SECONDS").map_or(8, |s| s.parse().unwrap());
    let engine = PluginEngine::new().unwrap();
    let clean = std::env::var_os("CLEAN").is_some_and(|v| v == "1");
    let requests: Vec<bytes::Bytes> = (0..REQUESTS)
        .map(|index| {
            if clean {
                let first = index * SPEC.spans_per_request as u64;
                let spans = (first..first + SPEC.spans_per_request as u64).map(clean_span);
                request_of(spans.collect()).encode_to_vec().into()
            } else {
                build_request(SPEC, index).encode_to_vec().into()
            }
        })
        .collect();
    let chain = chain(&engine);
    if let Ok(paths) = std::env::var("COMPARE") {
        compare(&engine, &chain[0].1, &paths, &requests, seconds);
        return;
    }
    let mut stages: Vec<Stage> = chain
        .into_iter()
        .map(|(plugin, _)| Stage::new(plugin))
        .collect();
    println!("the load's requests through bench/chain.toml, one thread, ns per span:");
    whole_path(&mut stages, &requests, seconds);
    println!("the same with no processors:");
    whole_path(&mut [], &requests, seconds);
}
