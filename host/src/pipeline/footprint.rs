//! How much memory a request will take once decoded, read off its encoded bytes *before*
//! decoding them.
//!
//! Decoding is where a small request turns into a lot of memory: an empty span is two bytes
//! of protobuf (or `{},` in JSON) and a few hundred bytes decoded, so a 4 MiB request of
//! empty spans decodes to hundreds of MiB. Admission control charges the estimate made here,
//! so a request is refused or made to wait before it is decoded, not after.

use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

/// What a request will cost decoded, and how many spans it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Estimated heap bytes of the decoded request.
    pub bytes: usize,
    /// Spans in the request (0 when the encoding does not say, as in JSON).
    pub spans: usize,
}

/// What a string or bytes field costs besides its payload.
const STRING_BYTES: usize = std::mem::size_of::<String>();

/// Messages nest no deeper than prost decodes (its recursion limit is 100).
const MAX_DEPTH: u32 = 100;

/// The OTLP messages the scan tells apart, each decoded into one struct of known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Message {
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    EntityRef,
}

impl Message {
    /// The message field `field` of `self` holds, if it is one the scan counts.
    fn child(self, field: u64) -> Option<Message> {
        use Message::*;
        Some(match (self, field) {
            (Request, 1) => ResourceSpans,
            (Resource, 3) => EntityRef,
            (ResourceSpans, 1) => Resource,
            (ResourceSpans, 2) => ScopeSpans,
            (Resource, 1) | (Scope, 3) | (Span, 9) | (Event, 3) | (Link, 4) => KeyValue,
            (KeyValueList, 1) => KeyValue,
            (ScopeSpans, 1) => Scope,
            (ScopeSpans, 2) => Span,
            (Span, 11) => Event,
            (Span, 13) => Link,
            (KeyValue, 2) | (ArrayValue, 1) => AnyValue,
            (AnyValue, 5) => ArrayValue,
            (AnyValue, 6) => KeyValueList,
            _ => return None,
        })
    }

    /// Bytes one decoded record takes when `parent` holds it: a `Vec` element costs its
    /// struct, a message held inline (a resource, a scope, an attribute's value) nothing more.
    fn record_bytes(self, parent: Message) -> usize {
        use std::mem::size_of;
        match self {
            Message::AnyValue if parent == Message::KeyValue => 0,
            Message::ResourceSpans => size_of::<ResourceSpans>(),
            Message::ScopeSpans => size_of::<ScopeSpans>(),
            Message::Span => size_of::<Span>(),
            Message::Event => size_of::<span::Event>(),
            Message::Link => size_of::<span::Link>(),
            Message::KeyValue => size_of::<KeyValue>(),
            Message::AnyValue => size_of::<AnyValue>(),
            Message::EntityRef => size_of::<EntityRef>(),
            _ => 0,
        }
    }
}

/// The decoded footprint of an OTLP protobuf `ExportTraceServiceRequest`, from a scan of
/// its wire format that allocates nothing: every byte of the request once (string and bytes
/// payloads are copied out), every string or bytes field a `String` more (what a repeated
/// string costs; an over-charge for the ones held inline), and every repeated record twice
/// the size of its struct (a `Vec` grows by doubling). The scan stops where the bytes stop
/// making sense (decoding will refuse them there), counting what came before.
pub fn protobuf_footprint(bytes: &[u8]) -> Footprint {
    let mut footprint = Footprint {
        bytes: bytes.len(),
        spans: 0,
    };
    let _ = scan(bytes, Message::Request, 0, &mut footprint);
    footprint
}

/// The decoded footprint of an OTLP JSON request: at most one record per JSON object, each
/// charged as a span (the largest record). Spans are not counted.
pub fn json_footprint(bytes: &[u8]) -> Footprint {
    let objects = bytes.iter().filter(|&&b| b == b'{').count();
    Footprint {
        bytes: bytes
            .len()
            .saturating_add(objects.saturating_mul(std::mem::size_of::<Span>())),
        spans: 0,
    }
}

/// The wire is malformed at this point.
struct Malformed;

fn scan(
    mut bytes: &[u8],
    message: Message,
    depth: u32,
    footprint: &mut Footprint,
) -> Result<(), Malformed> {
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let (field, wire_type) = (key >> 3, key & 7);
        match message.child(field) {
            Some(child) if wire_type == 2 => {
                let body = length_delimited(&mut bytes)?;
                footprint.bytes = footprint
                    .bytes
                    .saturating_add(2 * child.record_bytes(message));
                if child == Message::Span {
                    footprint.spans += 1;
                }
                if depth < MAX_DEPTH {
                    scan(body, child, depth + 1, footprint)?;
                }
            }
            _ => {
                if wire_type == 2 {
                    footprint.bytes = footprint.bytes.saturating_add(STRING_BYTES);
                }
                skip(&mut bytes, field, wire_type, depth)?
            }
        }
    }
    Ok(())
}

