//! Synthetic OTLP trace requests for load generation: realistic span shapes whose attributes
//! mix clean values with the PII a redactor must catch (emails, payment cards, phone numbers,
//! IP addresses, free text holding an email).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, status};

/// Spans per trace in generated requests (one root and its children).
const SPANS_PER_TRACE: u64 = 8;

/// The shape of every generated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadSpec {
    /// Spans in one request.
    pub spans_per_request: usize,
    /// Attributes on each span.
    pub attributes_per_span: usize,
}

/// Builds request number `index`. Different indexes give different trace and span ids; the
/// same index always gives the same request.
pub fn build_request(spec: PayloadSpec, index: u64) -> ExportTraceServiceRequest {
    let spans = (0..spec.spans_per_request as u64)
        .map(|n| build_span(spec, index, n))
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    string("service.name", "checkout".into()),
                    string("service.version", "2.4.1".into()),
                    string("host.name", format!("checkout-{}", index % 4)),
                    string("deployment.environment", "prod".into()),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "weft-bench".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Span `n` of request `index`: traces of eight spans, a root and its children.
fn build_span(spec: PayloadSpec, index: u64, n: u64) -> Span {
    let trace = n / SPANS_PER_TRACE;
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&mix(index).to_be_bytes());
    trace_id[8..].copy_from_slice(&mix(index ^ (trace << 32) ^ 0x5eed).to_be_bytes());
    let span_id = |k: u64| {
        mix((index << 24) ^ k ^ 0xa11ce)
            .max(1)
            .to_be_bytes()
            .to_vec()
    };
    let root = n - n % SPANS_PER_TRACE;
    let start = 1_700_000_000_000_000_000 + index * 1_000_000_000 + n * 1_000;
    let error = n % 97 == 13;
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id(n),
        parent_span_id: if n == root { Vec::new() } else { span_id(root) },
        name: NAMES[(n % NAMES.len() as u64) as usize].into(),
        kind: if n == root { 2 } else { 3 },
        start_time_unix_nano: start,
        end_time_unix_nano: start + 250_000 + (n % 17) * 10_000,
        attributes: (0..spec.attributes_per_span)
            .map(|i| attribute(i, index * spec.spans_per_request as u64 + n))
            .collect(),
        status: Some(Status {
            code: if error {
                status::StatusCode::Error as i32
            } else {
                status::StatusCode::Ok as i32
            },
            message: if error {
                "upstream timed out".into()
            } else {
                String::new()
            },
        }),
        ..Default::default()
    }
}

const NAMES: [&str; 4] = [
    "POST /api/checkout",
    "SELECT orders",
    "GET /api/users/{id}",
    "charge card",
];

/// Attribute `i` of the span with global number `n`. The first ten hold four PII values (an
/// email, an IP address, a payment card number and a phone number) and six clean ones.
fn attribute(i: usize, n: u64) -> KeyValue {
    match i {
        0 => string(
            "http.request.method",
            if n.is_multiple_of(3) { "GET" } else { "POST" }.into(),
        ),
        1 => string("url.path", format!("/api/orders/{n}")),
        2 => string("http.route", "/api/orders/{id}".into()),
        3 => string("user.email", format!("customer.{n}@example.com")),
        4 => int("http.response.status_code", 200),
        5 => string(
            "client.address",
            format!("203.0.{}.{}", (n / 250) % 250, n % 250 + 1),
        ),
        6 => string("payment.card", card_number(n)),
        7 => string("user.phone", format!("+1 415-555-{:04}", n % 10_000)),
        8 => string("enduser.id", format!("u-{n}")),
        9 => string(
            "db.statement",
            "SELECT id, total FROM orders WHERE customer_id = ?".into(),
        ),
        10 => string("server.address", "orders.internal".into()),
        11 => string(
            "user_agent.original",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36".into(),
        ),
        12 => string(
            "message",
            format!("order {n} confirmed, receipt sent to buyer{n}@example.org"),
        ),
        13 => int("server.port", 8443),
        14 => KeyValue {
            key: "feature.new_checkout".into(),
            value: Some(AnyValue {
                value: Some(Value::BoolValue(n.is_multiple_of(2))),
            }),
            ..Default::default()
        },
        _ => string(&format!("app.attr.{i}"), format!("value-{n}-{i}")),
    }
}

/// A Luhn-valid 16-digit Visa-style number, grouped in fours.
fn card_number(n: u64) -> String {
    let mut digits: Vec<u8> = format!("4{:014}", n % 100_000_000_000_000)
        .bytes()
        .map(|b| b - b'0')
        .collect();
    // Luhn: double every second digit from the right, counting the check digit as first.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(k, &d)| {
            let d = u32::from(d);
            if k % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    digits.push(((10 - sum % 10) % 10) as u8);
    digits
        .chunks(4)
        .map(|group| {
            group
                .iter()
                .map(|d| char::from(b'0' + d))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn string(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// splitmix64: spreads consecutive numbers over the whole id space.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luhn_valid(number: &str) -> bool {
        let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(k, &d)| {
                if k % 2 == 1 {
                    let doubled = d * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                } else {
                    d
                }
            })
            .sum();
        digits.len() == 16 && sum.is_multiple_of(10)
    }

    #[test]
    fn card_numbers_pass_the_luhn_check() {
        for n in [0, 1, 7, 123_456, u64::MAX] {
            let card = card_number(n);
            assert!(luhn_valid(&card), "{card}");
        }
        assert!(!luhn_valid("4111 1111 1111 1112"));
    }

    #[test]
    fn requests_have_the_asked_shape_and_distinct_ids() {
        let spec = PayloadSpec {
            spans_per_request: 20,
            attributes_per_span: 12,
        };
        let a = build_request(spec, 0);
        let b = build_request(spec, 1);
        let spans = &a.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 20);
        assert!(spans.iter().all(|s| s.attributes.len() == 12));
        assert!(
            spans
                .iter()
                .all(|s| s.trace_id.len() == 16 && s.span_id.len() == 8)
        );
        let ids: std::collections::HashSet<_> = spans.iter().map(|s| &s.span_id).collect();
        assert_eq!(ids.len(), 20);
        let other = &b.resource_spans[0].scope_spans[0].spans;
        assert_ne!(spans[0].trace_id, other[0].trace_id);
        assert_eq!(a, build_request(spec, 0));
        // Children point at their trace's root.
        assert_eq!(spans[3].parent_span_id, spans[0].span_id);
        assert!(spans[8].parent_span_id.is_empty());
    }
}
