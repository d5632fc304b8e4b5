//! The edits a plugin returns, whatever they are: `apply_edits` either applies all of them (as
//! patches over the batch's bytes) or refuses with a reason and leaves the batch untouched.
//! It never panics, and what it leaves writes a valid request whose view stays in bounds.
#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use weft::contract::bindings::{Edit, Range, SpanKind, StatusCode, Target, Value, ValueNode};

/// Reads fuzz bytes as small numbers and strings; zeros once they run out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    /// Mostly small indices (valid ones for the batch below), sometimes anything.
    fn index(&mut self) -> u32 {
        match self.byte() {
            250..=255 => u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()]),
            b => u32::from(b % 8),
        }
    }

    fn string(&mut self) -> String {
        let len = usize::from(self.byte() % 12);
        ["", "a", "k", "user.email", "é", "key"][len % 6].repeat(len / 6 + 1)
    }

    fn value(&mut self) -> Value {
        match self.byte() % 8 {
            0 => Value::Empty,
            1 => Value::Str(self.string()),
            2 => Value::Boolean(self.byte() & 1 == 1),
            3 => Value::Int(i64::from(self.byte()) - 128),
            4 => Value::Double(f64::from(self.byte()) / 3.0),
            5 => Value::Bytes(vec![self.byte(); usize::from(self.byte() % 4)]),
            _ => {
                let count = usize::from(self.byte() % 6);
                Value::Nested(
                    (0..count)
                        .map(|_| match self.byte() % 4 {
                            0 => ValueNode::Str(self.string()),
                            1 => ValueNode::Array(vec![self.index(); usize::from(self.byte() % 3)]),
                            2 => ValueNode::Kvlist(vec![(self.string(), self.index())]),
                            _ => ValueNode::Int(1),
                        })
                        .collect(),
                )
            }
        }
    }

    fn target(&mut self) -> Target {
        match self.byte() % 6 {
            0 => Target::Span(self.index()),
            1 => Target::Resource(self.index()),
            2 => Target::Scope(self.index()),
            3 => Target::Event((self.index(), self.index())),
            4 => Target::Spans(Range {
                start: self.index(),
                len: self.index(),
            }),
            _ => Target::Link((self.index(), self.index())),
        }
    }

    fn edit(&mut self) -> Edit {
        match self.byte() % 10 {
            0 => Edit::SetAttribute((self.target(), self.string(), self.value())),
            1 => Edit::RemoveAttribute((self.target(), self.string())),
            2 => Edit::RenameAttribute((self.target(), self.string(), self.string())),
            3 => Edit::SetName((self.index(), self.string())),
            4 => Edit::SetStatus((self.index(), StatusCode::Error, self.string())),
            5 => Edit::SetTraceState((self.index(), self.string())),
            6 => Edit::SetKind((self.index(), SpanKind::Server)),
            7 => Edit::DropEvent((self.index(), self.index())),
            8 => Edit::SetEventName((self.index(), self.index(), self.string())),
            _ => Edit::DropSpan(self.index()),
        }
    }
}

fn attribute(key: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!("{key}-value"))),
        }),
        ..Default::default()
    }
}

/// A batch of 2 resources, 3 scopes and 6 spans with events and links, shaped by `seed`.
fn batch(seed: u8) -> ExportTraceServiceRequest {
    let span = |n: u8| Span {
        trace_id: vec![n; 16],
        span_id: vec![n + 1; 8],
        name: format!("span-{n}"),
        attributes: (0..n % 3)
            .map(|a| attribute(["a", "k", "key"][a as usize]))
            .collect(),
        events: (0..n.wrapping_add(seed) % 3)
            .map(|e| span::Event {
                name: format!("event-{e}"),
                attributes: vec![attribute("a")],
                ..Default::default()
            })
            .collect(),
        links: (0..(n ^ seed) % 2)
            .map(|_| span::Link {
                trace_id: vec![9; 16],
                span_id: vec![8; 8],
                attributes: vec![attribute("k")],
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let scope = |spans: std::ops::Range<u8>| ScopeSpans {
        spans: spans.map(span).collect(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                scope_spans: vec![scope(0..2), scope(2..3)],
                ..Default::default()
            },
            ResourceSpans {
                scope_spans: vec![scope(3..6)],
                ..Default::default()
            },
        ],
    }
}

fuzz_target!(|bytes: &[u8]| {
    let mut reader = Reader(bytes);
    let original = batch(reader.byte());
    let edits: Vec<Edit> = (0..reader.byte() % 16).map(|_| reader.edit()).collect();
    let mut batch = weft::pdata::Traces::from_request(&original);
    match weft::contract::apply_edits(&mut batch, edits) {
        Ok(summary) => {
            assert_eq!(
                batch.span_count(),
                weft::pdata::traces::decoded_span_count(&original) - summary.dropped_spans
            );
            // What is written reads back, within the id rules, as the same batch.
            let written = weft::pdata::Traces::decode(batch.to_bytes()).unwrap();
            assert_eq!(written.to_request(), batch.to_request());
            common::check_batch(&batch);
        }
        Err(_) => {
            assert!(!batch.changed(), "a refused batch is untouched");
            assert_eq!(batch.to_request(), original);
        }
    }
});
