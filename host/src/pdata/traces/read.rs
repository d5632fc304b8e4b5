//! Reading fields out of a [`Traces`] batch, with its patches applied.
//!
//! Each reader walks one message's fields when asked; nothing is cached. A request was
//! validated when read and a patch writes valid messages, so the readers skip what they
//! cannot read instead of failing.

use crate::pdata::schema::field;
use crate::pdata::storage::Storage;
use crate::pdata::wire::{Fields, Loc, Value};

use super::Traces;

/// The scalar and string fields of a span.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct SpanFields {
    /// 16 bytes.
    pub trace_id: Loc,
    /// 8 bytes.
    pub span_id: Loc,
    /// 8 bytes, or empty for a root span.
    pub parent_span_id: Loc,
    /// UTF-8.
    pub trace_state: Loc,
    /// UTF-8.
    pub name: Loc,
    /// The OTLP `SpanKind` number.
    pub kind: i32,
    /// Start time.
    pub start_time_unix_nano: u64,
    /// End time.
    pub end_time_unix_nano: u64,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// `dropped_events_count`.
    pub dropped_events_count: u32,
    /// `dropped_links_count`.
    pub dropped_links_count: u32,
    /// The OTLP status code number (0 when the span has no status).
    pub status_code: i32,
    /// The status message (UTF-8).
    pub status_message: Loc,
    /// W3C trace flags and the OTLP bits.
    pub flags: u32,
}

/// The fields of a span event, besides its attributes.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct EventFields {
    /// When it happened.
    pub time_unix_nano: u64,
    /// UTF-8.
    pub name: Loc,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
}

/// The fields of a span link, besides its attributes.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LinkFields {
    /// 16 bytes.
    pub trace_id: Loc,
    /// 8 bytes.
    pub span_id: Loc,
    /// UTF-8.
    pub trace_state: Loc,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// Trace flags.
    pub flags: u32,
}

/// The fields of a resource or an instrumentation scope, besides attributes.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct OwnerFields {
    /// The scope's name (empty for a resource).
    pub name: Loc,
    /// The scope's version (empty for a resource).
    pub version: Loc,
    /// `dropped_attributes_count`.
    pub dropped_attributes_count: u32,
    /// The `schema_url` of the `ResourceSpans` or `ScopeSpans`.
    pub schema_url: Loc,
}

/// An `AnyValue`, with strings, bytes and nested lists as locations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyValue {
    /// Nothing set (or a profiles string-table index, which trace data never uses).
    Empty,
    /// UTF-8.
    Str(Loc),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// Bytes.
    Bytes(Loc),
    /// An `ArrayValue` message: its elements are [`list_items`].
    Array(Loc),
    /// A `KeyValueList` message: its entries are [`list_items`].
    Kvlist(Loc),
}

/// The occurrences of one repeated field of a message, read off the wire.
pub struct Items<'a> {
    /// The message's fields.
    fields: Fields<'a>,
    /// The repeated field.
    number: u32,
}

impl Iterator for Items<'_> {
    type Item = Loc;

    fn next(&mut self) -> Option<Loc> {
        let number = self.number;
        self.fields.find_map(|f| match f {
            Ok(f) if f.number == number => match f.value {
                Value::Len(loc) => Some(loc),
                _ => None,
            },
            _ => None,
        })
    }
}

/// An attribute: its `KeyValue` message, and where its key and value are inside it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attr {
    /// The `KeyValue` message.
    pub kv: Loc,
    /// Its key (UTF-8).
    pub key: Loc,
    /// Its `AnyValue` message, if it has one.
    pub value: Option<Loc>,
}

impl Attr {
    /// The attribute whose `KeyValue` message is at `kv`.
    pub fn read(storage: &Storage, kv: Loc) -> Attr {
        let (key, value) = key_value(storage, kv);
        Attr { kv, key, value }
    }
}

/// An attribute list: indexed (as it arrived, or after edits), or read off the wire.
pub enum Attrs<'a> {
    /// Known locations.
    Listed(std::slice::Iter<'a, Attr>),
    /// The `KeyValue` messages of a message's repeated field, read as they come.
    Wire(&'a Storage, Items<'a>),
}

impl Attrs<'_> {
    /// No attributes.
    pub fn none() -> Self {
        Attrs::Listed([].iter())
    }
}

impl Iterator for Attrs<'_> {
    type Item = Attr;

    fn next(&mut self) -> Option<Attr> {
        match self {
            Attrs::Listed(iter) => iter.next().copied(),
            Attrs::Wire(storage, items) => items.next().map(|kv| Attr::read(storage, kv)),
        }
    }
}

/// The attributes of the message at `message` (its repeated field `number`).
pub fn attributes_of(storage: &Storage, message: Loc, number: u32) -> Attrs<'_> {
    Attrs::Wire(storage, repeated(storage, message, number))
}

