//! One record of the log on disk: a header, then the payload (an accepted request's bytes).
//!
//! ```text
//! u32 LE  payload length
//! u32 LE  CRC-32C of the length, the sequence number and the payload
//! u64 LE  sequence number (consecutive across the log)
//! ...     payload
//! ```
//!
//! The checksum covers the length, so a torn or flipped length is caught rather than followed;
//! the sequence number makes garbage that happens to check out (a stale tail) visible.

use std::ops::Range;

/// Bytes of a record's header.
pub const HEADER: usize = 16;

/// Appends the record of `payload` with sequence number `seq` to `out`.
pub fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(payload.len()).expect("a record payload fits in 4 GiB");
    let crc = checksum(len, seq, payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The bytes a record of `payload_len` takes.
pub fn encoded_len(payload_len: usize) -> usize {
    HEADER + payload_len
}

fn checksum(len: u32, seq: u64, payload: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc, &seq.to_le_bytes());
    crc32c::crc32c_append(crc, payload)
}

/// What is at an offset of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// A whole, intact record.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Where its payload is in the buffer.
        payload: Range<usize>,
    },
    /// Nothing more: the offset is the end of the buffer.
    End,
    /// A record that does not fit in what is left of the buffer (a write cut short).
    Torn,
    /// A record whose header or checksum is wrong.
    Corrupt,
}

/// Reads the record at `at` of `buf`; payloads longer than `max_payload` are corrupt.
pub fn read(buf: &[u8], at: usize, max_payload: usize) -> Read {
    let rest = &buf[at.min(buf.len())..];
    if rest.is_empty() {
        return Read::End;
    }
    if rest.len() < HEADER {
        return Read::Torn;
    }
    let word = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().expect("four bytes"));
    let (len, crc) = (word(0), word(4));
    let seq = u64::from_le_bytes(rest[8..16].try_into().expect("eight bytes"));
    if len as usize > max_payload {
        // Past any record Weft writes: the length itself is damaged.
        return Read::Corrupt;
    }
    let end = HEADER + len as usize;
    if rest.len() < end {
        return Read::Torn;
    }
    let payload = &rest[HEADER..end];
    if checksum(len, seq, payload) != crc {
        return Read::Corrupt;
    }
    Read::Record {
        seq,
        payload: at + HEADER..at + end,
    }
}

/// Where the record after a corrupt one at `at` would start if its length can be trusted:
/// `Some` only when a valid record with sequence number `next_seq` is there. A record whose
/// payload alone was damaged is skipped this way; one whose length was damaged cannot be.
pub fn skip_corrupt(buf: &[u8], at: usize, next_seq: u64, max_payload: usize) -> Option<usize> {
    let rest = buf.get(at..)?;
    let len = u32::from_le_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
    let next = at.checked_add(HEADER + len)?;
    match read(buf, next, max_payload) {
        Read::Record { seq, .. } if seq == next_seq => Some(next),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn two_records() -> Vec<u8> {
        let mut buf = Vec::new();
        encode(7, b"first", &mut buf);
        encode(8, b"second!", &mut buf);
        buf
    }

    #[test]
    fn records_read_back_in_order_then_the_end() {
        let buf = two_records();
        let Read::Record { seq, payload } = read(&buf, 0, MAX) else {
            panic!("a record");
        };
        assert_eq!((seq, &buf[payload.clone()]), (7, &b"first"[..]));
        let Read::Record {
            seq,
            payload: second,
        } = read(&buf, payload.end, MAX)
        else {
            panic!("a second record");
        };
        assert_eq!((seq, &buf[second.clone()]), (8, &b"second!"[..]));
        assert_eq!(read(&buf, second.end, MAX), Read::End);
    }

    #[test]
    fn a_cut_record_is_torn_and_a_flipped_byte_corrupt() {
        let buf = two_records();
        let first_end = encoded_len(5);
        for cut in [first_end + 3, first_end + HEADER + 2, buf.len() - 1] {
            assert_eq!(
                read(&buf[..cut], first_end, MAX),
                Read::Torn,
                "cut at {cut}"
            );
        }
        for flip in [5, 9, HEADER + 1] {
            let mut damaged = buf.clone();
            damaged[flip] ^= 0x40;
            assert_eq!(read(&damaged, 0, MAX), Read::Corrupt, "flip at {flip}");
        }
        // A damaged length may point past the end: it reads as torn, never as a record.
        for flip in [0x40, 0x01] {
            let mut damaged = buf.clone();
            damaged[0] ^= flip;
            let outcome = read(&damaged, 0, MAX);
            assert!(matches!(outcome, Read::Torn | Read::Corrupt), "{outcome:?}");
        }
        let mut huge = buf.clone();
        huge[3] = 0x7f;
        assert_eq!(
            read(&huge, 0, MAX),
            Read::Corrupt,
            "a length past any record"
        );
    }

    #[test]
    fn a_record_with_a_damaged_payload_is_skipped_one_with_a_damaged_length_is_not() {
        let mut payload_damaged = two_records();
        payload_damaged[HEADER + 1] ^= 1;
        assert_eq!(read(&payload_damaged, 0, MAX), Read::Corrupt);
        assert_eq!(
            skip_corrupt(&payload_damaged, 0, 8, MAX),
            Some(encoded_len(5))
        );
        let mut length_damaged = two_records();
        length_damaged[0] ^= 2;
        assert_eq!(skip_corrupt(&length_damaged, 0, 8, MAX), None);
    }
}
