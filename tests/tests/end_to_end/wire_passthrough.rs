//! Spans no plugin touched leave Weft byte for byte as they arrived: the request's bytes are
//! what moves through the pipeline, and only what a plugin changed is written anew.
//!
//! The request carries what a decode-and-re-encode pipeline could not keep: a field unknown
//! to the OTLP schema (prost drops it) and fields out of schema order (prost writes them in
//! order). An OTLP/HTTP sink records the exported bodies as raw bytes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use weft_tests::client::{get, metric_sample, post_traces};
use weft_tests::spans::{kv, span};
use weft_tests::start_weft;

/// Records the body of every request it receives, and answers an empty OTLP response.
#[derive(Clone, Default)]
struct RawSink {
    bodies: Arc<Mutex<Vec<Bytes>>>,
}

impl RawSink {
    async fn start(&self) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bodies = self.bodies.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: http::Request<hyper::body::Incoming>| {
                            let bodies = bodies.clone();
                            async move {
                                let body = request.into_body().collect().await?.to_bytes();
                                bodies.lock().unwrap().push(body);
                                let response = http::Response::builder()
                                    .header("content-type", "application/x-protobuf")
                                    .body(Full::new(Bytes::new()))
                                    .unwrap();
                                Ok::<_, hyper::Error>(response)
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        addr
    }

    /// Waits (bounded) until the bodies received hold `spans` spans; returns the bodies.
    async fn wait_for_spans(&self, spans: usize) -> Vec<Bytes> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let bodies = self.bodies.lock().unwrap().clone();
            let received: usize = bodies
                .iter()
                .map(|body| {
                    ExportTraceServiceRequest::decode(body.clone())
                        .unwrap()
                        .resource_spans
                        .iter()
                        .flat_map(|rs| &rs.scope_spans)
                        .map(|ss| ss.spans.len())
                        .sum::<usize>()
                })
                .sum();
            if received >= spans || Instant::now() > deadline {
                return bodies;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn config(processors: &str, sink: SocketAddr) -> String {
    format!(
        r#"
[receivers.otlp.http]
endpoint = "127.0.0.1:0"
[pipeline]
component_cache = false
[admin]
endpoint = "127.0.0.1:0"
{processors}
[exporters.raw]
type = "otlphttp"
endpoint = "http://{sink}"
compression = "none"
[exporters.raw.batch]
timeout_ms = 20
"#
    )
}

/// A `ResourceSpans` field as a client library might write it: `schema_url` before the
/// scopes, and each span with a field OTLP does not define (number 999) at its end.
fn resource_spans_field(service: &str, spans: Vec<Span>) -> Vec<u8> {
    let resource = Resource {
        attributes: vec![kv("service.name", service)],
        ..Default::default()
    };
    let mut content = Vec::new();
    // schema_url (3) first, then resource (1), then the scope (2): not prost's order.
    prost::encoding::string::encode(
        3,
        &"https://opentelemetry.io/schemas/1.27.0".to_owned(),
        &mut content,
    );
    prost::encoding::message::encode(1, &resource, &mut content);
    let mut scope = Vec::new();
    for span in spans {
        let mut span_bytes = span.encode_to_vec();
        // Unknown field 999, varint 7.
        prost::encoding::encode_key(999, prost::encoding::WireType::Varint, &mut span_bytes);
        prost::encoding::encode_varint(7, &mut span_bytes);
        prost::encoding::bytes::encode(2, &span_bytes, &mut scope);
    }
    prost::encoding::bytes::encode(2, &scope, &mut content);
    let mut field = Vec::new();
    prost::encoding::bytes::encode(1, &content, &mut field);
    field
}

fn clean_spans() -> Vec<Span> {
    (0..3)
        .map(|n| {
            let mut s = span(n, "GET /inventory");
            s.attributes = vec![kv("http.route", "/inventory"), kv("item.count", "12")];
            s
        })
        .collect()
}

fn leaky_spans() -> Vec<Span> {
    (10..12)
        .map(|n| {
            let mut s = span(n, "POST /checkout");
            s.attributes = vec![kv("user.email", "ann@example.com"), kv("cart.items", "3")];
            s
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_processors_the_exported_bytes_are_the_received_bytes() {
    let sink = RawSink::default();
    let sink_addr = sink.start().await;
    let weft = start_weft(&config("", sink_addr)).await;
    let body = [
        resource_spans_field("inventory", clean_spans()),
        resource_spans_field("checkout", leaky_spans()),
    ]
    .concat();
    // What prost would make of it is not what was sent: the test can tell the difference.
    let reencoded = ExportTraceServiceRequest::decode(body.as_slice())
        .unwrap()
        .encode_to_vec();
    assert_ne!(reencoded, body);
    let response = post_traces(
        weft.http_addr().unwrap(),
        &[("content-type", "application/x-protobuf")],
        body.clone(),
    )
    .await;
    assert_eq!(response.status, 200);
    let bodies = sink.wait_for_spans(5).await;
    assert_eq!(
        bodies.concat(),
        body,
        "the export is the request, byte for byte"
    );
    weft.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_a_plugin_did_not_change_leave_byte_for_byte() {
    let sink = RawSink::default();
    let sink_addr = sink.start().await;
    let redact = r#"
[[processors]]
name = "redact"
plugin = "builtin:pii-redact"
"#;
    let weft = start_weft(&config(redact, sink_addr)).await;
    let untouched = resource_spans_field("inventory", clean_spans());
    let leaky = resource_spans_field("checkout", leaky_spans());
    let body = [untouched.clone(), leaky.clone()].concat();
    let response = post_traces(
        weft.http_addr().unwrap(),
        &[("content-type", "application/x-protobuf")],
        body,
    )
    .await;
    assert_eq!(response.status, 200);
    let exported = sink.wait_for_spans(5).await.concat();
    assert!(
        exported.starts_with(&untouched),
        "the resource no plugin touched is copied as it arrived"
    );
    let rest = &exported[untouched.len()..];
    assert_ne!(rest, &leaky[..], "the redacted resource is written anew");
    let text = String::from_utf8_lossy(rest);
    assert!(!text.contains("ann@example.com"), "redacted");
    assert!(text.contains("[REDACTED:email]"), "{text}");
    // The redacted spans keep what the plugin did not change, unknown field included.
    let unknown_field = [0xb8, 0x3e, 0x07];
    assert_eq!(
        rest.windows(3).filter(|w| *w == unknown_field).count(),
        2,
        "both redacted spans keep field 999"
    );
    let decoded = ExportTraceServiceRequest::decode(exported.as_slice()).unwrap();
    let names: Vec<usize> = decoded
        .resource_spans
        .iter()
        .map(|rs: &ResourceSpans| {
            rs.scope_spans
                .iter()
                .map(|ss: &ScopeSpans| ss.spans.len())
                .sum()
        })
        .collect();
    assert_eq!(names, [3, 2]);
    // What the redactor counted with host::counter-add is a metric.
    let (_, scrape) = get(weft.admin_addr().unwrap(), "/metrics").await;
    let redacted = metric_sample(
        &scrape,
        "weft_plugin_counter_total{processor=\"redact\",name=\"pii_redact.values_redacted\"}",
    );
    assert_eq!(redacted, 2, "one email in each of two spans");
    weft.shutdown().await;
}
