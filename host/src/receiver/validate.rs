//! Checks on received requests that decoding alone does not make.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// Checks every id has the length OTLP requires: trace ids 16 bytes, span ids 8, parent span
/// ids 8 or empty. The error names the first offending field by its path.
pub fn validate_request(request: &ExportTraceServiceRequest) -> Result<(), String> {
    for (r, rs) in request.resource_spans.iter().enumerate() {
        for (s, ss) in rs.scope_spans.iter().enumerate() {
            for (p, span) in ss.spans.iter().enumerate() {
                let at = |field: &str| {
                    format!("resource_spans[{r}].scope_spans[{s}].spans[{p}].{field}")
                };
                check_len(&span.trace_id, &[16], || at("trace_id"))?;
                check_len(&span.span_id, &[8], || at("span_id"))?;
                check_len(&span.parent_span_id, &[0, 8], || at("parent_span_id"))?;
                for (l, link) in span.links.iter().enumerate() {
                    check_len(&link.trace_id, &[16], || {
                        at(&format!("links[{l}].trace_id"))
                    })?;
                    check_len(&link.span_id, &[8], || at(&format!("links[{l}].span_id")))?;
                }
            }
        }
    }
    Ok(())
}

fn check_len(bytes: &[u8], allowed: &[usize], path: impl Fn() -> String) -> Result<(), String> {
    if allowed.contains(&bytes.len()) {
        return Ok(());
    }
    let expected = allowed
        .iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" or ");
    Err(format!(
        "{}: expected {expected} bytes, got {}",
        path(),
        bytes.len()
    ))
}

/// Sets resource attribute `key` to `subject` (the client certificate's) on every resource
/// of `request`, replacing what the client sent under that key: a client cannot claim
/// another tenant's name.
pub fn stamp_client_subject(request: &mut ExportTraceServiceRequest, key: &str, subject: &str) {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    for resource_spans in &mut request.resource_spans {
        let resource = resource_spans.resource.get_or_insert_with(Default::default);
        resource.attributes.retain(|kv| kv.key != key);
        resource.attributes.push(KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(subject.to_owned())),
            }),
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request(span: Span) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn accepts_valid_ids_and_root_spans() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            ..Default::default()
        };
        assert!(validate_request(&request(span)).is_ok());
    }

    #[test]
    fn names_the_field_with_a_bad_length() {
        let span = Span {
            trace_id: vec![1; 5],
            span_id: vec![2; 8],
            ..Default::default()
        };
        let error = validate_request(&request(span)).unwrap_err();
        assert_eq!(
            error,
            "resource_spans[0].scope_spans[0].spans[0].trace_id: expected 16 bytes, got 5"
        );
    }
}
