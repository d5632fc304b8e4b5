//! Patches: what edits changed in a batch, recorded over its original bytes.
//!
//! A patch names the fields it replaces; the bytes it brings (a new name, a new attribute)
//! are appended to the batch's storage. An attribute list, once edited, is a list of
//! locations of `KeyValue` messages: those that came with the request stay where they are,
//! new ones are appended, and one appended attribute can stand in many lists (an edit that
//! stamps every span of a batch writes its attribute once).

use crate::pdata::schema::field;
use crate::pdata::storage::Storage;
use crate::pdata::wire::{Loc, put_bytes, put_key, put_varint};

use super::Traces;
use super::read::{Attr, SpanFields, attributes_of};

/// What edits changed in one span.
#[derive(Debug, Clone, Default)]
pub struct SpanPatch {
    /// A new name.
    pub name: Option<Loc>,
    /// A new W3C trace-state.
    pub trace_state: Option<Loc>,
    /// A new kind.
    pub kind: Option<i32>,
    /// A new status: code and message.
    pub status: Option<(i32, Loc)>,
    /// The attributes after edits.
    pub attributes: Option<Vec<Attr>>,
    /// The events after edits (dropped ones removed).
    pub events: Option<Vec<EventItem>>,
    /// The dropped-events count after event drops.
    pub dropped_events_count: Option<u32>,
    /// The links, one item per link of the request, once a link's attributes were edited.
    pub links: Option<Vec<LinkItem>>,
}

impl SpanPatch {
    /// Applies the patch's scalar and string fields to fields read off the wire.
    pub(super) fn apply_to(&self, out: &mut SpanFields) {
        if let Some(name) = self.name {
            out.name = name;
        }
        if let Some(state) = self.trace_state {
            out.trace_state = state;
        }
        if let Some(kind) = self.kind {
            out.kind = kind;
        }
        if let Some((code, message)) = self.status {
            out.status_code = code;
            out.status_message = message;
        }
        if let Some(count) = self.dropped_events_count {
            out.dropped_events_count = count;
        }
    }
}

/// A span event in a patched event list.
#[derive(Debug, Clone, Default)]
pub struct EventItem {
    /// The `Event` message as it arrived.
    pub message: Loc,
    /// A new name.
    pub name: Option<Loc>,
    /// The attributes after edits.
    pub attributes: Option<Vec<Attr>>,
}

impl EventItem {
    /// An event as it arrived.
    pub fn original(message: Loc) -> Self {
        EventItem {
            message,
            ..EventItem::default()
        }
    }

    /// Whether the event is written as it arrived.
    pub fn unchanged(&self) -> bool {
        self.name.is_none() && self.attributes.is_none()
    }
}

/// A span link in a patched link list.
#[derive(Debug, Clone, Default)]
pub struct LinkItem {
    /// The attributes after edits.
    pub attributes: Option<Vec<Attr>>,
}

/// Whose attribute list an edit changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributesOf {
    /// A span's.
    Span(usize),
    /// A resource's.
    Resource(usize),
    /// An instrumentation scope's.
    Scope(usize),
    /// Event `.1` of span `.0`.
    Event(usize, usize),
    /// Link `.1` of span `.0`.
    Link(usize, usize),
}

/// An attribute list being edited. Keys are compared as bytes; OTLP forbids duplicate keys,
/// and a set removes any it finds after the first.
pub struct AttributeList<'a> {
    storage: &'a mut Storage,
    items: &'a mut Vec<Attr>,
}

