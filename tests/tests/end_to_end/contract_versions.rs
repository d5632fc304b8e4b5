//! Plugins built against the previous contract keep working: a processor built against
//! `weft:plugin@0.2.0` (wit-bindgen alone, no SDK) runs in one chain with the built-in
//! redactor, built against 0.3.0, whose `set-event-name` edit the older contract lacks; one
//! built against a version the host does not serve is refused, naming both versions.

use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::span;
use weft_tests::client::{get, grpc_client};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request_of, span, string_attribute};
use weft_tests::{config_with, fixture, start_weft};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_built_against_0_2_0_runs_beside_one_built_against_0_3_0() {
    let chain = format!(
        "[[processors]]\nname = \"old\"\nplugin = \"{}\"\n\n\
         [[processors]]\nname = \"redact\"\nplugin = \"builtin:pii-redact\"\n",
        fixture("contract-v0-2")
    );
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with(&chain, sink.addr())).await;

    let (status, plugins) = get(weft.admin_addr().unwrap(), "/api/plugins").await;
    assert_eq!(status, 200);
    let plugins: serde_json::Value = serde_json::from_str(&plugins).unwrap();
    let contract_of = |name: &str| {
        plugins
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["processor"] == name)
            .map(|p| p["contract"].clone())
    };
    assert_eq!(contract_of("old"), Some("0.2.0".into()), "{plugins}");
    assert_eq!(contract_of("redact"), Some("0.3.0".into()), "{plugins}");

    let mut sent = span(0, "charge");
    sent.events = vec![span::Event {
        name: "card 4111 1111 1111 1111 declined".into(),
        ..Default::default()
    }];
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client.export(request_of(vec![sent])).await.unwrap();
    assert_eq!(sink.wait_for(1, Duration::from_secs(30)).await, 1);
    weft.shutdown().await;

    let spans = sink.spans();
    let out = &spans[0];
    assert_eq!(out.name, "charge (0.2.0)", "the 0.2.0 plugin's edits apply");
    assert_eq!(string_attribute(out, "contract.version"), Some("0.2.0"));
    assert_eq!(
        out.events[0].name, "card [REDACTED:credit_card] declined",
        "the 0.3.0 plugin's set-event-name applies"
    );
}

#[test]
fn a_plugin_built_against_a_version_not_served_is_refused_naming_both() {
    use weft::sandbox::{ComponentCache, Limits, LoadedPlugin, PluginEngine, World};
    let engine = PluginEngine::new().unwrap();
    let bytes = std::fs::read(fixture("contract-future")).unwrap();
    let error = LoadedPlugin::load_world(
        &engine,
        &ComponentCache::disabled(),
        World::Processor,
        "future",
        &bytes,
        "{}".into(),
        (Limits::default(), Default::default()),
    )
    .err()
    .expect("a 9.0.0 plugin is refused")
    .to_string();
    assert!(error.contains("weft:plugin@9.0.0"), "{error}");
    assert!(error.contains("it serves 0.3.0 and 0.2.0"), "{error}");
}
