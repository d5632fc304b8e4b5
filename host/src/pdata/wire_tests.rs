//! Tests of `wire.rs`.

use super::*;

fn fields(bytes: &[u8]) -> Vec<Result<Field, WireError>> {
    Fields::new(bytes, 100).collect()
}

#[test]
fn varints_round_trip_and_know_their_length() {
    for value in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
        let mut out = Vec::new();
        put_varint(&mut out, value);
        assert_eq!(out.len(), varint_len(value), "{value}");
        assert_eq!(read_varint(&out).unwrap(), (value, out.len()));
    }
    assert_eq!(read_varint(&[0x80; 3]), Err(WireError::Varint));
    assert_eq!(read_varint(&[0xff; 11]), Err(WireError::Varint));
    let mut eleven = vec![0xff; 9];
    eleven.push(0x02);
    assert_eq!(read_varint(&eleven), Err(WireError::Varint));
}

#[test]
fn fields_carry_absolute_locations() {
    let mut out = Vec::new();
    put_varint_field(&mut out, 1, 150);
    put_bytes(&mut out, 2, b"hi");
    put_fixed64(&mut out, 7, 9);
    let found: Vec<Field> = fields(&out).into_iter().map(Result::unwrap).collect();
    assert_eq!(found[0].value, Value::Varint(150));
    assert_eq!(
        found[1].value,
        Value::Len(Loc {
            offset: 105,
            len: 2
        })
    );
    assert_eq!(
        found[1].raw,
        Loc {
            offset: 103,
            len: 4
        }
    );
    assert_eq!(found[2].value, Value::Fixed64(9));
}

#[test]
fn malformed_fields_end_the_walk_with_an_error() {
    assert_eq!(fields(&[0x0a, 0x05, 1]), [Err(WireError::Truncated)]);
    assert_eq!(fields(&[0x00, 0x01]), [Err(WireError::InvalidKey)]);
    assert_eq!(fields(&[0x0e]), [Err(WireError::WireType(6))]);
    assert_eq!(fields(&[0x0c]), [Err(WireError::WireType(4))]);
    // A group is skipped whole, groups inside it too; one without its end is truncated.
    assert_eq!(fields(&[0x0b, 0x10, 0x01, 0x0c]).len(), 1);
    assert_eq!(
        fields(&[0x0b, 0x13, 0x14, 0x0c]),
        [Ok(Field {
            number: 1,
            value: Value::Group,
            raw: Loc {
                offset: 100,
                len: 4
            }
        })]
    );
    assert_eq!(fields(&[0x0b, 0x10, 0x01]), [Err(WireError::Truncated)]);
}

#[test]
fn a_message_gets_its_length_in_front() {
    for len in [0usize, 5, 127, 128, 20_000] {
        let mut out = vec![0xaa];
        put_message(&mut out, 3, |out| out.extend(std::iter::repeat_n(7u8, len)));
        let found = fields(&out[1..]);
        let Ok(Field {
            value: Value::Len(loc),
            ..
        }) = found[0]
        else {
            panic!("{found:?}");
        };
        assert_eq!(loc.len as usize, len);
        assert_eq!(out.len(), 1 + 1 + varint_len(len as u64) + len);
    }
}
