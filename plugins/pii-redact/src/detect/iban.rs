//! International bank account numbers (IBAN, ISO 13616).
//!
//! An IBAN is a country code, two check digits and a national account number (BBAN), written
//! solid (`GB82WEST12345698765432`) or in groups of four (`GB82 WEST 1234 5698 7654 32`). A
//! candidate must have the exact length registered for its country and pass the mod-97
//! checksum, so a random uppercase token slips through about once in a hundred thousand.
//! Lowercase IBANs are not matched.

use regex::Regex;

use super::words::{any_marked, in_range};
use super::{Buffers, Detector, Needs, is_word};

/// Country code, check digits, then the BBAN solid or in space-separated groups of four with
/// a shorter last group. A candidate may run past the IBAN (`BE68 5390 0754 7034 SEPA`); the
/// country's length says where it ends.
const PATTERN: &str =
    r"(?-u:\b)[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)";

/// Finds IBANs.
#[derive(Debug, Clone)]
pub(crate) struct Iban {
    regex: Regex,
}

impl Iban {
    /// Compiles the detector.
    pub(crate) fn new() -> Iban {
        Iban {
            regex: Regex::new(PATTERN).expect("the IBAN pattern is valid"),
        }
    }
}

impl Detector for Iban {
    fn needs(&self) -> Needs {
        Needs {
            len: 15,
            upper: 2,
            digits: 2,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        let bytes = text.as_bytes();
        // An IBAN starts with a country code and two check digits (`DE89`); look for that a
        // word at a time before starting a regex search.
        if !any_marked(
            bytes,
            |low| in_range(low, b'A', b'Z'),
            |at| {
                bytes.get(at + 1..at + 4).is_some_and(|next| {
                    next[0].is_ascii_uppercase()
                        && next[1].is_ascii_digit()
                        && next[2].is_ascii_digit()
                })
            },
        ) {
            return;
        }
        for candidate in self.regex.find_iter(text) {
            if let Some(end) = iban_end(bytes, candidate.start(), candidate.end()) {
                found(candidate.start(), end);
            }
        }
    }

    /// Uppercase characters without the spaces.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        for byte in matched.bytes().filter(|b| *b != b' ') {
            sink(&[byte]);
        }
    }
}

/// Where the IBAN at the start of `text[start..end]` ends, if it is one.
fn iban_end(text: &[u8], start: usize, end: usize) -> Option<usize> {
    let length = registered_length([text[start], text[start + 1]])?;
    // Walk to the `length`-th character, skipping the spaces between groups.
    let mut characters = 0;
    let mut position = start;
    while characters < length {
        let &byte = text[..end].get(position)?;
        characters += usize::from(byte != b' ');
        position += 1;
    }
    // The IBAN must end where the text or a group does, not inside a longer token.
    let standalone = !text.get(position).is_some_and(|&b| is_word(b));
    let iban = text[start..position].iter().copied().filter(|&b| b != b' ');
    (standalone && mod97(iban) == 1).then_some(position)
}

/// The ISO 13616 checksum: move the first four characters to the end, read letters as 10–35
/// and take the whole number modulo 97 (digit by digit, to stay in a `u32`). Valid IBANs give 1.
fn mod97(iban: impl Iterator<Item = u8> + Clone) -> u32 {
    let rearranged = iban.clone().skip(4).chain(iban.take(4));
    rearranged.fold(0, |remainder, byte| match byte {
        b'0'..=b'9' => (remainder * 10 + u32::from(byte - b'0')) % 97,
        _ => (remainder * 100 + u32::from(byte - b'A') + 10) % 97,
    })
}

/// The IBAN length registered for a country (SWIFT IBAN registry).
fn registered_length(country: [u8; 2]) -> Option<usize> {
    let length = match &country {
        b"NO" => 15,
        b"BE" => 16,
        b"DK" | b"FI" | b"FK" | b"FO" | b"GL" | b"NL" | b"SD" => 18,
        b"MK" | b"SI" => 19,
        b"AT" | b"BA" | b"EE" | b"KZ" | b"LT" | b"LU" | b"MN" | b"XK" => 20,
        b"CH" | b"HR" | b"LI" | b"LV" => 21,
        b"BG" | b"BH" | b"CR" | b"DE" | b"GB" | b"GE" | b"IE" | b"ME" | b"RS" | b"VA" => 22,
        b"AE" | b"GI" | b"IL" | b"IQ" | b"OM" | b"SO" | b"TL" => 23,
        b"AD" | b"CZ" | b"ES" | b"MD" | b"PK" | b"RO" | b"SA" | b"SE" | b"SK" | b"TN" | b"VG" => 24,
        b"LY" | b"PT" | b"ST" => 25,
        b"IS" | b"TR" => 26,
        b"BI" | b"DJ" | b"FR" | b"GR" | b"IT" | b"MC" | b"MR" | b"SM" => 27,
        b"AL" | b"AZ" | b"BY" | b"CY" | b"DO" | b"GT" | b"HU" | b"LB" | b"NI" | b"PL" | b"SV" => 28,
        b"BR" | b"EG" | b"PS" | b"QA" | b"UA" => 29,
        b"JO" | b"KW" | b"MU" | b"YE" => 30,
        b"MT" | b"SC" => 31,
        b"LC" => 32,
        b"RU" => 33,
        _ => return None,
    };
    Some(length)
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn finds_ibans() {
        let positives = [
            ("GB82WEST12345698765432", "GB82WEST12345698765432"),
            (
                "iban GB82 WEST 1234 5698 7654 32.",
                "GB82 WEST 1234 5698 7654 32",
            ),
            ("DE89 3704 0044 0532 0130 00", "DE89 3704 0044 0532 0130 00"),
            ("DE89370400440532013000", "DE89370400440532013000"),
            (
                "FR14 2004 1010 0505 0001 3M02 606",
                "FR14 2004 1010 0505 0001 3M02 606",
            ),
            ("to NL91ABNA0417164300 now", "NL91ABNA0417164300"),
            ("BE68 5390 0754 7034 SEPA", "BE68 5390 0754 7034"),
            ("NO93 8601 1117 947", "NO93 8601 1117 947"),
            ("CH93 0076 2011 6238 5295 7", "CH93 0076 2011 6238 5295 7"),
            (
                "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
                "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
            ),
            (
                r#"{"iban":"ES9121000418450200051332"}"#,
                "ES9121000418450200051332",
            ),
        ];
        let negatives = [
            // Wrong checksum, length or country.
            "GB82 WEST 1234 5698 7654 33",
            "GB82WEST1234569876543",
            "GB82 WEST 1234 5698 7654 3299",
            "XX82WEST12345698765432",
            "US12 3456 7890 1234 5678",
            // Glued to a longer token, or lowercase.
            "DE89370400440532013000X",
            "XDE89370400440532013000",
            "de89370400440532013000",
            // Ordinary data.
            "123E4567-E89B-12D3-A456-426614174000",
            "ORDER2024000123ABCDEF",
            "ord-2024-000123",
            "2024-01-15T10:30:00Z",
            "v10.4.1-beta GET /api/V1/ITEMS",
        ];
        testing::check(&Iban::new(), &positives, &negatives);
    }

    #[test]
    fn checksum_is_mod_97() {
        let iban = |s: &'static str| s.bytes().filter(|&b| b != b' ');
        assert_eq!(mod97(iban("GB82 WEST 1234 5698 7654 32")), 1);
        assert_ne!(mod97(iban("GB82 WEST 1234 5698 7654 33")), 1);
    }
}
