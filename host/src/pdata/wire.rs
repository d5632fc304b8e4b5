//! The protobuf wire format: walking the fields of an encoded message without decoding it,
//! and writing fields.
//!
//! Every offset here is absolute: a message is read from a slice of a larger buffer together
//! with the position of that slice (`base`), so what a reader hands back can be stored as a
//! [`Loc`] and read again later from the same buffer.

/// Bytes `offset .. offset + len` of a batch's storage.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// Where the bytes start.
    pub offset: u32,
    /// How many there are.
    pub len: u32,
}

impl Loc {
    /// No bytes.
    pub const EMPTY: Loc = Loc { offset: 0, len: 0 };

    /// Whether the location holds no bytes.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// The end offset.
    pub fn end(self) -> usize {
        self.offset as usize + self.len as usize
    }
}

/// The deepest messages may nest, as in prost: a request nested deeper is refused.
pub const RECURSION_LIMIT: usize = 100;

/// Why bytes are not a valid protobuf message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A varint ran past the end of its message or past ten bytes.
    #[error("invalid varint")]
    Varint,
    /// A field key with wire type 6 or 7, or a group end without its start.
    #[error("invalid wire type {0}")]
    WireType(u8),
    /// A field key with field number 0, or larger than 32 bits.
    #[error("invalid field key")]
    InvalidKey,
    /// A length-delimited field or a fixed-size value runs past the end of its message.
    #[error("a field runs past the end of its message")]
    Truncated,
    /// A known field arrived with a wire type its schema does not allow.
    #[error("field {field} has wire type {found}, its type needs {expected}")]
    UnexpectedWireType {
        /// The field number.
        field: u32,
        /// The wire type found.
        found: u8,
        /// The wire type the schema needs.
        expected: u8,
    },
    /// A string field is not UTF-8.
    #[error("field {0} is a string that is not valid UTF-8")]
    Utf8(u32),
    /// Messages nest deeper than [`RECURSION_LIMIT`].
    #[error("messages nest past the recursion limit ({RECURSION_LIMIT} levels)")]
    TooDeep,
    /// The buffer is larger than offsets can address (4 GiB).
    #[error("the request is larger than 4 GiB")]
    TooLarge,
}

/// A field's value as it sits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1 (`fixed64`, `sfixed64`, `double`).
    Fixed64(u64),
    /// Wire type 2: the bytes of a string, bytes, embedded message or packed list.
    Len(Loc),
    /// Wire type 3, skipped with everything up to its end: groups carry nothing OTLP uses.
    Group,
    /// Wire type 5 (`fixed32`, `sfixed32`, `float`).
    Fixed32(u32),
}

impl Value {
    /// The value's wire type number.
    pub fn wire_type(self) -> u8 {
        match self {
            Value::Varint(_) => 0,
            Value::Fixed64(_) => 1,
            Value::Len(_) => 2,
            Value::Group => 3,
            Value::Fixed32(_) => 5,
        }
    }
}

/// One field of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field number.
    pub number: u32,
    /// Its value.
    pub value: Value,
    /// The whole field, key included: copying these bytes copies the field.
    pub raw: Loc,
}

impl Field {
    /// The length-delimited value, or an error naming the field if it has another wire type.
    pub fn len(self) -> Result<Loc, WireError> {
        match self.value {
            Value::Len(loc) => Ok(loc),
            other => Err(self.unexpected(other, 2)),
        }
    }

    /// The varint value, or an error if the field has another wire type.
    pub fn varint(self) -> Result<u64, WireError> {
        match self.value {
            Value::Varint(v) => Ok(v),
            other => Err(self.unexpected(other, 0)),
        }
    }

    /// The 64-bit fixed value, or an error if the field has another wire type.
    pub fn fixed64(self) -> Result<u64, WireError> {
        match self.value {
            Value::Fixed64(v) => Ok(v),
            other => Err(self.unexpected(other, 1)),
        }
    }

    /// The 32-bit fixed value, or an error if the field has another wire type.
    pub fn fixed32(self) -> Result<u32, WireError> {
        match self.value {
            Value::Fixed32(v) => Ok(v),
            other => Err(self.unexpected(other, 5)),
        }
    }

    fn unexpected(self, found: Value, expected: u8) -> WireError {
        WireError::UnexpectedWireType {
            field: self.number,
            found: found.wire_type(),
            expected,
        }
    }
}

/// The fields of one message, in wire order.
pub struct Fields<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: u32,
    failed: bool,
}

