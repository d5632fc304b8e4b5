//! gzip helpers shared by receivers and exporters.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
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

/// Decompresses `bytes`, refusing to produce more than `limit` bytes.
pub fn gunzip(bytes: &[u8], limit: usize) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let read = GzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(GunzipError::Invalid)?;
    if read > limit {
        return Err(GunzipError::TooLarge { limit });
    }
    Ok(out)
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
}
