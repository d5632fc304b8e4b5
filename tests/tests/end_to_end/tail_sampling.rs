//! Tail sampling end to end: 10,000 traces of mixed shape, their spans split across requests,
//! out of order and some late, through the built-in tail-policy with a reload in the middle.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use weft::config::LoadedConfig;
use weft::sandbox::{ComponentCache, Limits, LoadedPlugin, PluginEngine, World};
use weft::service::RunningService;
use weft_sdk::TraceId;
use weft_sdk::sampling::ratio::sampled;
use weft_sdk::testing::SplitMix64;
use weft_tests::client::{get, grpc_client, metric_sample, post};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{kv, request_of, string_attribute};
use weft_tests::{config_with, scratch_dir};

const TRACES: usize = 10_000;
const WAVES: usize = 20;
const BASELINE: f64 = 0.1;
const START: u64 = 1_700_000_000_000_000_000;
const MS: u64 = 1_000_000;
/// How long the stage holds a trace: longer than the ~2 s over which the test's spans arrive,
/// with room for a loaded machine.
const WAIT_MS: u64 = 3_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Error,
    Slow,
    Ordinary,
}

/// One generated trace: its spans, which of them is held back to arrive late (if any).
struct TestTrace {
    id: [u8; 16],
    shape: Shape,
    spans: Vec<Span>,
    late: Option<Span>,
}

fn traces() -> Vec<TestTrace> {
    let mut random = SplitMix64(0x7a11);
    (0..TRACES)
        .map(|n| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&random.next().to_be_bytes());
            id[8..].copy_from_slice(&random.next().to_be_bytes());
            let shape = match n % 10 {
                0 => Shape::Error,
                1 => Shape::Slow,
                _ => Shape::Ordinary,
            };
            let children = 2 + (n % 3);
            let root_ms = if shape == Shape::Slow { 2_500 } else { 120 };
            let span = |index: usize, name: &str, parent: u64, ms: u64, error: bool| Span {
                trace_id: id.to_vec(),
                span_id: ((n as u64) << 8 | index as u64 | 1 << 40)
                    .to_be_bytes()
                    .to_vec(),
                parent_span_id: if parent == 0 {
                    Vec::new()
                } else {
                    parent.to_be_bytes().to_vec()
                },
                name: name.into(),
                kind: 2,
                start_time_unix_nano: START + index as u64 * MS,
                end_time_unix_nano: START + index as u64 * MS + ms * MS,
                attributes: vec![kv("http.route", "/checkout")],
                status: Some(Status {
                    code: if error { 2 } else { 0 },
                    ..Default::default()
                }),
                ..Default::default()
            };
            let root_id = (n as u64) << 8 | 1 << 40;
            let mut spans = vec![span(0, "POST /checkout", 0, root_ms, false)];
            for child in 1..=children {
                let error = shape == Shape::Error && child == children;
                spans.push(span(child, "charge", root_id, 10, error));
            }
            // Every 7th trace has a span that arrives after the decision.
            let late = (n % 7 == 3).then(|| span(children + 1, "audit", root_id, 1, false));
            TestTrace {
                id,
                shape,
                spans,
                late,
            }
        })
        .collect()
}

