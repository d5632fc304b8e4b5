//! The validating walk: checks an encoded message against the schema without decoding it,
//! and finds the few encodings that the lazy readers would read differently from prost.

use super::schema::{Kind, Message};
use super::wire::{Fields, Loc, RECURSION_LIMIT, WireError};

/// One step of the path to a field: its name, and its position if it repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The field's name in the schema.
    pub name: &'static str,
    /// Which occurrence, for a repeated field.
    pub index: Option<u32>,
}

/// What is wrong at the end of a [`DecodeError`]'s path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The bytes are not valid protobuf for the schema.
    Wire(WireError),
    /// An id has a length OTLP does not allow.
    IdLength {
        /// The lengths allowed ("16", "8", "0 or 8").
        expected: &'static str,
        /// The length found.
        got: usize,
    },
}

/// Why a request was refused, and where in it: `resource_spans[0].scope_spans[0].spans[3].trace_id:
/// expected 16 bytes, got 5`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    /// From the request down to the field (outermost first).
    pub path: Vec<Segment>,
    /// What is wrong there.
    pub problem: Problem,
}

impl DecodeError {
    /// An error at the current message, with no path yet.
    pub fn here(problem: Problem) -> Self {
        DecodeError {
            path: Vec::new(),
            problem,
        }
    }

    /// The same error one level further out: `segment` goes in front of the path.
    pub fn within(mut self, segment: Segment) -> Self {
        self.path.insert(0, segment);
        self
    }
}

impl From<WireError> for DecodeError {
    fn from(error: WireError) -> Self {
        DecodeError::here(Problem::Wire(error))
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A path through a deeply nested value is cut in the middle: its ends say where.
        const SHOWN: usize = 12;
        let hidden = self.path.len().saturating_sub(SHOWN);
        for (n, segment) in self.path.iter().enumerate() {
            if hidden > 0 && (SHOWN - 3..SHOWN - 3 + hidden).contains(&n) {
                if n == SHOWN - 3 {
                    write!(f, ".({hidden} more)")?;
                }
                continue;
            }
            if n > 0 {
                f.write_str(".")?;
            }
            f.write_str(segment.name)?;
            if let Some(index) = segment.index {
                write!(f, "[{index}]")?;
            }
        }
        if !self.path.is_empty() {
            f.write_str(": ")?;
        }
        match self.problem {
            Problem::Wire(error) => write!(f, "{error}"),
            Problem::IdLength { expected, got } => {
                write!(f, "expected {expected} bytes, got {got}")
            }
        }
    }
}

/// What a walk checks besides the schema, and what it found besides errors.
#[derive(Debug, Default, Clone, Copy)]
pub struct Findings {
    /// Check that trace and span ids have the lengths OTLP requires (what a receiver must;
    /// batches made inside Weft were checked when they arrived).
    pub check_ids: bool,
    /// A singular message field occurs more than once in one message (prost merges the
    /// occurrences), or an `AnyValue` holds several array or key-value list fields: the lazy
    /// readers take the last occurrence of a field, so such a request is read through prost.
    pub needs_merge: bool,
    /// The bytes are Weft's own, written from batches validated when they arrived (a batch
    /// written after edits, fragments joined): nested messages are not walked and strings
    /// not checked; a message's own fields are still read for where they are.
    pub trusted: bool,
}

/// The occurrences of fields 1 to 16 seen so far in one message.
pub struct Counts([u32; 17]);

impl Counts {
    /// None yet.
    pub fn new() -> Self {
        Counts([0; 17])
    }

    /// Counts field `number`; returns the index of this occurrence.
    pub fn next(&mut self, number: u32) -> u32 {
        match self.0.get_mut(number as usize) {
            Some(count) => {
                *count += 1;
                *count - 1
            }
            None => 0,
        }
    }
}

impl Default for Counts {
    fn default() -> Self {
        Self::new()
    }
}

/// The path segment for occurrence `index` of field `number` of `message`.
pub fn segment(message: Message, number: u32, index: u32) -> Segment {
    let name = message.field(number).map(|(_, name)| name).unwrap_or("?");
    Segment {
        name,
        index: message.repeated(number).then_some(index),
    }
}

