//! The hostile plugin suite: a plugin that allocates without end, hoards host resources,
//! overflows its stack, hits `unreachable`, floods its output, or probes for files, sockets
//! and environment costs its own batch at most; the host stays up and other traffic flows.

use std::time::Duration;

use weft_tests::client::{get, grpc_client, metric_sample as sample};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request_named, span_number, string_attribute};
use weft_tests::{config_with, fixture, start_weft};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_cost_their_own_batch_and_nothing_else() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "hostile"
plugin = "{}"
on_error = "pass"
timeout_ms = 1000
memory_limit_mb = 32
quarantine_after = 0
"#,
        fixture("hostile")
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let addr = weft.grpc_addr().unwrap();
    let admin = weft.admin_addr().unwrap();

    // Ordinary traffic from a second client while the attacks run.
    let normal = tokio::spawn(async move {
        let mut client = grpc_client(addr).await;
        for i in 0..20u64 {
            client
                .export(request_named(10_000 + i * 10, 10, |_| "normal".into()))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let attacks = [
        "alloc",
        "recurse",
        "unreachable",
        "amplify",
        "slow",
        "passwd",
        "socket",
        "env",
        "granted-file",
        "granted-env",
        "resources",
    ];
    let mut client = grpc_client(addr).await;
    for (i, attack) in attacks.iter().enumerate() {
        let name = attack.to_string();
        client
            .export(request_named(i as u64 * 100, 10, move |_| name.clone()))
            .await
            .expect("the receiver accepts every batch");
    }
    normal.await.unwrap();
    let total = attacks.len() * 10 + 200;
    assert_eq!(
        sink.wait_for(total, Duration::from_secs(60)).await,
        total,
        "every batch passes on (on_error = pass)"
    );
    let (status, scrape) = get(admin, "/metrics").await;
    assert_eq!(status, 200, "the host is still serving");
    weft.shutdown().await;

    let mut results = std::collections::HashMap::new();
    for span in sink.spans() {
        let n = span_number(&span).unwrap() as u64;
        let result = string_attribute(&span, "hostile.result").map(str::to_owned);
        if n >= 10_000 {
            assert_eq!(
                result.as_deref(),
                Some("ok"),
                "ordinary traffic is processed normally"
            );
        } else {
            results.insert(attacks[(n / 100) as usize], result);
            assert!(
                span.attributes
                    .iter()
                    .all(|kv| !kv.key.starts_with("amplified.")),
                "the flood never reaches the output"
            );
        }
    }
    for failed in ["alloc", "recurse", "unreachable", "amplify", "resources"] {
        assert_eq!(
            results[failed], None,
            "{failed}: the batch passed on unchanged"
        );
    }
    assert_eq!(
        results["slow"].as_deref(),
        Some("ok"),
        "slow but within its deadline"
    );
    for probe in ["passwd", "socket", "env", "granted-file", "granted-env"] {
        let result = results[probe].as_deref().unwrap();
        assert!(result.starts_with("denied"), "{probe}: {result}");
    }
    let errors = |kind: &str| {
        sample(
            &scrape,
            &format!("weft_processor_errors_total{{processor=\"hostile\",kind=\"{kind}\"}}"),
        )
    };
    assert_eq!(
        errors("memory"),
        2,
        "linear memory and host resources: {scrape}"
    );
    assert_eq!(errors("trap"), 2, "stack overflow and unreachable");
    assert_eq!(errors("invalid_edit"), 1, "output amplification");
    assert_eq!(errors("timeout"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_failing_again_and_again_is_quarantined() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "hostile"
plugin = "{}"
on_error = "drop"
quarantine_after = 3
quarantine_ms = 60000
"#,
        fixture("hostile")
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let admin = weft.admin_addr().unwrap();
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    for i in 0..6u64 {
        client
            .export(request_named(i * 10, 10, |_| "unreachable".into()))
            .await
            .unwrap();
    }
    // Quarantined: even a batch it would handle is dropped without calling it.
    client
        .export(request_named(100, 10, |_| "fine".into()))
        .await
        .unwrap();
    // Every batch is accounted for: failed in a call, or refused by the open breaker, and
    // its spans counted as dropped (counted just after the failure: wait for both).
    let calls = "weft_processor_calls_total{processor=\"hostile\"}";
    let quarantined = "weft_processor_errors_total{processor=\"hostile\",kind=\"quarantined\"}";
    let dropped = "weft_pipeline_spans_dropped_on_error_total";
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let scrape = loop {
        let (_, scrape) = get(admin, "/metrics").await;
        if sample(&scrape, calls) + sample(&scrape, quarantined) == 7
            && sample(&scrape, dropped) == 70
        {
            break scrape;
        }
        assert!(std::time::Instant::now() < deadline, "{scrape}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    weft.shutdown().await;
    assert_eq!(
        sink.span_count(),
        0,
        "on_error = drop: nothing from a failing or quarantined processor"
    );
    // Called until the breaker opened; with two workers, the second may have been inside a
    // call when the third failure opened it.
    let made = sample(&scrape, calls);
    assert!((3..=4).contains(&made), "{made} calls: {scrape}");
    assert_eq!(
        sample(&scrape, "weft_processor_quarantined{processor=\"hostile\"}"),
        1
    );
    assert_eq!(sample(&scrape, dropped), 70);
}

/// A log writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn guest_output_reaches_the_host_log_tagged_and_rate_limited() {
    use weft::contract::build_view;
    use weft::sandbox::{Limits, LoadedPlugin, PluginEngine};
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let engine = PluginEngine::new().unwrap();
        let bytes = std::fs::read(fixture("hostile")).unwrap();
        let plugin = std::sync::Arc::new(
            LoadedPlugin::load(&engine, "noisy", &bytes, "{}".into(), Limits::default()).unwrap(),
        );
        let mut instance = plugin.instantiate().unwrap();
        let chatty = request_named(0, 1, |_| "chatty".into());
        instance
            .process(&build_view(
                &weft::pdata::Traces::from_request(&chatty),
                plugin.interest(),
            ))
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let said = request_named(0, 1, |_| "said".into());
        instance
            .process(&build_view(
                &weft::pdata::Traces::from_request(&said),
                plugin.interest(),
            ))
            .unwrap();
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let flood: Vec<&str> = log.lines().filter(|l| l.contains("chatty line")).collect();
    assert!(
        flood[0].contains("WARN")
            && flood[0].contains("plugin=\"noisy\"")
            && flood[0].contains("stream=\"stderr\""),
        "{}",
        flood[0]
    );
    assert!(
        (90..=110).contains(&flood.len()),
        "a burst of about 100 lines, then silence: {} lines",
        flood.len()
    );
    let after = log
        .lines()
        .find(|l| l.contains("said after the flood"))
        .expect("later output is logged again");
    assert!(
        after.contains("INFO") && after.contains("stream=\"stdout\""),
        "{after}"
    );
    let suppressed: u64 = after
        .split("suppressed=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        suppressed >= 850,
        "the suppressed lines are counted: {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_open_exactly_what_they_name_read_only() {
    let dir = weft_tests::scratch_dir("grants");
    std::fs::create_dir_all(dir.join("tables")).unwrap();
    std::fs::write(dir.join("tables/region.txt"), "eu-west-1\n").unwrap();
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "granted"
plugin = "{}"
[processors.grants]
read_only_dirs = {{ "/lookup" = "{}" }}
env = ["CARGO_PKG_NAME"]
"#,
        fixture("hostile"),
        dir.join("tables").display()
    );
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let probes = [
        "granted-file",
        "granted-env",
        "granted-write",
        "passwd",
        "env",
    ];
    for (i, probe) in probes.iter().enumerate() {
        let name = probe.to_string();
        client
            .export(request_named(i as u64 * 100, 1, move |_| name.clone()))
            .await
            .unwrap();
    }
    assert_eq!(
        sink.wait_for(probes.len(), Duration::from_secs(30)).await,
        probes.len()
    );
    weft.shutdown().await;
    let mut results = std::collections::HashMap::new();
    for span in sink.spans() {
        results.insert(
            span.name.clone(),
            string_attribute(&span, "hostile.result")
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(results["granted-file"], "read: eu-west-1");
    assert_eq!(results["granted-env"], "read: weft-tests");
    for denied in ["granted-write", "passwd", "env"] {
        assert!(
            results[denied].starts_with("denied"),
            "{denied}: {}",
            results[denied]
        );
    }
    assert!(
        !dir.join("tables/written.txt").exists(),
        "the grant is read-only"
    );
}
