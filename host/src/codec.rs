//! Encoding helpers: gzip for receivers and exporters, hex for ids and digests, and cutting
//! text to a byte length at a character boundary.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;

/// gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    gzip_onto(Vec::with_capacity(bytes.len() / 4), bytes)
}

/// gzip-compresses `bytes`, appending to `out` (which may already hold a header).
pub fn gzip_onto(out: Vec<u8>, bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(out, Compression::fast());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// Why a gzip body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GunzipError {
    /// The body is not valid gzip.
    #[error("invalid gzip body: {0}")]
    Invalid(std::io::Error),
    /// The body inflates past the limit (a zip bomb, or just too big).
    #[error("gzip body inflates past the {limit}-byte limit")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// Decompresses `bytes`, every gzip member of it in turn (a body may be several members
/// concatenated, as `cat a.gz b.gz` makes), refusing to produce more than `limit` bytes in
/// all. Bytes after a member that do not start another valid member are refused as invalid.
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let read = MultiGzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(GunzipError::Invalid)?;
    if read > limit {
        return Err(GunzipError::TooLarge { limit });
    }
    Ok(out)
}

/// Lower-case hex of `bytes` (trace and span ids, digests).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
pub fn truncate_at_char(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data = b"hello hello hello".repeat(100);
        assert_eq!(gunzip(&gzip(&data), 10_000).unwrap(), data);
    }

    #[test]
    fn refuses_bombs() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(matches!(
            gunzip(&bomb, 1000),
            Err(GunzipError::TooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn refuses_garbage() {
        assert!(matches!(
            gunzip(b"not gzip at all", 1000),
            Err(GunzipError::Invalid(_))
        ));
    }

    #[test]
    fn decodes_every_member() {
        let (first, second) = (b"first member ".repeat(50), b"second member".repeat(70));
        let mut body = gzip(&first);
        body.extend(gzip(&second));
        assert_eq!(gunzip(&body, 10_000).unwrap(), [first, second].concat());
    }

    #[test]
    fn the_limit_counts_every_member() {
        let member = gzip(&[7u8; 600]);
        let body = [member.as_slice(), member.as_slice()].concat();
        assert_eq!(gunzip(&body, 1200).unwrap().len(), 1200);
        assert!(matches!(
            gunzip(&body, 1000),
            Err(GunzipError::TooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn refuses_garbage_after_a_member() {
        for trailer in [&b"x"[..], b"\x1f", b"\0\0\0\0", b"garbage after the member"] {
            let mut body = gzip(b"a valid member");
            body.extend_from_slice(trailer);
            assert!(
                matches!(gunzip(&body, 1000), Err(GunzipError::Invalid(_))),
                "trailer {trailer:?}"
            );
        }
    }

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }
}
