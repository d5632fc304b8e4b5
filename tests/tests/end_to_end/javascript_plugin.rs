//! A processor written in JavaScript (componentize-js), built from source by the test build,
//! run through weft end to end.

use std::time::{Duration, Instant};

use weft_tests::client::grpc_client;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{kv, request_named, span_number, string_attribute};
use weft_tests::{config_with, fixture, start_weft};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_enrichment_plugin_stamps_and_derives_routes_end_to_end() {
    let sink = OtlpSink::start().await;
    let chain = format!(
        r#"
[[processors]]
name = "enrich-js"
plugin = "{}"
config = {{ set = {{ "deployment.environment" = "prod", tier = 2 }} }}
"#,
        fixture("javascript-enrich")
    );
    let started = Instant::now();
    let weft = start_weft(&config_with(&chain, sink.addr())).await;
    eprintln!(
        "javascript component {} bytes; start-up with it (compile, init, smoke batch): {:?}",
        std::fs::metadata(fixture("javascript-enrich"))
            .unwrap()
            .len(),
        started.elapsed()
    );
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    let mut request = request_named(0, 50, |_| "GET /users".into());
    for span in &mut request.resource_spans[0].scope_spans[0].spans {
        let n = span_number(span).unwrap();
        // Odd spans have no route yet: the plugin derives one. Even spans keep theirs.
        span.attributes
            .retain(|a| a.key != "url.path" && (n % 2 == 0 || a.key != "http.route"));
        span.attributes.push(kv(
            "url.path",
            &format!("/users/{n}/orders/9f3c2a1b?expand=1"),
        ));
    }
    client.export(request).await.unwrap();
    assert_eq!(sink.wait_for(50, Duration::from_secs(30)).await, 50);
    weft.shutdown().await;
    for span in sink.spans() {
        let n = span_number(&span).unwrap();
        assert_eq!(
            string_attribute(&span, "deployment.environment"),
            Some("prod"),
            "span {n}"
        );
        let route = if n % 2 == 0 {
            "/api/checkout/{id}"
        } else {
            "/users/{id}/orders/{id}"
        };
        assert_eq!(
            string_attribute(&span, "http.route"),
            Some(route),
            "span {n}"
        );
        assert!(span.attributes.iter().any(|a| a.key == "tier"), "span {n}");
    }
}
