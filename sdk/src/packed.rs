//! Reading the packed layout back into record tables, inside the guest.
//!
//! The canonical ABI lowers a list of records field by field from host code, which costs
//! about 250 ns per span plus 50 ns per attribute; a `list<u8>` is one copy. So the exported
//! processor asks the host for the packed layout (unless the processor asked for it itself)
//! and [`unpack`] rebuilds the tables here, where reading fixed-size rows is a few loads per
//! field. The processor sees the same [`Batch`] either way. The layout is specified in
//! `docs/plugin-contract.md` ("The packed layout").

use crate::{
    AttributeView, Batch, Event, Link, Range, Resource, Scope, Slice, Span, SpanKind, Status,
    StatusCode, TraceId, ValueView,
};

/// The layout version this reader understands (the header's first word).
const LAYOUT_VERSION: u32 = 1;
const HEADER_BYTES: usize = 32;
const RESOURCE_ROW: usize = 24;
const SCOPE_ROW: usize = 40;
const SPAN_ROW: usize = 128;
const EVENT_ROW: usize = 32;
const LINK_ROW: usize = 64;
const ATTRIBUTE_ROW: usize = 32;

/// Moves the rows of `batch.packed` into the record tables and empties `packed`. A batch
/// without packed rows is left as it is. Fails, naming what was wrong, on rows the layout
/// does not allow (the host never sends them).
pub fn unpack(batch: &mut Batch) -> Result<(), String> {
    if batch.packed.is_empty() {
        return Ok(());
    }
    let packed = std::mem::take(&mut batch.packed);
    let header = Rows::new(&packed, 0, 1, HEADER_BYTES, "header")?;
    let h = header.row(0);
    if h.u32(0) != LAYOUT_VERSION {
        return Err(format!(
            "packed layout version {} is not supported (this SDK reads version {LAYOUT_VERSION})",
            h.u32(0)
        ));
    }
    let count = |word: usize| h.u32(4 + 4 * word) as usize;
    let mut at = HEADER_BYTES;
    let mut table = |rows: usize, size: usize, what: &'static str| {
        let table = Rows::new(&packed, at, rows, size, what);
        at += rows.saturating_mul(size);
        table
    };
    let resources = table(count(0), RESOURCE_ROW, "resource")?;
    let scopes = table(count(1), SCOPE_ROW, "scope")?;
    let spans = table(count(2), SPAN_ROW, "span")?;
    let events = table(count(3), EVENT_ROW, "event")?;
    let links = table(count(4), LINK_ROW, "link")?;
    let attributes = table(count(5), ATTRIBUTE_ROW, "attribute")?;

    batch.resources.clear();
    batch.resources.extend(resources.iter().map(|r| Resource {
        attributes: r.range(0),
        dropped_attributes_count: r.u32(8),
        schema_url: r.slice(12),
    }));
    batch.scopes.clear();
    batch.scopes.extend(scopes.iter().map(|r| Scope {
        resource: r.u32(0),
        name: r.slice(4),
        version: r.slice(12),
        attributes: r.range(20),
        dropped_attributes_count: r.u32(28),
        schema_url: r.slice(32),
    }));
    batch.spans.clear();
    batch.spans.reserve(spans.len());
    for r in spans.iter() {
        batch.spans.push(Span {
            trace_id: r.trace_id(0),
            span_id: r.u64_be(16),
            parent_span_id: r.u64_be(24),
            start_time_unix_nano: r.u64(32),
            end_time_unix_nano: r.u64(40),
            scope: r.u32(48),
            kind: span_kind(r.u32(52))?,
            status: Status {
                code: status_code(r.u32(56))?,
                message: r.slice(80),
            },
            flags: r.u32(60),
            name: r.slice(64),
            trace_state: r.slice(72),
            attributes: r.range(88),
            events: r.range(96),
            links: r.range(104),
            dropped_attributes_count: r.u32(112),
            dropped_events_count: r.u32(116),
            dropped_links_count: r.u32(120),
        });
    }
    batch.events.clear();
    batch.events.extend(events.iter().map(|r| Event {
        time_unix_nano: r.u64(0),
        name: r.slice(12),
        attributes: r.range(20),
        dropped_attributes_count: r.u32(28),
    }));
    batch.links.clear();
    batch.links.extend(links.iter().map(|r| Link {
        trace_id: r.trace_id(0),
        span_id: r.u64_be(16),
        trace_state: r.slice(28),
        attributes: r.range(36),
        dropped_attributes_count: r.u32(44),
        flags: r.u32(48),
    }));
    // Nested values stay records; attribute rows of kind 6 point into this list.
    let mut nested = std::mem::take(&mut batch.attributes);
    batch.attributes.reserve(attributes.len());
    for r in attributes.iter() {
        let scalar = r.u64(24);
        let value = match r.byte(4) {
            0 => ValueView::Empty,
            1 => ValueView::Str(r.value_slice(12)),
            2 => ValueView::Boolean(scalar != 0),
            3 => ValueView::Int(scalar as i64),
            4 => ValueView::Double(f64::from_bits(scalar)),
            5 => ValueView::Bytes(r.value_slice(12)),
            6 => {
                let slot = usize::try_from(scalar)
                    .ok()
                    .and_then(|index| nested.get_mut(index))
                    .ok_or_else(|| format!("packed attribute: nested value {scalar} is missing"))?;
                std::mem::replace(&mut slot.value, ValueView::Empty)
            }
            kind => return Err(format!("packed attribute: unknown value kind {kind}")),
        };
        batch.attributes.push(AttributeView {
            key: r.u32(0),
            value,
        });
    }
    nested.clear();
    Ok(())
}