fn policy_config(dir: &Path, sink: std::net::SocketAddr, version: &str, wait_ms: u64) -> String {
    let processors = format!(
        r#"
[[processors]]
name = "tail"
plugin = "{policy}"
on_error = "pass"
[processors.tail_sampling]
decision_wait_ms = {wait_ms}
reason_attribute = "sampling.reason"
[processors.config]
rules = [
  {{ name = "error-{version}", error = true }},
  {{ name = "slow-{version}", root_slower_than_ms = 1000 }},
  {{ name = "baseline-{version}", ratio = {BASELINE} }},
]
"#,
        policy = dir.join("policy.wasm").display(),
    );
    // Reloads come from POST /reload only, so each is counted exactly once.
    config_with(&processors, sink).replace("[admin]", "[reload]\nwatch = false\n[admin]")
}

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn buffered(weft: &RunningService) -> u64 {
    let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
    metric_sample(&scrape, "weft_tail_traces_buffered")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_traces_are_kept_or_dropped_across_split_late_and_reloaded_arrivals() {
    let dir = scratch_dir("tail-sampling");
    std::fs::write(
        dir.join("policy.wasm"),
        weft::builtin::plugin("tail-policy").unwrap(),
    )
    .unwrap();
    let sink = OtlpSink::start().await;
    let config = dir.join("weft.toml");
    std::fs::write(&config, policy_config(&dir, sink.addr(), "v1", WAIT_MS)).unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&config).unwrap())
        .await
        .expect("weft starts");
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let traces = traces();

    // Each wave sends the children of its traces (out of order: before their root), then the
    // roots of the previous wave's traces, in a separate request ~100 ms later. Halfway, the
    // wave's own roots go out at once (so every trace sent is complete when the test waits for
    // the first decision) and the policy is reloaded.
    let per_wave = TRACES / WAVES;
    let roots = |wave: usize| -> Vec<Span> {
        traces[wave * per_wave..(wave + 1) * per_wave]
            .iter()
            .map(|t| t.spans[0].clone())
            .collect()
    };
    let mut buffered_at_reload = 0;
    for wave in 0..=WAVES {
        if wave < WAVES {
            let children: Vec<Span> = traces[wave * per_wave..(wave + 1) * per_wave]
                .iter()
                .flat_map(|t| t.spans[1..].iter().rev().cloned())
                .collect();
            client
                .export(request_of(children))
                .await
                .expect("children accepted");
        }
        if wave > 0 && wave != WAVES / 2 + 1 {
            client
                .export(request_of(roots(wave - 1)))
                .await
                .expect("roots accepted");
        }
        if wave == WAVES / 2 {
            client
                .export(request_of(roots(wave)))
                .await
                .expect("roots accepted");
            // A new policy version once the first has decided some traces, while many more
            // are buffered: the buffer must survive it.
            let tail = &weft.metrics().tail;
            wait_until("a decision by v1", Duration::from_secs(30), || {
                tail.decisions(true, "error-v1") > 0
            })
            .await;
            buffered_at_reload = buffered(&weft).await;
            std::fs::write(&config, policy_config(&dir, sink.addr(), "v2", WAIT_MS)).unwrap();
            let before = weft.reload().generation();
            let (status, body) = post(weft.admin_addr().unwrap(), "/reload").await;
            assert_eq!(status, 200, "{body}");
            assert!(weft.reload().generation() > before, "{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        buffered_at_reload > 100,
        "the reload happened with {buffered_at_reload} traces buffered; the test needs many"
    );

    // Every trace decided: nothing buffered, and the decision count is the trace count.
    let started = Instant::now();
    loop {
        let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
        let decided: u64 = scrape
            .lines()
            .filter(|l| l.starts_with("weft_tail_decisions_total{"))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        if decided == TRACES as u64 && metric_sample(&scrape, "weft_tail_traces_buffered") == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "decided {decided} of {TRACES} traces"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The late spans arrive after their trace's decision and must follow it.
    let late: Vec<Span> = traces.iter().filter_map(|t| t.late.clone()).collect();
    let late_count = late.len();
    client
        .export(request_of(late))
        .await
        .expect("late spans accepted");
    let tail = &weft.metrics().tail;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    wait_until("the late spans", Duration::from_secs(10), || {
        load(&tail.late_spans_kept) + load(&tail.late_spans_dropped) == late_count as u64
    })
    .await;
    let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
    assert_eq!(
        metric_sample(&scrape, "weft_tail_late_spans_total{decision=\"keep\"}"),
        load(&tail.late_spans_kept)
    );
    assert_eq!(
        buffered(&weft).await,
        0,
        "late spans are not buffered again"
    );
    weft.shutdown().await;

    // What the sink got, by trace.
    let mut exported: HashMap<Vec<u8>, Vec<Span>> = HashMap::new();
    let mut seen = HashSet::new();
    for span in sink.spans() {
        assert!(
            seen.insert(span.span_id.clone()),
            "span exported twice: {span:?}"
        );
        exported
            .entry(span.trace_id.clone())
            .or_default()
            .push(span);
    }
    let mut baseline_kept = 0;
    let mut ordinary = 0;
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for trace in &traces {
        let got = exported.remove(trace.id.as_slice()).unwrap_or_default();
        let low = u64::from_be_bytes(trace.id[8..].try_into().unwrap());
        let high = u64::from_be_bytes(trace.id[..8].try_into().unwrap());
        let keep = match trace.shape {
            Shape::Error | Shape::Slow => true,
            Shape::Ordinary => {
                ordinary += 1;
                sampled(TraceId { high, low }, BASELINE)
            }
        };
        if !keep {
            assert!(got.is_empty(), "a dropped trace leaked {} spans", got.len());
            continue;
        }
        baseline_kept += usize::from(trace.shape == Shape::Ordinary);
        // Complete: every span sent, the late one included.
        let mut expected: Vec<&Vec<u8>> = trace.spans.iter().map(|s| &s.span_id).collect();
        expected.extend(trace.late.iter().map(|s| &s.span_id));
        let mut ids: Vec<&Vec<u8>> = got.iter().map(|s| &s.span_id).collect();
        expected.sort();
        ids.sort();
        assert_eq!(ids, expected, "{:?} trace exported partially", trace.shape);
        let reason = string_attribute(&got[0], "sampling.reason")
            .unwrap()
            .to_owned();
        let prefix = match trace.shape {
            Shape::Error => "error-",
            Shape::Slow => "slow-",
            Shape::Ordinary => "baseline-",
        };
        assert!(
            reason.starts_with(prefix),
            "{:?} kept as {reason}",
            trace.shape
        );
        *reasons.entry(reason).or_default() += 1;
    }
    assert!(exported.is_empty(), "spans of unknown traces exported");
    // The kept baseline is exactly the set the OpenTelemetry ratio rule keeps; its size is
    // within 4 sigma of the ratio.
    let mean = ordinary as f64 * BASELINE;
    let sigma = (ordinary as f64 * BASELINE * (1.0 - BASELINE)).sqrt();
    assert!(
        (baseline_kept as f64 - mean).abs() <= 4.0 * sigma,
        "baseline kept {baseline_kept} of {ordinary}"
    );
    // Both policy versions decided traces.
    for reason in ["error-v1", "error-v2", "baseline-v1", "baseline-v2"] {
        assert!(reasons.get(reason).copied().unwrap_or(0) > 0, "{reasons:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_decides_what_is_buffered() {
    for on_shutdown in ["decide", "export"] {
        let dir = scratch_dir(&format!("tail-shutdown-{on_shutdown}"));
        std::fs::write(
            dir.join("policy.wasm"),
            weft::builtin::plugin("tail-policy").unwrap(),
        )
        .unwrap();
        let sink = OtlpSink::start().await;
        // A minute's wait: only the shutdown can decide these traces in time.
        let config = policy_config(&dir, sink.addr(), "v1", 60_000).replace(
            "reason_attribute",
            &format!("on_shutdown = \"{on_shutdown}\"\nreason_attribute"),
        );
        let weft = weft_tests::start_weft(&config).await;
        let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
        let traces = traces();
        let spans: Vec<Span> = traces[..100]
            .iter()
            .flat_map(|t| t.spans.iter().cloned())
            .collect();
        let sent = spans.len();
        client.export(request_of(spans)).await.unwrap();
        wait_until("the traces to be buffered", Duration::from_secs(10), || {
            weft.metrics()
                .tail
                .spans_buffered
                .load(std::sync::atomic::Ordering::Relaxed)
                == sent as u64
        })
        .await;
        assert_eq!(sink.span_count(), 0, "nothing is decided before the wait");
        weft.shutdown().await;
        let expected: usize = traces[..100]
            .iter()
            .filter(|t| {
                on_shutdown == "export"
                    || t.shape != Shape::Ordinary
                    || sampled(
                        TraceId {
                            high: u64::from_be_bytes(t.id[..8].try_into().unwrap()),
                            low: u64::from_be_bytes(t.id[8..].try_into().unwrap()),
                        },
                        BASELINE,
                    )
            })
            .map(|t| t.spans.len())
            .sum();
        assert_eq!(sink.span_count(), expected, "on_shutdown = {on_shutdown}");
    }
}

#[test]
fn a_span_processor_is_refused_as_a_policy_and_the_reverse() {
    let engine = PluginEngine::new().unwrap();
    let cache = ComponentCache::disabled();
    let load = |builtin: &str, world: World| {
        LoadedPlugin::load_world(
            &engine,
            &cache,
            world,
            builtin,
            weft::builtin::plugin(builtin).unwrap(),
            "{}".into(),
            (Limits::default(), Default::default()),
        )
        .err()
        .map(|e| e.to_string())
    };
    let error = load("sample", World::TraceSampler).expect("a processor is not a policy");
    assert!(error.contains("trace-sampler world"), "{error}");
    let error = load("tail-policy", World::Processor).expect("a policy is not a processor");
    assert!(error.contains("processor world"), "{error}");
    assert_eq!(load("tail-policy", World::TraceSampler), None);
}
