//! A batch split by the backend each of its spans belongs to.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::RoutingKey;
use crate::pdata::schema::field;
use crate::pdata::traces::{TraceFragment, join_fragments};
use crate::pdata::wire::{Fields, Loc};
use crate::pdata::{DecodeError, Lineage, Traces};

use super::ring::Ring;

/// Where a batch's spans go.
#[derive(Debug)]
pub enum Routed {
    /// Every span to this backend: the batch goes as it is.
    Whole(usize),
    /// One batch per backend, in the order of each backend's first span.
    Parts(Vec<(usize, Traces)>),
}

/// Splits `batch` by the backend that owns each span's key on `ring` (not empty). Spans
/// keep their order within each part, and their resource and scope.
pub fn route(batch: &Traces, ring: &Ring, key: RoutingKey) -> Result<Routed, DecodeError> {
    let fragments = batch.clone().split_by_trace(&Lineage::default())?;
    let mut services: HashMap<usize, usize> = HashMap::new();
    let owners: Vec<usize> = fragments
        .iter()
        .map(|fragment| match key {
            RoutingKey::TraceId => ring.owner(&fragment.trace_id),
            RoutingKey::Service => {
                let resource = &fragment.origin.resource;
                let address = Arc::as_ptr(resource) as usize;
                Some(*services.entry(address).or_insert_with(|| {
                    let name = service_name(resource).unwrap_or_default();
                    ring.owner(name).unwrap_or(0)
                }))
            }
        })
        .map(|owner| owner.expect("routing needs a backend"))
        .collect();
    match owners.first() {
        None => return Ok(Routed::Parts(Vec::new())),
        Some(first) if owners.iter().all(|o| o == first) => return Ok(Routed::Whole(*first)),
        Some(_) => {}
    }
    let mut by_backend: BTreeMap<usize, (usize, Vec<&TraceFragment>)> = BTreeMap::new();
    for (position, (fragment, owner)) in fragments.iter().zip(&owners).enumerate() {
        by_backend
            .entry(*owner)
            .or_insert_with(|| (position, Vec::new()))
            .1
            .push(fragment);
    }
    let mut parts: Vec<(usize, usize, Traces)> = Vec::with_capacity(by_backend.len());
    for (owner, (first, fragments)) in by_backend {
        let part = Traces::decode_trusted(join_fragments(fragments).into())?;
        parts.push((first, owner, part));
    }
    parts.sort_by_key(|(first, _, _)| *first);
    Ok(Routed::Parts(
        parts
            .into_iter()
            .map(|(_, owner, part)| (owner, part))
            .collect(),
    ))
}

/// The `service.name` string of a `ResourceSpans` head (its fields other than the scopes).
fn service_name(head: &[u8]) -> Option<&[u8]> {
    let within = |bytes: &'_ [u8], loc: Loc| -> Option<(usize, usize)> {
        let end = loc.end();
        (end <= bytes.len()).then_some((loc.offset as usize, end))
    };
    let resource = Fields::new(head, 0)
        .map_while(Result::ok)
        .find(|f| f.number == field::resource_spans::RESOURCE)?
        .len()
        .ok()?;
    let (start, end) = within(head, resource)?;
    let resource = &head[start..end];
    for attribute in Fields::new(resource, 0)
        .map_while(Result::ok)
        .filter(|f| f.number == field::resource::ATTRIBUTES)
    {
        let (start, end) = within(resource, attribute.len().ok()?)?;
        let pair = &resource[start..end];
        let (mut key, mut value) = (None, None);
        for f in Fields::new(pair, 0).map_while(Result::ok) {
            match f.number {
                field::key_value::KEY => key = f.len().ok(),
                field::key_value::VALUE => value = f.len().ok(),
                _ => {}
            }
        }
        let key = key.and_then(|loc| within(pair, loc))?;
        if &pair[key.0..key.1] != b"service.name" {
            continue;
        }
        let (start, end) = within(pair, value?)?;
        let any = &pair[start..end];
        let string = Fields::new(any, 0)
            .map_while(Result::ok)
            .filter(|f| f.number == field::any_value::STRING)
            .last()?
            .len()
            .ok()?;
        let (start, end) = within(any, string)?;
        return Some(&any[start..end]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn resource(service: &str, traces: &[u8]) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    KeyValue {
                        key: "host.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue("h".into())),
                        }),
                        ..Default::default()
                    },
                    KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(service.into())),
                        }),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: traces
                    .iter()
                    .enumerate()
                    .map(|(n, t)| Span {
                        trace_id: vec![*t; 16],
                        span_id: vec![n as u8 + 1; 8],
                        name: format!("{service} {n}"),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn spans(batch: &Traces) -> Vec<(u8, String)> {
        batch
            .to_request()
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
            .map(|s| (s.trace_id[0], s.name.clone()))
            .collect()
    }

    #[test]
    fn every_span_of_a_trace_goes_to_one_backend_in_order() {
        let ring = Ring::new((0..3).map(|i| format!("b{i}:4317")));
        let request = ExportTraceServiceRequest {
            resource_spans: vec![
                resource("cart", &[1, 2, 3, 1, 4, 5]),
                resource("shop", &[2, 6, 7, 8, 1]),
            ],
        };
        let batch = Traces::from_request(&request);
        let Routed::Parts(parts) = route(&batch, &ring, RoutingKey::TraceId).unwrap() else {
            panic!("eight traces over three backends");
        };
        let mut seen: HashMap<u8, usize> = HashMap::new();
        let mut total = 0;
        for (owner, part) in &parts {
            for (trace, _) in spans(part) {
                total += 1;
                assert_eq!(
                    *seen.entry(trace).or_insert(*owner),
                    *owner,
                    "trace {trace}"
                );
                assert_eq!(ring.owner(&[trace; 16]), Some(*owner));
            }
        }
        assert_eq!(total, 11);
        // Within a part, spans keep their order.
        let (_, first) = &parts[0];
        let names: Vec<String> = spans(first).into_iter().map(|(_, n)| n).collect();
        let mut sorted = names.clone();
        sorted.sort_by_key(|n| (!n.starts_with("cart"), n.clone()));
        assert_eq!(names, sorted);
    }

    #[test]
    fn by_service_a_resource_goes_whole_to_its_services_backend() {
        let ring = Ring::new((0..8).map(|i| format!("b{i}:4317")));
        let one = ExportTraceServiceRequest {
            resource_spans: vec![resource("cart", &[1, 2, 3, 4])],
        };
        let batch = Traces::from_request(&one);
        let owner = ring.owner(b"cart").unwrap();
        assert!(matches!(
            route(&batch, &ring, RoutingKey::Service).unwrap(),
            Routed::Whole(o) if o == owner
        ));
        let head = {
            let fragments = batch.split_by_trace(&Lineage::default()).unwrap();
            fragments[0].origin.resource.clone()
        };
        assert_eq!(service_name(&head), Some(&b"cart"[..]));
    }
}
