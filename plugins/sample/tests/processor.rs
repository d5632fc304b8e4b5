//! The sampler end to end: config in, batches through `weft_sdk::testing::run`, edits out.

use weft_plugin_sample::Sample;
use weft_sdk::testing::{BatchBuilder, SpanSpec, run};
use weft_sdk::{
    AttributeSelection, Edit, Interest, Processor, SpanFields, StatusCode, Target, TraceId, Value,
};

/// The configuration the crate documentation shows.
const EXAMPLE: &str = r#"{"default_ratio": 0.1, "rules": [
    {"keep_errors": true},
    {"slower_than_ms": 2000},
    {"service": "checkout", "ratio": 1.0},
    {"route": "/healthz", "ratio": 0.0},
    {"service": "search", "ratio": 0.25, "max_per_second": 100}
]}"#;

/// A trace id whose randomness every ratio above 0 keeps.
const KEPT: TraceId = TraceId {
    high: 0x4bf9_2f35_77b3_4da6,
    low: 0x00ff_ffff_ffff_ffff,
};

/// A trace id whose randomness no ratio below 1 keeps.
const DROPPED: TraceId = TraceId {
    high: 0x4bf9_2f35_77b3_4da6,
    low: 0xff00_0000_0000_0000,
};

const SECOND: u64 = 1_000_000_000;

fn sampler(config: &str) -> Sample {
    Sample::init(config).unwrap()
}

fn with_id(trace_id: TraceId) -> impl FnOnce(&mut SpanSpec) {
    move |span| span.trace_id = trace_id
}

fn dropped(edits: &[Edit]) -> Vec<u32> {
    edits
        .iter()
        .filter_map(|edit| match edit {
            Edit::DropSpan(index) => Some(*index),
            _ => None,
        })
        .collect()
}

#[test]
fn keeps_errors_and_slow_spans_whatever_the_ratio() {
    let mut sampler = sampler(
        r#"{"default_ratio": 0, "rules": [{"keep_errors": true}, {"slower_than_ms": 2000}]}"#,
    );
    let batch = BatchBuilder::new()
        .span_with("failed", |s| {
            s.trace_id = DROPPED;
            s.status_code = StatusCode::Error;
        })
        .span_with("slow", |s| {
            s.trace_id = DROPPED;
            s.end_time_unix_nano = s.start_time_unix_nano + 2_000_000_001;
        })
        .span_with("exactly two seconds", |s| {
            s.end_time_unix_nano = s.start_time_unix_nano + 2 * SECOND;
        })
        .span_with("ok", |s| s.status_code = StatusCode::Ok)
        .build();
    // Spans kept with probability 1 are not marked.
    assert_eq!(
        run(&mut sampler, &batch).unwrap(),
        vec![Edit::DropSpan(2), Edit::DropSpan(3)]
    );
}

#[test]
fn applies_the_documented_rules_in_order() {
    let mut sampler = sampler(EXAMPLE);

    // All of checkout, even traces the default ratio would drop.
    let checkout = BatchBuilder::new()
        .resource_attribute("service.name", "checkout")
        .span_with("POST /pay", with_id(DROPPED))
        .span_with("GET /healthz", with_id(DROPPED))
        .attribute("http.route", "/healthz")
        .build();
    assert_eq!(run(&mut sampler, &checkout).unwrap(), vec![]);

    // Elsewhere, health checks are dropped even for traces every ratio keeps, unless they fail.
    let cart = BatchBuilder::new()
        .resource_attribute("service.name", "cart")
        .span_with("GET /healthz", with_id(KEPT))
        .attribute("http.route", "/healthz")
        .span_with("GET /healthz", |s| {
            s.trace_id = KEPT;
            s.status_code = StatusCode::Error;
        })
        .attribute("http.route", "/healthz")
        .span_with("GET /cart", with_id(KEPT))
        .attribute("http.route", "/cart")
        .span_with("GET /cart", with_id(DROPPED))
        .attribute("http.route", "/cart")
        .build();
    let edits = run(&mut sampler, &cart).unwrap();
    assert_eq!(dropped(&edits), vec![0, 3]);
    // The span the default ratio (0.1) kept is marked with its threshold.
    assert!(edits.contains(&Edit::SetTraceState((2, "ot=th:e6666666666666".to_owned()))));
    assert_eq!(edits.len(), 3);

    // Search gets its own ratio, 0.25.
    let search = BatchBuilder::new()
        .resource_attribute("service.name", "search")
        .span_with("GET /q", with_id(KEPT))
        .span_with("GET /q", with_id(DROPPED))
        .build();
    assert_eq!(
        run(&mut sampler, &search).unwrap(),
        vec![
            Edit::SetTraceState((0, "ot=th:c".to_owned())),
            Edit::DropSpan(1)
        ]
    );
}