/// Skips a field the scan does not count, as prost does: including a group (a deprecated
/// encoding prost still skips in unknown fields), or spans after it would go uncounted.
fn skip(bytes: &mut &[u8], field: u64, wire_type: u64, depth: u32) -> Result<(), Malformed> {
    match wire_type {
        0 => varint(bytes).map(drop),
        1 => advance(bytes, 8),
        2 => length_delimited(bytes).map(drop),
        3 if depth < MAX_DEPTH => loop {
            let key = varint(bytes)?;
            if key & 7 == 4 {
                return if key >> 3 == field {
                    Ok(())
                } else {
                    Err(Malformed)
                };
            }
            skip(bytes, key >> 3, key & 7, depth + 1)?;
        },
        5 => advance(bytes, 4),
        _ => Err(Malformed),
    }
}

fn advance(bytes: &mut &[u8], n: usize) -> Result<(), Malformed> {
    *bytes = bytes.get(n..).ok_or(Malformed)?;
    Ok(())
}

fn length_delimited<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], Malformed> {
    let len = usize::try_from(varint(bytes)?).map_err(|_| Malformed)?;
    let body = bytes.get(..len).ok_or(Malformed)?;
    *bytes = &bytes[len..];
    Ok(body)
}

fn varint(bytes: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or(Malformed)?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use prost::Message as _;

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn counts_spans_and_charges_their_records() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /checkout".into(),
            attributes: vec![
                attribute("user.email", any_value::Value::StringValue("a@b.c".into())),
                attribute("retries", any_value::Value::IntValue(3)),
            ],
            events: vec![span::Event::default()],
            ..Default::default()
        };
        let encoded = request(vec![span; 3]).encode_to_vec();
        let footprint = protobuf_footprint(&encoded);
        assert_eq!(footprint.spans, 3);
        let records = std::mem::size_of::<ResourceSpans>()
            + std::mem::size_of::<ScopeSpans>()
            + 3 * (std::mem::size_of::<Span>()
                + 2 * std::mem::size_of::<KeyValue>()
                + std::mem::size_of::<span::Event>());
        // Per span: trace id, span id, name, two keys and one string value.
        let strings = 3 * 6 * STRING_BYTES;
        assert_eq!(footprint.bytes, encoded.len() + 2 * records + strings);
    }

    #[test]
    fn empty_spans_cost_far_more_than_their_bytes() {
        // Two bytes on the wire per span: the tag and a zero length.
        let encoded = request(vec![Span::default(); 10_000]).encode_to_vec();
        let footprint = protobuf_footprint(&encoded);
        assert_eq!(footprint.spans, 10_000);
        assert!(footprint.bytes > 50 * encoded.len(), "{footprint:?}");
    }

    #[test]
    fn resource_entity_refs_are_charged() {
        use opentelemetry_proto::tonic::resource::v1::Resource;
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    entity_refs: vec![EntityRef::default(); 10_000],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        };
        let footprint = protobuf_footprint(&request.encode_to_vec());
        assert!(footprint.bytes > 10_000 * std::mem::size_of::<EntityRef>());
    }

    #[test]
    fn nested_values_are_charged_per_element() {
        let list =
            any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![AnyValue::default(); 100],
            });
        let span = Span {
            attributes: vec![attribute("list", list)],
            ..Default::default()
        };
        let encoded = request(vec![span]).encode_to_vec();
        assert!(protobuf_footprint(&encoded).bytes > 100 * std::mem::size_of::<AnyValue>());
    }

    #[test]
    fn malformed_bytes_count_what_came_before() {
        let mut encoded = request(vec![Span::default(); 5]).encode_to_vec();
        encoded.extend_from_slice(&[0x0a, 0xff]); // a field claiming more bytes than follow
        let footprint = protobuf_footprint(&encoded);
        assert_eq!(footprint.spans, 5);
        assert!(footprint.bytes >= encoded.len());
        assert_eq!(protobuf_footprint(&[0xff; 20]).spans, 0);
    }

    #[test]
    fn spans_after_a_group_are_counted() {
        // Found by the otlp_protobuf fuzz target: prost skips an unknown field encoded as a
        // group, and the scan stopped there, so spans after it went uncounted.
        let mut encoded = vec![0x1b, 0x08, 0x01, 0x1c]; // group 3 { field 1 = 1 }
        encoded.extend(request(vec![Span::default(); 7]).encode_to_vec());
        let decoded = ExportTraceServiceRequest::decode(encoded.as_slice()).unwrap();
        assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 7);
        assert_eq!(protobuf_footprint(&encoded).spans, 7);
    }

    #[test]
    fn json_charges_every_object() {
        let body = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{}]}]}]}"#;
        let footprint = json_footprint(body);
        assert_eq!(
            footprint.bytes,
            body.len() + 6 * std::mem::size_of::<Span>()
        );
    }
}