impl AttributeList<'_> {
    /// Sets the attribute `key_value` (a `KeyValue` in the batch's storage, see
    /// [`Traces::append_key_value`]): it takes the place of the first attribute with its key,
    /// and later ones with that key are removed, or it is appended.
    pub fn set(&mut self, attribute: Attr) {
        let storage = &*self.storage;
        let key = storage.bytes(attribute.key);
        let Some(first) = self
            .items
            .iter()
            .position(|item| storage.bytes(item.key) == key)
        else {
            self.items.push(attribute);
            return;
        };
        let mut index = 0;
        self.items.retain(|item| {
            let keep = index <= first || storage.bytes(item.key) != key;
            index += 1;
            keep
        });
        self.items[first] = attribute;
    }

    /// Removes every attribute with `key`.
    pub fn remove(&mut self, key: &str) {
        let storage = &*self.storage;
        self.items
            .retain(|item| storage.bytes(item.key) != key.as_bytes());
    }

    /// Renames the first attribute with key `from` to `to`, keeping its value, and moves it
    /// last; attributes already named `to` are removed.
    pub fn rename(&mut self, from: &str, to: &str) {
        let storage = &*self.storage;
        let Some(position) = self
            .items
            .iter()
            .position(|item| storage.bytes(item.key) == from.as_bytes())
        else {
            return;
        };
        let old = self.items.remove(position);
        self.remove(to);
        let value = old.value.map(|at| self.storage.bytes(at).to_vec());
        let renamed = write_key_value(self.storage, to, value.as_deref());
        self.items.push(renamed);
    }
}

/// Appends a `KeyValue` of `key` and the `AnyValue` message `value` (none: no value).
fn write_key_value(storage: &mut Storage, key: &str, value: Option<&[u8]>) -> Attr {
    let kv = storage.append_with(|out| {
        put_bytes(out, field::key_value::KEY, key.as_bytes());
        if let Some(value) = value {
            put_bytes(out, field::key_value::VALUE, value);
        }
    });
    Attr::read(storage, kv)
}

/// Writes the content of an `AnyValue` holding the string `text`.
pub fn string_value(out: &mut Vec<u8>, text: &str) {
    put_bytes(out, field::any_value::STRING, text.as_bytes());
}

impl Traces {
    /// Appends a `KeyValue` attribute to the batch's storage: `key`, and the `AnyValue`
    /// message that `value` writes. Returns its location, to hand to [`AttributeList::set`]
    /// (as often as needed: one attribute can be set on many spans).
    pub fn append_key_value(&mut self, key: &str, value: impl FnOnce(&mut Vec<u8>)) -> Attr {
        let mut content = Vec::new();
        value(&mut content);
        write_key_value(&mut self.storage, key, Some(&content))
    }

