//! The sandbox promise against the attacks that reached past it: a plugin that waits in a
//! host call, an answer that points at the same memory many times, values nested past what
//! decoders read back. Each costs the attacker's batch at most; the host stays up, other
//! traffic flows, and the failure is counted by kind.

use std::process::Command;
use std::time::{Duration, Instant};

use weft_tests::client::{get, grpc_client, metric_sample as sample};
use weft_tests::process::{WeftProcess, weft_binary};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, request_named, span_number, string_attribute};
use weft_tests::{config_with, config_with_pipeline, fixture, scratch_dir, start_weft};

fn errors(scrape: &str, processor: &str, kind: &str) -> u64 {
    sample(
        scrape,
        &format!("weft_processor_errors_total{{processor=\"{processor}\",kind=\"{kind}\"}}"),
    )
}

/// The hostile fixture as one processor, attacking as `config` says.
fn hostile(config: &str, timeout_ms: u64) -> String {
    format!(
        r#"
[[processors]]
name = "hostile"
plugin = "{}"
on_error = "pass"
timeout_ms = {timeout_ms}
memory_limit_mb = 32
quarantine_after = 0
config = {config}
"#,
        fixture("hostile")
    )
}

/// A tail-sampling stage (the built-in policy, written to a scratch directory named `dir`)
/// that keeps every trace, with `settings` in its `[processors.tail_sampling]` table.
fn keep_all_tail_stage(dir: &str, settings: &str) -> String {
    let policy = scratch_dir(dir).join("policy.wasm");
    std::fs::write(&policy, weft::builtin::plugin("tail-policy").unwrap()).unwrap();
    format!(
        r#"
[[processors]]
name = "tail"
plugin = "{}"
on_error = "pass"
[processors.tail_sampling]
{settings}
[processors.config]
rules = [{{ name = "all", ratio = 1.0 }}]
"#,
        policy.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_sleeping_in_a_host_call_is_stopped_at_its_deadline() {
    // Each instance sleeps 30 s from its third batch on: the load-time smoke batch and the
    // first live one pass, then every batch waits in `poll`, where no wasm runs to see the
    // epoch deadline.
    let sink = OtlpSink::start().await;
    let chain = hostile(r#"{ attack = "sleep", from = 3 }"#, 200);
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    const REQUESTS: u64 = 8;
    for r in 0..REQUESTS {
        client.export(request(r * 10, 10)).await.unwrap();
    }
    // Far less than one 30 s sleep: a worker held by a sleeper would never get here.
    let total = (REQUESTS * 10) as usize;
    assert_eq!(
        sink.wait_for(total, Duration::from_secs(20)).await,
        total,
        "every batch passed on within its deadline"
    );
    let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
    weft.shutdown().await;
    let timeouts = errors(&scrape, "hostile", "timeout");
    assert!(timeouts >= 1, "the sleeps count as timeouts: {scrape}");
    let unprocessed = sink
        .spans()
        .iter()
        .filter(|span| string_attribute(span, "hostile.result").is_none())
        .count() as u64;
    assert_eq!(
        unprocessed,
        timeouts * 10,
        "exactly the timed-out batches passed on unprocessed (on_error = pass)"
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_bypassed_spans_total{processor=\"hostile\"}"
        ),
        unprocessed,
        "and each of their spans is counted as having bypassed it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_blocked_reading_a_granted_pipe_is_stopped_at_its_deadline() {
    // A read that never returns: the plugin opens a named pipe in its granted directory that
    // no one writes. The host's blocking read is abandoned at the deadline (its thread stays
    // blocked in the kernel; the worker does not).
    let dir = scratch_dir("granted-fifo");
    std::fs::create_dir_all(dir.join("tables")).unwrap();
    let made = Command::new("mkfifo")
        .arg(dir.join("tables/pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "hostile"
plugin = "{}"
on_error = "pass"
timeout_ms = 200
quarantine_after = 0
[processors.grants]
read_only_dirs = {{ "/lookup" = "{}" }}
"#,
        fixture("hostile"),
        dir.join("tables").display()
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let names = ["granted-fifo", "ordinary", "granted-fifo", "ordinary"];
    for (i, name) in names.iter().enumerate() {
        let name = name.to_string();
        client
            .export(request_named(i as u64 * 10, 10, move |_| name.clone()))
            .await
            .unwrap();
    }
    assert_eq!(
        sink.wait_for(40, Duration::from_secs(20)).await,
        40,
        "every batch passed on within its deadline"
    );
    let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
    weft.shutdown().await;
    assert_eq!(errors(&scrape, "hostile", "timeout"), 2, "{scrape}");
    for span in sink.spans() {
        let result = string_attribute(&span, "hostile.result");
        match span.name.as_str() {
            "ordinary" => assert_eq!(result, Some("ok")),
            _ => assert_eq!(result, None, "passed on unprocessed"),
        }
    }
}

#[test]
fn weft_check_refuses_a_sleeper_at_its_deadline_not_after_the_sleep() {
    let dir = scratch_dir("check-sleeper");
    let config = dir.join("weft.toml");
    let sink: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    // `from = 1`: the smoke batch `weft check` runs is the one that sleeps.
    let chain = hostile(r#"{ attack = "sleep", from = 1 }"#, 200);
    std::fs::write(&config, config_with(&chain, sink)).unwrap();
    let started = Instant::now();
    let output = Command::new(weft_binary())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let took = started.elapsed();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("weft check on a sleeper (timeout_ms = 200) answered in {took:?}");
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("exceeded its deadline"), "{text}");
    assert!(
        took < Duration::from_secs(15),
        "weft check waited out the plugin's 30 s sleep ({took:?})"
    );
}

#[test]
fn an_interest_aliasing_one_buffer_is_refused_at_load() {
    // `init` answers 4,096 keys pointing at the same 1 MiB: 4 GiB to a host that copies first.
    let dir = scratch_dir("check-init-alias");
    let config = dir.join("weft.toml");
    let sink: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    let chain = hostile(r#"{ attack = "init-alias" }"#, 1000);
    std::fs::write(&config, config_with(&chain, sink)).unwrap();
    let output = Command::new(weft_binary())
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("output amplification"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_aliasing_one_buffer_is_refused_before_the_host_copies_it() {
    // Every batch after an instance's first answers 4,096 names that all point at the same
    // 1 MiB: 4 GiB to a host that copies each before checking the total.
    const WORKERS: u64 = 2;
    const PLUGIN_CAP_MB: u64 = 32;
    const PIPELINE_CAP_MB: u64 = 16;
    let sink = OtlpSink::start().await;
    let chain = hostile(r#"{ attack = "alias" }"#, 1000);
    let config = scratch_dir("aliased-answer").join("weft.toml");
    let settings = format!("workers = {WORKERS}\nmemory_limit_mb = {PIPELINE_CAP_MB}");
    std::fs::write(
        &config,
        config_with_pipeline(&chain, sink.addr(), &settings),
    )
    .unwrap();
    let weft = WeftProcess::spawn(&config);
    let (started, _) = weft.rss_mb();
    super::memory_bomb::load(weft.http, 0, 40).await;
    assert_eq!(sink.wait_for(4_000, Duration::from_secs(60)).await, 4_000);
    let (_, peak) = weft.rss_mb();
    let (_, scrape) = get(weft.admin, "/metrics").await;
    drop(weft);
    let refused = errors(&scrape, "hostile", "invalid_edit");
    let ceiling = started + WORKERS * PLUGIN_CAP_MB + PIPELINE_CAP_MB + 64;
    eprintln!("RSS MiB: started {started}, peak {peak}, ceiling {ceiling}; {refused} refused");
    // Each instance answers its first batch honestly and its second with the alias, which
    // ends it: about one batch in two.
    assert!(refused >= 10, "the aliased answers were refused: {scrape}");
    assert!(
        peak <= ceiling,
        "peak RSS {peak} MiB passed the ceiling {ceiling} MiB"
    );
    assert!(
        sink.spans()
            .iter()
            .all(|span| span.name == "POST /api/checkout"),
        "no aliased name reached the output"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_nested_past_the_limit_never_reach_a_tail_stage() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        "{}{}",
        hostile(r#"{ attack = "deep", every = 2 }"#, 1000),
        keep_all_tail_stage("deep-before-tail", "decision_wait_ms = 100")
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    const REQUESTS: u64 = 12;
    for r in 0..REQUESTS {
        client
            .export(request_named(r * 10, 10, |n| format!("span {n}")))
            .await
            .unwrap();
    }
    let total = (REQUESTS * 10) as usize;
    assert_eq!(
        sink.wait_for(total, Duration::from_secs(30)).await,
        total,
        "every span was decided and exported"
    );
    let (status, _) = get(weft.admin_addr().unwrap(), "/readyz").await;
    assert_eq!(status, 200);
    let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
    weft.shutdown().await;
    assert!(
        errors(&scrape, "hostile", "invalid_edit") >= 1,
        "the deep values were refused: {scrape}"
    );
    let mut numbers: Vec<u64> = sink
        .spans()
        .iter()
        .map(|span| span_number(span).unwrap() as u64)
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..REQUESTS * 10).collect::<Vec<_>>());
    assert!(
        sink.spans()
            .iter()
            .all(|span| span.attributes.iter().all(|kv| kv.key != "deep")),
        "no over-deep value was exported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_of_many_traces_under_a_large_resource_is_not_multiplied_by_the_tail_stage() {
    // Each request (2.4 MB): one 64 KiB resource attribute over 40,000 traces of one bare
    // span. Held as a copy per trace, one request would take 40,000 x 64 KiB = 2.5 GiB;
    // shared, its own size plus a fixed cost per trace.
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message;
    use weft_tests::client::post_traces;
    use weft_tests::spans::{kv, request_of};
    const TRACES: u64 = 40_000;
    const REQUESTS: u64 = 2;
    const PIPELINE_CAP_MB: u64 = 64;
    const TAIL_CAP_MB: u64 = 32;
    let sink = OtlpSink::start().await;
    let chain = keep_all_tail_stage(
        "tail-amplification",
        &format!("decision_wait_ms = 200\nmax_buffered_mb = {TAIL_CAP_MB}"),
    );
    let config = scratch_dir("tail-amplification-config").join("weft.toml");
    let settings = format!("memory_limit_mb = {PIPELINE_CAP_MB}");
    let text = config_with_pipeline(&chain, sink.addr(), &settings)
        .replace("max_request_bytes = 1048576", "max_request_bytes = 4194304");
    std::fs::write(&config, text).unwrap();
    let weft = WeftProcess::spawn(&config);
    let (started, _) = weft.rss_mb();
    for r in 0..REQUESTS {
        let spans: Vec<Span> = (0..TRACES)
            .map(|t| {
                let n = r * TRACES + t + 1;
                Span {
                    trace_id: [n.to_be_bytes(), n.to_be_bytes()].concat(),
                    span_id: n.to_be_bytes().to_vec(),
                    name: "GET /".into(),
                    start_time_unix_nano: 1_700_000_000_000_000_000,
                    end_time_unix_nano: 1_700_000_000_250_000_000,
                    ..Default::default()
                }
            })
            .collect();
        let mut request = request_of(spans);
        let resource = request.resource_spans[0].resource.as_mut().unwrap();
        resource.attributes.push(kv("big", &"r".repeat(64 << 10)));
        let body = request.encode_to_vec();
        assert!(body.len() < 4 << 20, "{} bytes", body.len());
        let response = post_traces(
            weft.http,
            &[("content-type", "application/x-protobuf")],
            body,
        )
        .await;
        assert_eq!(response.status, 200, "{:?}", response.body);
    }
    let total = (TRACES * REQUESTS) as usize;
    assert_eq!(
        sink.wait_for(total, Duration::from_secs(60)).await,
        total,
        "every trace was decided and exported"
    );
    let (_, peak) = weft.rss_mb();
    drop(weft);
    // What the config allows (admission and the tail buffer), and 128 MiB that no budget
    // charges: a decision round's decoded traces and the policy's view, and the allocator.
    let ceiling = started + PIPELINE_CAP_MB + TAIL_CAP_MB + 128;
    eprintln!("RSS MiB: started {started}, peak {peak}, ceiling {ceiling}");
    assert!(
        peak <= ceiling,
        "peak RSS {peak} MiB passed the ceiling {ceiling} MiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_panics_sleeps_or_rambles_costs_its_own_call_at_most() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "tail"
plugin = "{}"
on_error = "pass"
timeout_ms = 200
quarantine_after = 0
[processors.tail_sampling]
decision_wait_ms = 50
reason_attribute = "sampling.reason"
"#,
        fixture("hostile-policy")
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    // One trace (8 spans) at a time, each decided in a call of its own before the next is
    // sent: a failure takes only its own call down.
    let kinds = [
        "ordinary",
        "panic",
        "ordinary",
        "sleep",
        "long-reason",
        "wordy-reason",
        "ordinary",
    ];
    for (t, kind) in kinds.iter().enumerate() {
        let kind = kind.to_string();
        client
            .export(request_named(t as u64 * 8, 8, move |_| kind.clone()))
            .await
            .unwrap();
        let expected = (t + 1) * 8;
        assert_eq!(
            sink.wait_for(expected, Duration::from_secs(15)).await,
            expected,
            "trace {t} ({}) was decided within its deadline and exported (on_error = pass)",
            kinds[t]
        );
    }
    let admin = weft.admin_addr().unwrap();
    let (ready, _) = get(admin, "/readyz").await;
    let (_, scrape) = get(admin, "/metrics").await;
    weft.shutdown().await;
    assert_eq!(ready, 200, "the stage still serves");
    assert_eq!(errors(&scrape, "tail", "trap"), 1, "{scrape}");
    assert_eq!(errors(&scrape, "tail", "timeout"), 1, "{scrape}");
    assert_eq!(
        errors(&scrape, "tail", "invalid_edit"),
        1,
        "the 1 MiB reason is refused before it is copied: {scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "weft_processor_bypassed_spans_total{processor=\"tail\"}"
        ),
        3 * 8,
        "the spans of the three failed calls were kept without the policy's say"
    );
    for span in sink.spans() {
        let reason = string_attribute(&span, "sampling.reason").unwrap_or_default();
        let expected = match span.name.as_str() {
            "ordinary" => "ok".to_owned(),
            "panic" | "sleep" | "long-reason" => "policy-failed".to_owned(),
            "wordy-reason" => "w".repeat(128),
            other => panic!("unexpected span {other}"),
        };
        assert_eq!(reason, expected, "{}", span.name);
    }
}