/// The occurrences of repeated field `number` in the message at `message`.
pub fn repeated(storage: &Storage, message: Loc, number: u32) -> Items<'_> {
    Items {
        fields: fields(storage, message),
        number,
    }
}

/// The fields of the message at `loc`.
pub fn fields(storage: &Storage, loc: Loc) -> Fields<'_> {
    Fields::new(storage.bytes(loc), loc.offset)
}

/// The elements of an `ArrayValue` or the entries of a `KeyValueList`.
pub fn list_items(storage: &Storage, list: Loc) -> Items<'_> {
    repeated(storage, list, field::list::VALUES)
}

/// The key of the `KeyValue` at `loc`, and its `AnyValue` message if it has one.
pub fn key_value(storage: &Storage, loc: Loc) -> (Loc, Option<Loc>) {
    let (mut key, mut value) = (Loc::EMPTY, None);
    for f in fields(storage, loc).flatten() {
        match (f.number, f.value) {
            (field::key_value::KEY, Value::Len(at)) => key = at,
            (field::key_value::VALUE, Value::Len(at)) => value = Some(at),
            _ => {}
        }
    }
    (key, value)
}

/// The `AnyValue` message at `loc` (`None`: an attribute with no value).
pub fn any_value(storage: &Storage, loc: Option<Loc>) -> AnyValue {
    use field::any_value::*;
    let Some(loc) = loc else {
        return AnyValue::Empty;
    };
    let mut value = AnyValue::Empty;
    // A oneof: the last of its fields on the wire is the value.
    for f in fields(storage, loc).flatten() {
        value = match (f.number, f.value) {
            (STRING, Value::Len(at)) => AnyValue::Str(at),
            (BOOL, Value::Varint(v)) => AnyValue::Bool(v != 0),
            (INT, Value::Varint(v)) => AnyValue::Int(v as i64),
            (DOUBLE, Value::Fixed64(v)) => AnyValue::Double(f64::from_bits(v)),
            (ARRAY, Value::Len(at)) => AnyValue::Array(at),
            (KVLIST, Value::Len(at)) => AnyValue::Kvlist(at),
            (BYTES, Value::Len(at)) => AnyValue::Bytes(at),
            (STRINDEX, Value::Varint(_)) => AnyValue::Empty,
            _ => continue,
        };
    }
    value
}

impl Traces {
    /// Where the batch's bytes are: every [`Loc`] a reader returns addresses it.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Span `index`'s fields, as edits left them.
    pub fn span(&self, index: usize) -> SpanFields {
        let entry = &self.spans[index];
        let mut out = entry.fields;
        if let Some(patch) = &entry.patch {
            patch.apply_to(&mut out);
        }
        out
    }

    /// The bytes of span `index`'s trace id (16, checked when read).
    pub fn trace_id(&self, index: usize) -> &[u8] {
        self.storage.bytes(self.spans[index].fields.trace_id)
    }