impl<'a> Fields<'a> {
    /// Walks the message in `bytes`, which sit at offset `base` of their buffer.
    pub fn new(bytes: &'a [u8], base: u32) -> Self {
        Fields {
            bytes,
            pos: 0,
            base,
            failed: false,
        }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, WireError> {
        let (value, used) = read_varint(&self.bytes[self.pos..])?;
        self.pos += used;
        Ok(value)
    }

    fn take(&mut self, n: usize) -> Result<usize, WireError> {
        let start = self.pos;
        if self.bytes.len() - start < n {
            return Err(WireError::Truncated);
        }
        self.pos += n;
        Ok(start)
    }

    #[inline]
    fn next_field(&mut self) -> Result<Field, WireError> {
        let start = self.pos;
        let key = self.varint()?;
        let (number, wire) = split_key(key)?;
        let value = match wire {
            // A group end outside a group has nothing to close.
            4 => return Err(WireError::WireType(4)),
            0 => Value::Varint(self.varint()?),
            1 => {
                let at = self.take(8)?;
                Value::Fixed64(u64::from_le_bytes(
                    self.bytes[at..at + 8].try_into().expect("eight bytes"),
                ))
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
                let at = self.take(len)?;
                Value::Len(Loc {
                    offset: self.base + at as u32,
                    len: len as u32,
                })
            }
            3 => {
                self.skip_group(number, 1)?;
                Value::Group
            }
            5 => {
                let at = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(
                    self.bytes[at..at + 4].try_into().expect("four bytes"),
                ))
            }
            other => return Err(WireError::WireType(other)),
        };
        Ok(Field {
            number,
            value,
            raw: Loc {
                offset: self.base + start as u32,
                len: (self.pos - start) as u32,
            },
        })
    }

    /// Skips the fields of a group up to the end key of `number`.
    fn skip_group(&mut self, number: u32, depth: usize) -> Result<(), WireError> {
        if depth > RECURSION_LIMIT {
            return Err(WireError::TooDeep);
        }
        loop {
            if self.pos >= self.bytes.len() {
                return Err(WireError::Truncated);
            }
            let (inner, wire) = split_key(self.varint()?)?;
            match wire {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8)?;
                }
                2 => {
                    let len = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
                    self.take(len)?;
                }
                3 => self.skip_group(inner, depth + 1)?,
                4 if inner == number => return Ok(()),
                5 => {
                    self.take(4)?;
                }
                other => return Err(WireError::WireType(other)),
            }
        }
    }
}

impl Iterator for Fields<'_> {
    type Item = Result<Field, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let field = self.next_field();
        self.failed = field.is_err();
        Some(field)
    }
}

fn split_key(key: u64) -> Result<(u32, u8), WireError> {
    // As prost: a key is a 32-bit varint.
    let key = u32::try_from(key).map_err(|_| WireError::InvalidKey)?;
    let wire = (key & 7) as u8;
    let number = key >> 3;
    if number == 0 {
        return Err(WireError::InvalidKey);
    }
    Ok((number, wire))
}

/// Reads a varint from the start of `bytes`: its value and how many bytes it took. At most
/// ten bytes, the tenth no more than 1, as prost reads them.
#[inline]
pub fn read_varint(bytes: &[u8]) -> Result<(u64, usize), WireError> {
    // Most varints on the wire (keys, lengths of strings) are one byte.
    if let Some(&byte) = bytes.first()
        && byte < 0x80
    {
        return Ok((u64::from(byte), 1));
    }
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().take(10).enumerate() {
        if i == 9 && byte > 1 {
            return Err(WireError::Varint);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Ok((value, i + 1));
        }
    }
    Err(WireError::Varint)
}

/// The bytes `value` takes as a varint.
pub fn varint_len(value: u64) -> usize {
    // 1 byte per started 7 bits, at least one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends `value` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a field key.
pub fn put_key(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire));
}

/// Appends a length-delimited field holding `bytes`.
pub fn put_bytes(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_key(out, number, 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends a varint field.
pub fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_key(out, number, 0);
    put_varint(out, value);
}

/// Appends a `fixed64` or `double` field.
pub fn put_fixed64(out: &mut Vec<u8>, number: u32, value: u64) {
    put_key(out, number, 1);
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a length-delimited field whose content `write` appends: the content is written
/// once, after a length placeholder, and the length is then put in front of it.
pub fn put_message(out: &mut Vec<u8>, number: u32, write: impl FnOnce(&mut Vec<u8>)) {
    put_key(out, number, 2);
    let at = out.len();
    // A five-byte placeholder holds any u32 length; shrunk below if the length is shorter.
    out.extend_from_slice(&[0; 5]);
    write(out);
    let len = out.len() - at - 5;
    let mut prefix = Vec::with_capacity(5);
    put_varint(&mut prefix, len as u64);
    out.splice(at..at + 5, prefix);
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
