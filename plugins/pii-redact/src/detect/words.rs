//! Reading text eight bytes at a time: one `u64` per step, byte classes as bit masks.
//!
//! Inside Weft a plugin pays a CPU-deadline check at every loop head, so a loop that steps a
//! word at a time pays an eighth of the checks (and of the branches) of one stepping a byte at
//! a time. Masks mark a byte by its high bit; bytes of 0x80 and above (inside UTF-8 sequences)
//! are in no class.

/// Every byte of a word set to 1.
const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
/// The high bit of every byte of a word.
const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);

/// The words of `bytes` in order, each with the offset of its first byte. Byte `k` of a word
/// is the `k`-th least significant; the last word is padded with zero bytes, which are in no
/// class a detector looks for.
pub(super) fn words(bytes: &[u8]) -> impl Iterator<Item = (usize, u64)> + '_ {
    let chunks = bytes.chunks_exact(8);
    let rest = chunks.remainder();
    let tail = (!rest.is_empty()).then(|| (bytes.len() - rest.len(), tail_word(rest)));
    chunks
        .enumerate()
        .map(|(index, chunk)| {
            let word = chunk.try_into().expect("an 8-byte chunk");
            (index * 8, u64::from_le_bytes(word))
        })
        .chain(tail)
}

/// The (fewer than eight) bytes of `rest` as a zero-padded word. Read as two overlapping
/// loads rather than copied into a padded buffer: a byte-wise copy followed by a word load
/// stalls store forwarding, which cost more than the rest of a short value's profile.
fn tail_word(rest: &[u8]) -> u64 {
    let len = rest.len();
    let (low, high, width) = match len {
        4.. => (
            u64::from(u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"))),
            u64::from(u32::from_le_bytes(
                rest[len - 4..].try_into().expect("4 bytes"),
            )),
            4,
        ),
        2.. => (
            u64::from(u16::from_le_bytes(rest[..2].try_into().expect("2 bytes"))),
            u64::from(u16::from_le_bytes(
                rest[len - 2..].try_into().expect("2 bytes"),
            )),
            2,
        ),
        1 => return u64::from(rest[0]),
        0 => return 0,
    };
    // The two loads overlap on equal bytes, so or-ing them is exact.
    low | (high << (8 * (len - width)))
}

/// The high bit of each byte of `word` below 0x80, and the word with every high bit cleared
/// (what [`equal`] and [`in_range`] take).
pub(super) fn split_ascii(word: u64) -> (u64, u64) {
    (!word & HIGH, word & !HIGH)
}

/// The high bit of each byte of `low` (bytes below 0x80) whose value equals `byte`.
pub(super) fn equal(low: u64, byte: u8) -> u64 {
    let diff = low ^ (ONES * u64::from(byte));
    // `diff + 0x7f` sets a byte's high bit exactly when the byte is not zero; no byte carries.
    !((diff + ONES * 0x7f) | diff) & HIGH
}

/// The high bit of each byte of `low` (bytes below 0x80) within `first..=last`.
pub(super) fn in_range(low: u64, first: u8, last: u8) -> u64 {
    // Adding `0x80 - first` sets the high bit from `first` up, adding `0x7f - last` from
    // past `last` up; neither carries out of a byte below 0x80.
    let from_first = low + ONES * u64::from(0x80 - first);
    let past_last = low + ONES * u64::from(0x7f - last);
    from_first & !past_last & HIGH
}

/// `low` with ASCII letters folded to lowercase (other bytes may change too; compare the
/// result only with lowercase letters).
pub(super) fn fold_case(low: u64) -> u64 {
    low | (ONES * 0x20)
}

/// Whether `confirm` holds at some offset of `bytes` whose (ASCII) byte `class` marks. The
/// classes are found a word at a time, so a value without a marked byte costs one pass of
/// word steps: a cheap test that a literal a detector needs (`bearer `, `eyJ`) is present
/// before its regex is started.
pub(super) fn any_marked(
    bytes: &[u8],
    class: impl Fn(u64) -> u64,
    mut confirm: impl FnMut(usize) -> bool,
) -> bool {
    words(bytes).any(|(offset, word)| {
        let (ascii, low) = split_ascii(word);
        let mut marks = class(low) & ascii;
        while marks != 0 {
            if confirm(offset + marks.trailing_zeros() as usize / 8) {
                return true;
            }
            marks &= marks - 1;
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_cover_every_byte_once_and_pad_with_zeros() {
        let text: Vec<u8> = (1..=40).collect();
        for len in 0..=text.len() {
            let bytes = &text[..len];
            let mut seen = Vec::new();
            for (offset, word) in words(bytes) {
                assert_eq!(offset, seen.len(), "offsets of {len} bytes");
                let word = word.to_le_bytes();
                let real = (len - offset).min(8);
                assert!(
                    word[real..].iter().all(|&b| b == 0),
                    "padding of {len} bytes"
                );
                seen.extend_from_slice(&word[..real]);
            }
            assert_eq!(seen, bytes);
        }
    }

    #[test]
    fn marked_offsets_are_exactly_those_of_the_class() {
        // Every ASCII byte and a multi-byte character's bytes, at every offset of words and
        // of the padded tail: `any_marked` must offer exactly the offsets a byte loop finds.
        let fillers = ["a", "é", "B", " "];
        for len in 0..20 {
            for at in 0..len.max(1) {
                for byte in 0u8..0x80 {
                    for filler in fillers {
                        let mut text = filler.repeat(len).into_bytes();
                        text.truncate(at);
                        text.push(byte);
                        text.extend_from_slice(filler.as_bytes());
                        let expected: Vec<usize> = (0..text.len())
                            .filter(|&i| text[i].eq_ignore_ascii_case(&b'b'))
                            .collect();
                        let mut offered = Vec::new();
                        let found = any_marked(
                            &text,
                            |low| equal(fold_case(low), b'b'),
                            |i| {
                                offered.push(i);
                                false
                            },
                        );
                        assert!(!found);
                        assert_eq!(offered, expected, "offsets in {text:?}");
                        let upper: Vec<usize> = (0..text.len())
                            .filter(|&i| text[i].is_ascii_uppercase())
                            .collect();
                        let mut offered = Vec::new();
                        any_marked(
                            &text,
                            |low| in_range(low, b'A', b'Z'),
                            |i| {
                                offered.push(i);
                                false
                            },
                        );
                        assert_eq!(offered, upper, "uppercase in {text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn stops_at_the_first_confirmed_offset() {
        let mut offered = Vec::new();
        let found = any_marked(
            b"a b c bearer",
            |low| equal(low, b'b'),
            |i| {
                offered.push(i);
                i > 2
            },
        );
        assert!(found);
        assert_eq!(offered, [2, 6]);
    }
}