    /// Span `index`'s attributes, as edits left them.
    pub fn span_attributes(&self, index: usize) -> Attrs<'_> {
        let entry = &self.spans[index];
        match entry.patch.as_ref().and_then(|p| p.attributes.as_ref()) {
            Some(list) => Attrs::Listed(list.iter()),
            None => Attrs::Listed(self.attributes[range(&entry.attributes)].iter()),
        }
    }

    /// Span `index`'s `Event` messages as it arrived.
    pub(super) fn original_events(&self, index: usize) -> &[Loc] {
        &self.events[range(&self.spans[index].events)]
    }

    /// Span `index`'s `Link` messages.
    pub(super) fn original_links(&self, index: usize) -> &[Loc] {
        &self.links[range(&self.spans[index].links)]
    }

    /// The number of events span `index` has, as edits left them.
    pub fn event_count(&self, index: usize) -> usize {
        let entry = &self.spans[index];
        match entry.patch.as_ref().and_then(|p| p.events.as_ref()) {
            Some(events) => events.len(),
            None => entry.events.len(),
        }
    }

    /// The number of links span `index` has.
    pub fn link_count(&self, index: usize) -> usize {
        self.spans[index].links.len()
    }

    /// Calls `each` with the fields and attributes of every event of span `index`, in order.
    pub fn each_event<'s>(&'s self, index: usize, mut each: impl FnMut(EventFields, Attrs<'s>)) {
        let entry = &self.spans[index];
        match entry.patch.as_ref().and_then(|p| p.events.as_ref()) {
            Some(events) => {
                for item in events {
                    let (fields, attributes) = read_event(
                        &self.storage,
                        item.message,
                        item.name,
                        item.attributes.as_ref(),
                    );
                    each(fields, attributes);
                }
            }
            None => {
                for &message in self.original_events(index) {
                    let (fields, attributes) = read_event(&self.storage, message, None, None);
                    each(fields, attributes);
                }
            }
        }
    }

    /// Calls `each` with the fields and attributes of every link of span `index`, in order.
    pub fn each_link<'s>(&'s self, index: usize, mut each: impl FnMut(LinkFields, Attrs<'s>)) {
        let entry = &self.spans[index];
        let patched = entry.patch.as_ref().and_then(|p| p.links.as_ref());
        for (position, &message) in self.original_links(index).iter().enumerate() {
            let mut out = LinkFields::default();
            for f in fields(&self.storage, message).flatten() {
                use field::link::*;
                match (f.number, f.value) {
                    (TRACE_ID, Value::Len(at)) => out.trace_id = at,
                    (SPAN_ID, Value::Len(at)) => out.span_id = at,
                    (TRACE_STATE, Value::Len(at)) => out.trace_state = at,
                    (DROPPED_ATTRIBUTES_COUNT, Value::Varint(v)) => {
                        out.dropped_attributes_count = v as u32
                    }
                    (FLAGS, Value::Fixed32(v)) => out.flags = v,
                    _ => {}
                }
            }
            let attributes = match patched.and_then(|links| links[position].attributes.as_ref()) {
                Some(list) => Attrs::Listed(list.iter()),
                None => attributes_of(&self.storage, message, field::link::ATTRIBUTES),
            };
            each(out, attributes);
        }
    }

    /// Resource `index`'s fields.
    pub fn resource(&self, index: usize) -> OwnerFields {
        let entry = &self.resources[index];
        let mut out = OwnerFields {
            schema_url: last_string(
                &self.storage,
                entry.message,
                field::resource_spans::SCHEMA_URL,
            ),
            ..OwnerFields::default()
        };
        if let Some(resource) = entry.resource {
            out.dropped_attributes_count = last_varint(
                &self.storage,
                resource,
                field::resource::DROPPED_ATTRIBUTES_COUNT,
            ) as u32;
        }
        out
    }

    /// Resource `index`'s attributes, as edits left them.
    pub fn resource_attributes(&self, index: usize) -> Attrs<'_> {
        let entry = &self.resources[index];
        match (&entry.attributes, entry.resource) {
            (Some(list), _) => Attrs::Listed(list.iter()),
            (None, Some(resource)) => {
                attributes_of(&self.storage, resource, field::resource::ATTRIBUTES)
            }
            (None, None) => Attrs::none(),
        }
    }

    /// Scope `index`'s fields.
    pub fn scope(&self, index: usize) -> OwnerFields {
        let entry = &self.scopes[index];
        let mut out = OwnerFields {
            schema_url: last_string(&self.storage, entry.message, field::scope_spans::SCHEMA_URL),
            ..OwnerFields::default()
        };
        if let Some(scope) = entry.scope {
            out.name = last_string(&self.storage, scope, field::scope::NAME);
            out.version = last_string(&self.storage, scope, field::scope::VERSION);
            out.dropped_attributes_count =
                last_varint(&self.storage, scope, field::scope::DROPPED_ATTRIBUTES_COUNT) as u32;
        }
        out
    }

    /// Scope `index`'s attributes, as edits left them.
    pub fn scope_attributes(&self, index: usize) -> Attrs<'_> {
        let entry = &self.scopes[index];
        match (&entry.attributes, entry.scope) {
            (Some(list), _) => Attrs::Listed(list.iter()),
            (None, Some(scope)) => attributes_of(&self.storage, scope, field::scope::ATTRIBUTES),
            (None, None) => Attrs::none(),
        }
    }
}

/// An event's fields and attributes, as edits left them.
fn read_event<'a>(
    storage: &'a Storage,
    message: Loc,
    name: Option<Loc>,
    attributes: Option<&'a Vec<Attr>>,
) -> (EventFields, Attrs<'a>) {
    let mut out = EventFields::default();
    for f in fields(storage, message).flatten() {
        match (f.number, f.value) {
            (field::event::TIME, Value::Fixed64(v)) => out.time_unix_nano = v,
            (field::event::NAME, Value::Len(at)) => out.name = at,
            (field::event::DROPPED_ATTRIBUTES_COUNT, Value::Varint(v)) => {
                out.dropped_attributes_count = v as u32
            }
            _ => {}
        }
    }
    if let Some(name) = name {
        out.name = name;
    }
    let attributes = match attributes {
        Some(list) => Attrs::Listed(list.iter()),
        None => attributes_of(storage, message, field::event::ATTRIBUTES),
    };
    (out, attributes)
}

/// A run of one of the batch's tables as a slice range.
fn range(run: &std::ops::Range<u32>) -> std::ops::Range<usize> {
    run.start as usize..run.end as usize
}

fn last_string(storage: &Storage, message: Loc, number: u32) -> Loc {
    repeated(storage, message, number)
        .last()
        .unwrap_or_default()
}

fn last_varint(storage: &Storage, message: Loc, number: u32) -> u64 {
    fields(storage, message)
        .flatten()
        .filter(|f| f.number == number)
        .filter_map(|f| match f.value {
            Value::Varint(v) => Some(v),
            _ => None,
        })
        .last()
        .unwrap_or(0)
}
