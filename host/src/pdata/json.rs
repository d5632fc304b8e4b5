//! OTLP/JSON written straight from protobuf bytes, led by the [schema](super::schema): what
//! the file and stdout exporters write, with no decoded copy of the data in between.
//!
//! The encoding is OTLP/JSON's: lowerCamelCase field names, trace and span ids as hex, enums
//! as numbers, 64-bit integers as decimal strings, other bytes as base64, `NaN` and the
//! infinities as strings. Fields absent from the wire (proto3 defaults) are left out, as the
//! specification allows, and fields the schema does not know are skipped. A repeated field's
//! occurrences become one array wherever they were on the wire; of a singular field sent more
//! than once, the last counts, as protobuf decoders read it. A signal adds its messages to the
//! schema and writes through the same code.

use std::io::Write as _;

use base64::Engine as _;

use super::schema::{Kind, Message};
use super::wire::{Field, Fields, Value};

/// How a field's value is written.
#[derive(Clone, Copy)]
enum Form {
    Text,
    Hex,
    Base64,
    Bool,
    Int32,
    Uint32,
    /// A signed 64-bit integer, as a string.
    Int64,
    /// An unsigned 64-bit integer (a timestamp), as a string.
    Uint64,
    Double,
    Object(Message),
}

/// The form of field `number` of `message`, which the schema says is of `kind`.
fn form(message: Message, number: u32, kind: Kind) -> Form {
    use Message::*;
    match (message, number, kind) {
        (Span, 1 | 2 | 4, _) | (Link, 1 | 2, _) => Form::Hex,
        (AnyValue, 2, _) => Form::Bool,
        (AnyValue, 3, _) => Form::Int64,
        (AnyValue, 4, _) => Form::Double,
        // Enums (span kind, status code) and the int32 string-table indices.
        (Span, 6, _) | (Status, 3, _) | (KeyValue, 3, _) | (AnyValue, 8, _) => Form::Int32,
        (_, _, Kind::Str) => Form::Text,
        (_, _, Kind::Bytes) => Form::Base64,
        (_, _, Kind::Varint | Kind::Fixed32) => Form::Uint32,
        (_, _, Kind::Fixed64) => Form::Uint64,
        (_, _, Kind::Msg(inner)) => Form::Object(inner),
    }
}

/// Appends the message of type `message` in `bytes` (its content, without key or length) to
/// `out` as a JSON object. The bytes were validated when read; anything that cannot be walked
/// ends the object early rather than failing.
pub fn write_message(message: Message, bytes: &[u8], out: &mut Vec<u8>) {
    let mut known: Vec<(Field, Form)> = Fields::new(bytes, 0)
        .map_while(Result::ok)
        .filter_map(|f| {
            let (kind, _) = message.field(f.number)?;
            (f.value.wire_type() == kind.wire_type()).then(|| (f, form(message, f.number, kind)))
        })
        .collect();
    // Stable: each field's occurrences keep their wire order.
    known.sort_by_key(|(f, _)| f.number);
    out.push(b'{');
    let mut first = true;
    let mut at = 0;
    while at < known.len() {
        let number = known[at].0.number;
        let end = at
            + known[at..]
                .iter()
                .take_while(|(f, _)| f.number == number)
                .count();
        let (_, name) = message.field(number).expect("a known field");
        if !first {
            out.push(b',');
        }
        first = false;
        write_name(name, out);
        if message.repeated(number) {
            out.push(b'[');
            for (i, (f, form)) in known[at..end].iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(*f, *form, bytes, out);
            }
            out.push(b']');
        } else {
            let (f, form) = known[end - 1];
            write_value(f, form, bytes, out);
        }
        at = end;
    }
    out.push(b'}');
}

/// `"name":` with `name` in lowerCamelCase.
fn write_name(snake: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let mut upper = false;
    for byte in snake.bytes() {
        if byte == b'_' {
            upper = true;
        } else if upper {
            out.push(byte.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(byte);
        }
    }
    out.extend_from_slice(b"\":");
}

fn write_value(field: Field, form: Form, bytes: &[u8], out: &mut Vec<u8>) {
    let content = |loc: super::Loc| &bytes[loc.offset as usize..loc.end()];
    match (form, field.value) {
        (Form::Object(inner), Value::Len(loc)) => write_message(inner, content(loc), out),
        (Form::Text, Value::Len(loc)) => write_string(&String::from_utf8_lossy(content(loc)), out),
        (Form::Hex, Value::Len(loc)) => write_string(&crate::codec::hex(content(loc)), out),
        (Form::Base64, Value::Len(loc)) => write_string(
            &base64::engine::general_purpose::STANDARD.encode(content(loc)),
            out,
        ),
        (Form::Bool, Value::Varint(v)) => {
            out.extend_from_slice(if v != 0 { b"true" } else { b"false" })
        }
        (Form::Int32, Value::Varint(v)) => write_number(v as i64 as i32, out),
        (Form::Uint32, Value::Varint(v)) => write_number(v as u32, out),
        (Form::Uint32, Value::Fixed32(v)) => write_number(v, out),
        (Form::Int64, Value::Varint(v)) => write_quoted(v as i64, out),
        (Form::Uint64, Value::Fixed64(v)) => write_quoted(v, out),
        (Form::Double, Value::Fixed64(v)) => write_double(f64::from_bits(v), out),
        // The schema and the wire type agree (checked above): nothing else arrives here.
        _ => out.extend_from_slice(b"null"),
    }
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, text).expect("writing JSON to memory");
}

fn write_number(value: impl std::fmt::Display, out: &mut Vec<u8>) {
    write!(out, "{value}").expect("writing to memory");
}

fn write_quoted(value: impl std::fmt::Display, out: &mut Vec<u8>) {
    write!(out, "\"{value}\"").expect("writing to memory");
}

fn write_double(value: f64, out: &mut Vec<u8>) {
    if value.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if value.is_infinite() {
        let text: &[u8] = if value > 0.0 {
            b"\"Infinity\""
        } else {
            b"\"-Infinity\""
        };
        out.extend_from_slice(text);
    } else {
        serde_json::to_writer(&mut *out, &value).expect("writing JSON to memory");
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