fn span_kind(code: u32) -> Result<SpanKind, String> {
    Ok(match code {
        0 => SpanKind::Unspecified,
        1 => SpanKind::Internal,
        2 => SpanKind::Server,
        3 => SpanKind::Client,
        4 => SpanKind::Producer,
        5 => SpanKind::Consumer,
        other => return Err(format!("packed span: unknown kind {other}")),
    })
}

fn status_code(code: u32) -> Result<StatusCode, String> {
    Ok(match code {
        0 => StatusCode::Unset,
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        other => return Err(format!("packed span: unknown status code {other}")),
    })
}

/// One table of fixed-size rows inside the packed bytes.
struct Rows<'a> {
    bytes: &'a [u8],
    size: usize,
}

impl<'a> Rows<'a> {
    /// The `rows` rows of `size` bytes at `at`, or an error naming the table when the bytes
    /// end before it does.
    fn new(
        packed: &'a [u8],
        at: usize,
        rows: usize,
        size: usize,
        what: &str,
    ) -> Result<Rows<'a>, String> {
        rows.checked_mul(size)
            .and_then(|len| packed.get(at..at.checked_add(len)?))
            .map(|bytes| Rows { bytes, size })
            .ok_or_else(|| format!("packed layout: the {what} table ends past the bytes"))
    }

    fn len(&self) -> usize {
        self.bytes.len() / self.size
    }

    fn row(&self, index: usize) -> Row<'a> {
        Row(&self.bytes[index * self.size..(index + 1) * self.size])
    }

    fn iter(&self) -> impl Iterator<Item = Row<'a>> + '_ {
        self.bytes.chunks_exact(self.size).map(Row)
    }
}

/// One row; field offsets are the layout's.
#[derive(Clone, Copy)]
struct Row<'a>(&'a [u8]);

impl Row<'_> {
    #[inline]
    fn byte(self, at: usize) -> u8 {
        self.0[at]
    }

    #[inline]
    fn u32(self, at: usize) -> u32 {
        u32::from_le_bytes(self.0[at..at + 4].try_into().expect("four bytes"))
    }

    #[inline]
    fn u64(self, at: usize) -> u64 {
        u64::from_le_bytes(self.0[at..at + 8].try_into().expect("eight bytes"))
    }

    /// An id field, which keeps its wire (big-endian) order.
    #[inline]
    fn u64_be(self, at: usize) -> u64 {
        u64::from_be_bytes(self.0[at..at + 8].try_into().expect("eight bytes"))
    }

    #[inline]
    fn trace_id(self, at: usize) -> TraceId {
        TraceId {
            high: self.u64_be(at),
            low: self.u64_be(at + 8),
        }
    }

    #[inline]
    fn slice(self, at: usize) -> Slice {
        Slice {
            offset: self.u32(at),
            len: self.u32(at + 4),
        }
    }

    /// A value's slice. Rows give a value without bytes an offset between the values around
    /// it (so offsets never decrease along the table); records give it offset 0.
    #[inline]
    fn value_slice(self, at: usize) -> Slice {
        match self.slice(at) {
            Slice { len: 0, .. } => Slice { offset: 0, len: 0 },
            slice => slice,
        }
    }

    #[inline]
    fn range(self, at: usize) -> Range {
        Range {
            start: self.u32(at),
            len: self.u32(at + 4),
        }
    }
}
