//! Malformed input gets a clear OTLP error, and the next request is served as usual.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use weft_tests::client::{grpc_client, post_traces};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::request;
use weft_tests::{config_with, start_weft};

/// `google.rpc.Status`, as OTLP/HTTP error bodies carry it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// (what, headers, body, expected status, words the message must contain)
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<u8>,
    u16,
    &'static str,
);

/// `bytes` with the first occurrence of `from` replaced by `to` (of the same length).
fn replace_once(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the marker is in the encoding");
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to);
    out
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_malformed_http_request_gets_a_clear_4xx_and_serving_continues() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with("", sink.addr())).await;
    let addr = weft.http_addr().unwrap();
    let valid = request(0, 10).encode_to_vec();
    let mut bad_ids = request(0, 1);
    bad_ids.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1, 2, 3];
    let oversize = request(0, 5_000).encode_to_vec();
    assert!(
        oversize.len() > 1 << 20,
        "the oversize body must exceed the 1 MiB limit"
    );
    let bomb = weft::codec::gzip(&vec![0u8; 8 << 20]);
    // An attribute value nested 200 arrays deep (decoders stop at 100 levels).
    let mut deep = request(0, 1);
    let mut value = AnyValue::default();
    for _ in 0..200 {
        value = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![value],
            })),
        };
    }
    deep.resource_spans[0].scope_spans[0].spans[0]
        .attributes
        .push(KeyValue {
            key: "deep".into(),
            value: Some(value),
            ..Default::default()
        });
    let deep_json = format!(
        "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"x\",\"attributes\":[{{\"key\":\"deep\",\"value\":{}{{\"intValue\":\"1\"}}{}}}]}}]}}]}}]}}",
        "{\"arrayValue\":{\"values\":[".repeat(200),
        "]}}".repeat(200)
    );
    // A span name that is not UTF-8: the name is field 5 of a span; write it by hand.
    let mut not_utf8 = request(0, 1);
    not_utf8.resource_spans[0].scope_spans[0].spans[0].name = "NAME".into();
    let not_utf8 = replace_once(
        &not_utf8.encode_to_vec(),
        b"NAME",
        &[0xff, 0xfe, 0xfd, 0xfc],
    );
    // Half a million spans that are empty but for nothing: 2 bytes each on the wire.
    let tiny_spans = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span::default(); 500_000],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec();
    assert!(tiny_spans.len() < 1 << 20, "within the size limit");

    let cases: Vec<Case> = vec![
        (
            "truncated protobuf",
            vec![PROTOBUF],
            valid[..valid.len() / 2].to_vec(),
            400,
            "invalid OTLP protobuf",
        ),
        (
            "invalid JSON",
            vec![JSON],
            b"{\"resourceSpans\": [".to_vec(),
            400,
            "invalid OTLP JSON",
        ),
        (
            "JSON of the wrong shape",
            vec![JSON],
            b"{\"resourceSpans\": 7}".to_vec(),
            400,
            "invalid OTLP JSON",
        ),
        (
            "wrong content type",
            vec![("content-type", "text/plain")],
            valid.clone(),
            415,
            "unsupported content type",
        ),
        (
            "no content type",
            vec![],
            valid.clone(),
            415,
            "unsupported content type",
        ),
        (
            "oversize body",
            vec![PROTOBUF],
            oversize,
            413,
            "exceeds the 1048576-byte limit",
        ),
        (
            "bad gzip",
            vec![PROTOBUF, ("content-encoding", "gzip")],
            b"definitely not gzip".to_vec(),
            400,
            "invalid gzip",
        ),
        (
            "gzip member followed by garbage",
            vec![PROTOBUF, ("content-encoding", "gzip")],
            [weft::codec::gzip(&valid), b"trailing garbage".to_vec()].concat(),
            400,
            "invalid gzip",
        ),
        (
            "gzip bomb",
            vec![PROTOBUF, ("content-encoding", "gzip")],
            bomb,
            413,
            "exceeds the 1048576-byte limit",
        ),
        (
            "unknown encoding",
            vec![PROTOBUF, ("content-encoding", "br")],
            valid.clone(),
            415,
            "unsupported content encoding",
        ),
        (
            "attribute nested 200 levels deep (protobuf)",
            vec![PROTOBUF],
            deep.encode_to_vec(),
            400,
            "recursion limit",
        ),
        (
            "attribute nested 200 levels deep (JSON)",
            vec![JSON],
            deep_json.into_bytes(),
            400,
            "recursion limit",
        ),
        (
            "span name that is not UTF-8",
            vec![PROTOBUF],
            not_utf8,
            400,
            "invalid OTLP protobuf",
        ),
        (
            "JSON with a number for a trace id",
            vec![JSON],
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":5,"spanId":"eee19b7ec3c1b174"}]}]}]}"#.to_vec(),
            400,
            "invalid OTLP JSON",
        ),
        (
            "half a million empty spans",
            vec![PROTOBUF],
            tiny_spans,
            400,
            "spans[0].trace_id: expected 16 bytes, got 0",
        ),
        (
            "invalid trace id length",
            vec![PROTOBUF],
            bad_ids.encode_to_vec(),
            400,
            "spans[0].trace_id: expected 16 bytes, got 3",
        ),
    ];
    for (n, (what, headers, body, status, words)) in cases.into_iter().enumerate() {
        let response = post_traces(addr, &headers, body).await;
        assert_eq!(
            response.status.as_u16(),
            status,
            "{what}: {:?}",
            response.body
        );
        let message = match response.headers["content-type"].to_str().unwrap() {
            "application/x-protobuf" => {
                RpcStatus::decode(response.body.clone())
                    .expect("a google.rpc.Status body")
                    .message
            }
            _ => serde_json::from_slice::<serde_json::Value>(&response.body).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned(),
        };
        assert!(
            message.contains(words),
            "{what}: message {message:?} should mention {words:?}"
        );
        // The host keeps serving: a valid request right after is accepted.
        let next = post_traces(
            addr,
            &[PROTOBUF],
            request(1000 + n as u64 * 10, 10).encode_to_vec(),
        )
        .await;
        assert_eq!(next.status, 200, "valid request after {what}");
    }
    assert_eq!(sink.wait_for(160, Duration::from_secs(20)).await, 160);
    let stats = weft.stats().snapshot();
    assert_eq!(stats.requests_refused, 16);
    weft.shutdown().await;
    assert_eq!(
        sink.span_count(),
        160,
        "only the valid requests were exported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_grpc_requests_get_a_clear_status_and_serving_continues() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with("", sink.addr())).await;
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;

    let mut bad_span_id = request(0, 3);
    bad_span_id.resource_spans[0].scope_spans[0].spans[2].span_id = vec![9; 4];
    let status = client.export(bad_span_id).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("spans[2].span_id: expected 8 bytes, got 4"),
        "{}",
        status.message()
    );

    let mut bad_parent = request(0, 1);
    bad_parent.resource_spans[0].scope_spans[0].spans[0].parent_span_id = vec![1; 3];
    let status = client.export(bad_parent).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status
            .message()
            .contains("parent_span_id: expected 0 or 8 bytes"),
        "{}",
        status.message()
    );

    // 1 MiB limit: a 5,000-span request is over it.
    let status = client.export(request(0, 5_000)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");

    client
        .export(request(100, 10))
        .await
        .expect("a valid request is served after the bad ones");
    assert_eq!(sink.wait_for(10, Duration::from_secs(20)).await, 10);
    weft.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_grpc_protobuf_is_refused_and_serving_continues() {
    let sink = OtlpSink::start().await;
    let weft = start_weft(&config_with("", sink.addr())).await;
    let addr = weft.grpc_addr().unwrap();
    // Frame a truncated message by hand: gRPC prefix (uncompressed, length) + half the bytes.
    let valid = request(0, 10).encode_to_vec();
    let half = &valid[..valid.len() / 2];
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(half.len() as u32).to_be_bytes());
    frame.extend_from_slice(half);
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    let result: Result<tonic::Response<()>, tonic::Status> = grpc
        .unary(
            tonic::Request::new(bytes::Bytes::from(frame[5..].to_vec())),
            path,
            RawCodec,
        )
        .await;
    let status = result.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("invalid OTLP protobuf"),
        "{}",
        status.message()
    );
    let mut client = grpc_client(addr).await;
    client
        .export(request(100, 10))
        .await
        .expect("served after the truncated request");
    assert_eq!(sink.wait_for(10, Duration::from_secs(20)).await, 10);
    weft.shutdown().await;
}

/// Sends raw bytes as the request message; ignores the response body.
#[derive(Clone, Copy)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = bytes::Bytes;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = ();
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<()>, tonic::Status> {
        bytes::Buf::advance(src, bytes::Buf::remaining(src));
        Ok(Some(()))
    }
}