/// Where the last occurrences of fields 1 to 4 of a message are, when they are
/// length-delimited: what a caller reads next (a `KeyValue`'s key and value) needs no
/// second walk.
pub type Last = [Option<Loc>; 5];

/// Checks the message of type `message` at `loc` of `buf` (at nesting level `depth`), and
/// every message inside it. Returns where its fields 1 to 4 last were.
pub fn validate(
    buf: &[u8],
    loc: Loc,
    message: Message,
    depth: usize,
    findings: &mut Findings,
) -> Result<Last, DecodeError> {
    let bytes = &buf[loc.offset as usize..loc.end()];
    if findings.trusted {
        return Ok(positions(bytes, loc));
    }
    let mut counts = Counts::new();
    let mut last: Last = [None; 5];
    let mut variants = 0u32;
    for field in Fields::new(bytes, loc.offset) {
        let field = field?;
        let index = counts.next(field.number);
        let Some((kind, _)) = message.field(field.number) else {
            continue;
        };
        let check = |result: Result<(), DecodeError>| {
            result.map_err(|e| e.within(segment(message, field.number, index)))
        };
        if let (Some(slot), crate::pdata::wire::Value::Len(at)) =
            (last.get_mut(field.number as usize), field.value)
        {
            *slot = Some(at);
        }
        if field.value.wire_type() != kind.wire_type() {
            check(Err(WireError::UnexpectedWireType {
                field: field.number,
                found: field.value.wire_type(),
                expected: kind.wire_type(),
            }
            .into()))?;
        }
        match kind {
            Kind::Str => {
                let value = field.len()?;
                if std::str::from_utf8(&buf[value.offset as usize..value.end()]).is_err() {
                    check(Err(WireError::Utf8(field.number).into()))?;
                }
            }
            Kind::Bytes => {}
            Kind::Msg(inner) => {
                if depth + 1 > RECURSION_LIMIT {
                    check(Err(WireError::TooDeep.into()))?;
                }
                if index > 0 && !message.repeated(field.number) {
                    findings.needs_merge = true;
                }
                if message == Message::AnyValue {
                    variants += 1;
                }
                check(validate(buf, field.len()?, inner, depth + 1, findings).map(|_| ()))?;
            }
            Kind::Varint | Kind::Fixed64 | Kind::Fixed32 => {}
        }
    }
    if variants > 1 {
        findings.needs_merge = true;
    }
    if findings.check_ids && matches!(message, Message::Span | Message::Link) {
        let len = |n: usize| last[n].map_or(0, |at| at.len as usize);
        check_id(message, 1, len(1), &[16], "16")?;
        check_id(message, 2, len(2), &[8], "8")?;
        if message == Message::Span {
            check_id(message, 4, len(4), &[0, 8], "0 or 8")?;
        }
    }
    Ok(last)
}

/// Where the length-delimited fields 1 to 4 of the message in `bytes` (at `loc`) last are.
fn positions(bytes: &[u8], loc: Loc) -> Last {
    let mut last: Last = [None; 5];
    for field in Fields::new(bytes, loc.offset).map_while(Result::ok) {
        if let (Some(slot), crate::pdata::wire::Value::Len(at)) =
            (last.get_mut(field.number as usize), field.value)
        {
            *slot = Some(at);
        }
    }
    last
}

fn check_id(
    message: Message,
    number: u32,
    got: usize,
    allowed: &[usize],
    expected: &'static str,
) -> Result<(), DecodeError> {
    if allowed.contains(&got) {
        return Ok(());
    }
    Err(DecodeError::here(Problem::IdLength { expected, got }).within(segment(message, number, 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_path_is_cut_in_the_middle() {
        let mut error = DecodeError::here(Problem::Wire(WireError::TooDeep));
        for n in 0..30 {
            error = error.within(Segment {
                name: "values",
                index: Some(n),
            });
        }
        let text = error.to_string();
        assert!(text.starts_with("values[29].values[28]"), "{text}");
        assert!(
            text.contains(".(18 more).values[2].values[1].values[0]: "),
            "{text}"
        );
        assert!(text.ends_with("recursion limit (100 levels)"), "{text}");
    }
}
