//! A checkout service instrumented with the OpenTelemetry Rust SDK, exporting over OTLP/gRPC
//! with `opentelemetry-otlp`: the kind of application that leaks PII into its spans.

use std::net::SocketAddr;

use opentelemetry::Context;
use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{KeyValue, Value};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// PII the checkout service puts in its spans: none of it may leave Weft.
pub const PII: &[&str] = &[
    "ann.smith@example.com",
    "4111 1111 1111 1111",
    "5500-0000-0000-0004",
    "+14155552671",
    "(415) 555-2671",
    "203.0.113.7",
    "2001:db8::8a2e:370:7334",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "DE89 3704 0044 0532 0130 00",
    "078-05-1120",
    "hunter2",
];

/// Ordinary values that look a little like PII: all must arrive untouched.
pub const CLEAN: &[(&str, &str)] = &[
    ("order.id", "ord-2024-000123"),
    ("order.created_at", "2024-03-15T10:22:33.123Z"),
    ("order.epoch_ms", "1710498153123"),
    ("request.id", "550e8400-e29b-41d4-a716-446655440000"),
    ("catalog.sku", "1234567812345678"),
    ("app.version", "v10.4.1-beta"),
    ("server.port", "8080"),
    ("http.route", "/api/checkout/{id}"),
    ("duration", "1.25s"),
];

/// An OpenTelemetry SDK tracer provider for service `checkout`, exporting to Weft over gRPC.
/// Call from inside a Tokio runtime.
pub fn tracer_provider(weft_grpc: SocketAddr) -> SdkTracerProvider {
    tracer_provider_with_token(weft_grpc, None)
}

/// [`tracer_provider`], sending `authorization: Bearer <token>` with every export when given,
/// as an application configured for a Weft that requires tokens does.
pub fn tracer_provider_with_token(weft_grpc: SocketAddr, token: Option<&str>) -> SdkTracerProvider {
    let mut metadata = tonic::metadata::MetadataMap::new();
    if let Some(token) = token {
        let value = format!("Bearer {token}")
            .parse()
            .expect("a valid header value");
        metadata.insert("authorization", value);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(format!("http://{weft_grpc}"))
        .with_metadata(metadata)
        .build()
        .expect("building the OTLP exporter");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name("checkout")
                .with_attribute(KeyValue::new("host.ip", "203.0.113.7"))
                .build(),
        )
        .build()
}

/// Records one checkout trace: a server span with PII in attributes, an exception event with
/// an email in its message, and a client span to the payment provider.
pub fn checkout(provider: &SdkTracerProvider, n: usize) {
    let tracer = provider.tracer("checkout");
    let mut root = tracer
        .span_builder("POST /api/checkout")
        .with_kind(SpanKind::Server)
        .with_attributes(vec![
            KeyValue::new("user.email", "ann.smith@example.com"),
            KeyValue::new("payment.card", "4111 1111 1111 1111"),
            KeyValue::new("payment.card_backup", "5500-0000-0000-0004"),
            KeyValue::new("user.phone", "+14155552671"),
            KeyValue::new("support.note", "call (415) 555-2671 after 5pm"),
            KeyValue::new("client.address", "2001:db8::8a2e:370:7334"),
            KeyValue::new("http.request.header.authorization", "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
            KeyValue::new("payment.iban", "DE89 3704 0044 0532 0130 00"),
            KeyValue::new("user.ssn", "078-05-1120"),
            KeyValue::new("user.password", "hunter2"),
            KeyValue::new("checkout.n", n as i64),
        ])
        .start(&tracer);
    for (key, value) in CLEAN {
        root.set_attribute(KeyValue::new(*key, Value::from(*value)));
    }
    root.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", "PaymentDeclined"),
            KeyValue::new(
                "exception.message",
                "card declined for ann.smith@example.com",
            ),
        ],
    );
    let parent = Context::new().with_remote_span_context(root.span_context().clone());
    let mut child = tracer
        .span_builder("POST payments.example/charge")
        .with_kind(SpanKind::Client)
        .start_with_context(&tracer, &parent);
    child.set_attribute(KeyValue::new("peer.ip", "203.0.113.7"));
    child.set_status(Status::error("declined"));
    child.end();
    root.end();
}
