//! The reference chain end to end: an application instrumented with the OpenTelemetry SDK
//! sends checkout traces full of PII through weft (pii-redact → enrich → sample) to an OTLP
//! sink; and the sampler's decisions over 100,000 trace ids.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use weft_tests::app::{CLEAN, PII, checkout, tracer_provider};
use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request_named, string_attribute};
use weft_tests::{config_with, start_weft};

const CHAIN: &str = r#"
[[processors]]
name = "redact"
plugin = "builtin:pii-redact"
on_error = "drop"
[processors.config]
REDACT_CONFIG

[[processors]]
name = "enrich"
plugin = "builtin:enrich"
config = { actions = [
  { action = "upsert", key = "deployment.environment", value = "prod" },
  { action = "insert", key = "team", value = "payments", when = { service = "checkout", kind = "server" } },
] }

[[processors]]
name = "sample"
plugin = "builtin:sample"
config = { default_ratio = 1.0 }
"#;

/// Deny-listed keys on top of the detectors' defaults.
const REDACT_CONFIG: &str = r#"deny_keys = ["*.password", "http.request.header.authorization"]"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_traces_leave_weft_with_zero_pii_and_untouched_clean_fields() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(
        &CHAIN.replace("REDACT_CONFIG", REDACT_CONFIG),
        sink.addr(),
    ))
    .await;
    let provider = tracer_provider(weft.grpc_addr().unwrap());
    let traces = 200;
    for n in 0..traces {
        checkout(&provider, n);
    }
    let flushed = tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap();
    flushed.expect("the SDK flushes to weft");
    assert_eq!(
        sink.wait_for(traces * 2, Duration::from_secs(30)).await,
        traces * 2
    );
    weft.shutdown().await;

    let exported: Vec<ExportTraceServiceRequest> = sink.requests();
    let json = serde_json::to_string(&exported).unwrap();
    for pii in PII {
        assert!(!json.contains(pii), "PII {pii:?} left weft");
    }
    assert!(
        !json.contains("4111111111111111") && !json.contains("ann.smith"),
        "no fragment of the PII survives"
    );
    let spans = sink.spans();
    let servers: Vec<_> = spans.iter().filter(|s| s.kind == 2).collect();
    assert_eq!(servers.len(), traces);
    for span in &servers {
        for (key, value) in CLEAN {
            assert_eq!(
                string_attribute(span, key),
                Some(*value),
                "clean field {key} must arrive untouched"
            );
        }
        assert_eq!(
            string_attribute(span, "deployment.environment"),
            Some("prod")
        );
        assert_eq!(string_attribute(span, "team"), Some("payments"));
        let message = span.events[0]
            .attributes
            .iter()
            .find(|kv| kv.key == "exception.message")
            .unwrap();
        let Some(any_value::Value::StringValue(message)) =
            message.value.as_ref().and_then(|v| v.value.as_ref())
        else {
            panic!("exception.message is a string")
        };
        assert!(
            message.starts_with("card declined for ") && !message.contains('@'),
            "{message}"
        );
    }
    for span in spans.iter().filter(|s| s.kind == 3) {
        assert_eq!(
            span.parent_span_id.len(),
            8,
            "the payment call is a child of the checkout span"
        );
        assert_eq!(
            string_attribute(span, "deployment.environment"),
            Some("prod")
        );
        assert_eq!(
            string_attribute(span, "team"),
            None,
            "the insert only applies to server spans"
        );
    }
}

/// The OpenTelemetry consistent-probability rule: keep iff the trace id's low 56 bits are at
/// least (1 - ratio) * 2^56.
fn expected_verdict(trace_id: &[u8], ratio: f64) -> bool {
    let low = u64::from_be_bytes(trace_id[8..16].try_into().unwrap()) & ((1 << 56) - 1);
    let threshold = (1u64 << 56) - (ratio * (1u64 << 56) as f64).round() as u64;
    low >= threshold
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_is_within_statistical_bounds_and_consistent_per_trace_id() {
    let sink = OtlpSink::start().await;
    let chain = r#"
[[processors]]
name = "sample"
plugin = "builtin:sample"
config = { default_ratio = 0.1 }
"#;
    let weft = start_weft(&config_with(chain, sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let traces: u64 = 100_000;
    // Two passes over the same 100,000 trace ids, as two different spans of each trace.
    for pass in 0..2u64 {
        for first in (0..traces).step_by(1000) {
            let mut request = request_named(first, 1000, |_| format!("pass-{pass}"));
            for (i, span) in request.resource_spans[0].scope_spans[0]
                .spans
                .iter_mut()
                .enumerate()
            {
                let n = first + i as u64;
                let mixed =
                    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xD1B5_4A32_D192_ED03;
                span.trace_id[..8].copy_from_slice(&n.to_be_bytes());
                span.trace_id[8..].copy_from_slice(&mixed.to_be_bytes());
                span.span_id = (pass * traces + n + 1).to_be_bytes().to_vec();
                span.parent_span_id.clear();
            }
            client.export(request).await.unwrap();
        }
    }
    weft.shutdown().await;
    let mut kept: HashMap<String, HashSet<Vec<u8>>> = HashMap::new();
    for span in sink.spans() {
        kept.entry(span.name.clone())
            .or_default()
            .insert(span.trace_id.clone());
        assert!(
            expected_verdict(&span.trace_id, 0.1),
            "a kept span must be one the OpenTelemetry ratio rule keeps"
        );
        assert!(
            span.trace_state.starts_with("ot=th:"),
            "kept spans carry their threshold: {:?}",
            span.trace_state
        );
    }
    let expected_kept: HashSet<Vec<u8>> = (0..traces)
        .map(|n| {
            let mixed =
                n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0xD1B5_4A32_D192_ED03;
            [n.to_be_bytes(), mixed.to_be_bytes()].concat()
        })
        .filter(|id| expected_verdict(id, 0.1))
        .collect();
    let first = &kept["pass-0"];
    assert_eq!(
        first, &expected_kept,
        "weft keeps exactly the traces the OpenTelemetry ratio rule keeps"
    );
    let second = &kept["pass-1"];
    assert_eq!(
        first, second,
        "the same trace id gets the same verdict every time"
    );
    let expected = traces as f64 * 0.1;
    let sigma = (traces as f64 * 0.1 * 0.9).sqrt();
    let n = first.len() as f64;
    assert!(
        (n - expected).abs() < 4.0 * sigma,
        "kept {n} of {traces}, expected {expected} ± {:.0}",
        4.0 * sigma
    );
}
