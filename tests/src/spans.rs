//! Generators of realistic OTLP trace requests.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// A string attribute.
pub fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// An integer attribute.
pub fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A checkout-like span numbered `n` (unique ids), with 10 attributes.
pub fn span(n: u64, name: &str) -> Span {
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&(n / 8 + 1).to_be_bytes());
    trace_id[8..].copy_from_slice(&0x5eed_u64.to_be_bytes());
    Span {
        trace_id: trace_id.to_vec(),
        span_id: (n + 1).to_be_bytes().to_vec(),
        parent_span_id: if n.is_multiple_of(8) {
            Vec::new()
        } else {
            (n - n % 8 + 1).to_be_bytes().to_vec()
        },
        name: name.into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + n * 1_000 + 250_000,
        attributes: vec![
            kv("http.request.method", "POST"),
            kv("url.path", "/api/checkout/9f3c2a"),
            kv("http.route", "/api/checkout/{id}"),
            kv_int("http.response.status_code", 200),
            kv("user.email", "ann.smith@example.com"),
            kv("client.address", "203.0.113.7"),
            kv("enduser.id", "u-42"),
            kv("order.id", "ord-2024-000123"),
            kv("payment.card", "4111 1111 1111 1111"),
            kv_int("weft.test.n", n as i64),
        ],
        status: Some(Status {
            code: 1,
            message: String::new(),
        }),
        ..Default::default()
    }
}

/// A span numbered `n` with 10 string attributes and no personal data in them: what most
/// traffic through a redactor looks like (ids, versions, routes and queries that must pass).
pub fn clean_span(n: u64) -> Span {
    Span {
        attributes: vec![
            kv("http.request.method", "GET"),
            kv("url.path", "/api/catalog/items/48213"),
            kv("http.route", "/api/catalog/items/{id}"),
            kv("server.address", "catalog.internal"),
            kv(
                "user_agent.original",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            ),
            kv("db.system", "postgresql"),
            kv(
                "db.statement",
                "SELECT id, name, price FROM items WHERE id = $1",
            ),
            kv("order.id", "ord-2024-000123"),
            kv("session.id", "123e4567-e89b-12d3-a456-426614174000"),
            kv("service.version", "v10.4.1"),
        ],
        ..span(n, "GET /api/catalog/items/{id}")
    }
}

/// A request of `count` spans numbered from `first`, from service `checkout`.
pub fn request(first: u64, count: u64) -> ExportTraceServiceRequest {
    request_named(first, count, |_| "POST /api/checkout".to_owned())
}

/// A request of `count` spans numbered from `first`, named by `name(n)`.
pub fn request_named(
    first: u64,
    count: u64,
    name: impl Fn(u64) -> String,
) -> ExportTraceServiceRequest {
    request_of((first..first + count).map(|n| span(n, &name(n))).collect())
}

/// A request carrying `spans` from service `checkout`, in one resource and one scope.
pub fn request_of(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "checkout")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "weft-tests".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The number `n` a span made by [`span`] was made with, read from its id (which no
/// processor changes).
pub fn number_of(span: &Span) -> u64 {
    u64::from_be_bytes(span.span_id[..8].try_into().expect("an 8-byte span id")) - 1
}

/// The `weft.test.n` attribute of a span, if present.
pub fn span_number(span: &Span) -> Option<i64> {
    span.attributes
        .iter()
        .find(|kv| kv.key == "weft.test.n")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::IntValue(n) => Some(*n),
            _ => None,
        })
}

/// The value of string attribute `key` on `span`.
pub fn string_attribute<'a>(span: &'a Span, key: &str) -> Option<&'a str> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}