#[test]
fn routes_match_by_prefix_on_a_configurable_attribute() {
    let mut sampler = sampler(
        r#"{"default_ratio": 1, "route_attribute": "url.template",
            "rules": [{"route": "/internal/*", "ratio": 0}]}"#,
    );
    let batch = BatchBuilder::new()
        .span("a")
        .attribute("url.template", "/internal/metrics")
        .span("b")
        .attribute("url.template", "/internal")
        .span("c")
        .attribute("http.route", "/internal/metrics")
        .span("d")
        .attribute("url.template", 7i64)
        .build();
    assert_eq!(run(&mut sampler, &batch).unwrap(), vec![Edit::DropSpan(0)]);
}

#[test]
fn merges_the_threshold_into_existing_trace_state() {
    let mut sampler = sampler(r#"{"default_ratio": 0.5}"#);
    let batch = BatchBuilder::new()
        .span_with("other vendors", |s| {
            s.trace_id = KEPT;
            s.trace_state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned();
        })
        .span_with("sdk sampled everything", |s| {
            s.trace_id = KEPT;
            s.trace_state = "rojo=00f067aa0ba902b7, ot=th:0;p:8".to_owned();
        })
        .span_with("sdk sampled harder", |s| {
            s.trace_id = KEPT;
            s.trace_state = "ot=th:c".to_owned();
        })
        .span_with("already marked", |s| {
            s.trace_id = KEPT;
            s.trace_state = "ot=th:8".to_owned();
        })
        .build();
    assert_eq!(
        run(&mut sampler, &batch).unwrap(),
        vec![
            Edit::SetTraceState((
                0,
                "ot=th:8,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".to_owned()
            )),
            Edit::SetTraceState((1, "ot=th:8;p:8,rojo=00f067aa0ba902b7".to_owned())),
        ]
    );
}

#[test]
fn explicit_randomness_in_trace_state_overrides_the_trace_id() {
    let mut sampler = sampler(r#"{"default_ratio": 0.5}"#);
    let batch = BatchBuilder::new()
        .span_with("rv keeps", |s| {
            s.trace_id = DROPPED;
            s.trace_state = "ot=rv:ffffffffffffff".to_owned();
        })
        .span_with("rv drops", |s| {
            s.trace_id = KEPT;
            s.trace_state = "ot=rv:00000000000000".to_owned();
        })
        .build();
    assert_eq!(
        run(&mut sampler, &batch).unwrap(),
        vec![
            Edit::SetTraceState((0, "ot=th:8;rv:ffffffffffffff".to_owned())),
            Edit::DropSpan(1),
        ]
    );
}

#[test]
fn writes_the_ratio_attribute_when_asked() {
    let mut sampler = sampler(
        r#"{"default_ratio": 0.25, "ratio_attribute": "sampling.ratio",
            "rules": [{"keep_errors": true}]}"#,
    );
    let batch = BatchBuilder::new()
        .span_with("sampled", with_id(KEPT))
        .span_with("error", |s| {
            s.trace_id = DROPPED;
            s.status_code = StatusCode::Error;
        })
        .build();
    assert_eq!(
        run(&mut sampler, &batch).unwrap(),
        vec![
            Edit::SetTraceState((0, "ot=th:c".to_owned())),
            Edit::SetAttribute((
                Target::Span(0),
                "sampling.ratio".to_owned(),
                Value::Double(0.25)
            )),
        ]
    );
}

#[test]
fn rate_limits_by_span_end_time_across_batches() {
    let mut sampler =
        sampler(r#"{"default_ratio": 1, "rules": [{"service": "search", "max_per_second": 2}]}"#);
    let batch_ending_at = |end: u64| {
        (0..5)
            .fold(
                BatchBuilder::new().resource_attribute("service.name", "search"),
                |b, _| {
                    b.span_with("GET /q", |s| {
                        s.end_time_unix_nano = end;
                        s.start_time_unix_nano = end - 1_000_000;
                    })
                },
            )
            .build()
    };
    let t0 = 1_700_000_000 * SECOND;
    assert_eq!(
        dropped(&run(&mut sampler, &batch_ending_at(t0)).unwrap()),
        vec![2, 3, 4]
    );
    // Half a second of span time later, one token has come back.
    let edits = run(&mut sampler, &batch_ending_at(t0 + SECOND / 2)).unwrap();
    assert_eq!(dropped(&edits), vec![1, 2, 3, 4]);
    // The same batch again: no time has passed.
    let edits = run(&mut sampler, &batch_ending_at(t0 + SECOND / 2)).unwrap();
    assert_eq!(dropped(&edits), vec![0, 1, 2, 3, 4]);
    // A long pause: one second of burst.
    let edits = run(&mut sampler, &batch_ending_at(t0 + 60 * SECOND)).unwrap();
    assert_eq!(dropped(&edits), vec![2, 3, 4]);
}

#[test]
fn asks_only_for_what_the_example_rules_read() {
    let interest = sampler(EXAMPLE).interest();
    assert_eq!(
        interest,
        Interest {
            span_fields: SpanFields::IDS
                | SpanFields::TRACE_STATE
                | SpanFields::STATUS
                | SpanFields::TIMES,
            span_attributes: AttributeSelection::Keys(vec!["http.route".to_owned()]),
            resource_attributes: AttributeSelection::Keys(vec!["service.name".to_owned()]),
            ..Interest::nothing()
        }
    );
}

#[test]
fn works_on_the_narrow_view_it_asked_for() {
    // With only ids asked for, the host sends no attributes, status or times: a pure ratio
    // sampler must not depend on them.
    let mut sampler = sampler(r#"{"default_ratio": 0.5}"#);
    let mut batch = BatchBuilder::new()
        .span_with("a", with_id(KEPT))
        .span_with("b", with_id(DROPPED))
        .build();
    batch.attributes.clear();
    batch.resources.clear();
    for span in &mut batch.spans {
        span.start_time_unix_nano = 0;
        span.end_time_unix_nano = 0;
    }
    assert_eq!(
        run(&mut sampler, &batch).unwrap(),
        vec![
            Edit::SetTraceState((0, "ot=th:8".to_owned())),
            Edit::DropSpan(1)
        ]
    );
}

#[test]
fn an_empty_batch_needs_no_edits() {
    let mut sampler = sampler(EXAMPLE);
    assert_eq!(
        run(&mut sampler, &BatchBuilder::new().build()).unwrap(),
        vec![]
    );
}

#[test]
fn refuses_invalid_configs_with_readable_messages() {
    let error = |config: &str| Sample::init(config).err().unwrap();
    assert!(
        error(r#"{"default_ratio": 0.1, "rules": [{"route": "/x", "ratio": 2}]}"#).starts_with(
            "invalid config at `rules[0].ratio`: a ratio is a probability from 0 to 1 \
             (0.25 keeps a quarter), got 2"
        )
    );
    assert!(
        error(r#"{"default_ratio": 0.1, "rules": [{"ratio": 0.5}]}"#)
            .starts_with("invalid config at `rules[0]`: a rule needs a condition")
    );
    assert!(
        error(r#"{"default_ratio": 0.1, "rules": [{"keep_error": true}]}"#)
            .contains("unknown field `keep_error`")
    );
    assert!(error("").contains("missing field `default_ratio`"));
}
