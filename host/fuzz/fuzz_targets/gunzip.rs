//! gzip bodies as the HTTP receiver inflates them: never more than the limit, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 << 10;

fuzz_target!(|bytes: &[u8]| {
    match weft::codec::gunzip(bytes, LIMIT) {
        Ok(out) => assert!(out.len() <= LIMIT),
        Err(weft::codec::GunzipError::TooLarge { limit }) => assert_eq!(limit, LIMIT),
        Err(weft::codec::GunzipError::Invalid(_)) => {}
    }
});