    /// The attribute list of `owner`, to edit; the list is copied out of the request (as
    /// locations) the first time it is edited.
    pub fn attributes_mut(&mut self, owner: AttributesOf) -> AttributeList<'_> {
        match owner {
            AttributesOf::Span(s) | AttributesOf::Event(s, _) | AttributesOf::Link(s, _) => {
                self.mark_changed(s)
            }
            AttributesOf::Resource(r) => {
                self.resources[r].changed = true;
                self.changed = true;
            }
            AttributesOf::Scope(s) => self.mark_scope_changed(s),
        }
        let Traces {
            storage,
            resources,
            scopes,
            spans,
            attributes,
            events,
            links,
            ..
        } = self;
        let items = match owner {
            AttributesOf::Span(s) => {
                let entry = &mut spans[s];
                let original = &attributes[run(&entry.attributes)];
                let patch = entry.patch.get_or_insert_default();
                patch.attributes.get_or_insert_with(|| original.to_vec())
            }
            AttributesOf::Resource(r) => {
                let entry = &mut resources[r];
                let resource = entry.resource;
                entry.attributes.get_or_insert_with(|| match resource {
                    Some(at) => attributes_of(storage, at, field::resource::ATTRIBUTES).collect(),
                    None => Vec::new(),
                })
            }
            AttributesOf::Scope(s) => {
                let entry = &mut scopes[s];
                let scope = entry.scope;
                entry.attributes.get_or_insert_with(|| match scope {
                    Some(at) => attributes_of(storage, at, field::scope::ATTRIBUTES).collect(),
                    None => Vec::new(),
                })
            }
            AttributesOf::Event(s, e) => {
                let item = &mut events_mut(events, &mut spans[s])[e];
                let message = item.message;
                item.attributes.get_or_insert_with(|| {
                    attributes_of(storage, message, field::event::ATTRIBUTES).collect()
                })
            }
            AttributesOf::Link(s, l) => {
                let entry = &mut spans[s];
                let original = &links[run(&entry.links)];
                let link = original[l];
                let items = entry
                    .patch
                    .get_or_insert_default()
                    .links
                    .get_or_insert_with(|| vec![LinkItem::default(); original.len()]);
                items[l].attributes.get_or_insert_with(|| {
                    attributes_of(storage, link, field::link::ATTRIBUTES).collect()
                })
            }
        };
        AttributeList { storage, items }
    }

    /// Sets span `index`'s name.
    pub fn set_span_name(&mut self, index: usize, name: &str) {
        let loc = self.storage.append(name.as_bytes());
        self.patch_mut(index).name = Some(loc);
    }

    /// Sets span `index`'s W3C trace-state.
    pub fn set_trace_state(&mut self, index: usize, state: &str) {
        let loc = self.storage.append(state.as_bytes());
        self.patch_mut(index).trace_state = Some(loc);
    }

    /// Sets span `index`'s kind (an OTLP `SpanKind` number).
    pub fn set_kind(&mut self, index: usize, kind: i32) {
        self.patch_mut(index).kind = Some(kind);
    }

    /// Sets span `index`'s status (an OTLP `StatusCode` number, and a message).
    pub fn set_status(&mut self, index: usize, code: i32, message: &str) {
        let loc = self.storage.append(message.as_bytes());
        self.patch_mut(index).status = Some((code, loc));
    }

    /// Sets the name of event `event` of span `index`.
    pub fn set_event_name(&mut self, index: usize, event: usize, name: &str) {
        let loc = self.storage.append(name.as_bytes());
        self.mark_changed(index);
        let Traces { events, spans, .. } = self;
        events_mut(events, &mut spans[index])[event].name = Some(loc);
    }

    /// Drops events `events` (indices in the span's current event list, ascending, no
    /// repeats) of span `index`, counting them in its dropped-events count.
    pub fn drop_events(&mut self, index: usize, dropped: &[usize]) {
        let dropped_before = self.span(index).dropped_events_count;
        self.mark_changed(index);
        let Traces { events, spans, .. } = self;
        let entry = &mut spans[index];
        let list = events_mut(events, entry);
        for &event in dropped.iter().rev() {
            list.remove(event);
        }
        let patch = entry.patch.get_or_insert_default();
        patch.dropped_events_count =
            Some(dropped_before.saturating_add(dropped.len().min(u32::MAX as usize) as u32));
    }

    fn patch_mut(&mut self, index: usize) -> &mut SpanPatch {
        self.mark_changed(index);
        self.spans[index].patch.get_or_insert_default()
    }
}

/// A span's event list for editing, copied out of the batch's index (as locations) the
/// first time.
fn events_mut<'a>(events: &[Loc], entry: &'a mut super::SpanEntry) -> &'a mut Vec<EventItem> {
    let original = &events[run(&entry.events)];
    entry
        .patch
        .get_or_insert_default()
        .events
        .get_or_insert_with(|| original.iter().copied().map(EventItem::original).collect())
}

/// A run of one of the batch's tables as a slice range.
fn run(run: &std::ops::Range<u32>) -> std::ops::Range<usize> {
    run.start as usize..run.end as usize
}

/// Writes a `Status` message's content.
pub(super) fn write_status(out: &mut Vec<u8>, code: i32, message: &[u8]) {
    if !message.is_empty() {
        put_bytes(out, field::status::MESSAGE, message);
    }
    if code != 0 {
        put_key(out, field::status::CODE, 0);
        put_varint(out, code as i64 as u64);
    }
}
