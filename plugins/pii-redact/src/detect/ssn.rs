//! US social security numbers, written `AAA-GG-SSSS`.
//!
//! The Social Security Administration never issues area `000`, `666` or `900`–`999`, group
//! `00` or serial `0000`; numbers in those ranges are left alone. Only the dashed form is
//! matched: nine bare digits are as likely to be an id as an SSN.

use super::digits::{self, Grammar, Group};
use super::{Buffers, Detector, Needs};

/// Finds US social security numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ssn;

/// SSNs are written with dashes only.
const GRAMMAR: Grammar = Grammar {
    separators: b"-",
    parens: false,
};

impl Detector for Ssn {
    fn needs(&self) -> Needs {
        Needs {
            run_digits: 9,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, buffers: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        let bytes = text.as_bytes();
        digits::for_each_run(bytes, GRAMMAR, &mut buffers.groups, |run| {
            // Every group of a run is joined by a dash, so an SSN must be the whole run:
            // `123-45-6789-0` is some other identifier.
            if let [area, group, serial] = run
                && digits::window_stands_alone(bytes, run, 0, 2, area.start)
                && is_issuable(bytes, area, group, serial)
            {
                found(area.start, serial.end);
            }
        });
    }

    /// The nine digits.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        for digit in matched.bytes().filter(u8::is_ascii_digit) {
            sink(&[digit]);
        }
    }
}

/// Whether `area-group-serial` has the 3-2-4 layout and lies in the issuable ranges.
fn is_issuable(text: &[u8], area: &Group, group: &Group, serial: &Group) -> bool {
    let number = |g: &Group| {
        text[g.start..g.end]
            .iter()
            .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'))
    };
    if (area.digits, group.digits, serial.digits) != (3, 2, 4) {
        return false;
    }
    let area = number(area);
    area != 0 && area != 666 && area < 900 && number(group) != 0 && number(serial) != 0
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn finds_social_security_numbers() {
        let positives = [
            ("123-45-6789", "123-45-6789"),
            ("ssn: 078-05-1120.", "078-05-1120"),
            ("ssn=123-45-6789&x=1", "123-45-6789"),
            ("(899-99-9999)", "899-99-9999"),
            ("665-01-0001", "665-01-0001"),
        ];
        let negatives = [
            // Never issued.
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-99-9999",
            "123-00-4567",
            "123-45-0000",
            // Other layouts and glued identifiers.
            "123456789",
            "123 45 6789",
            "123-45-67890",
            "1234-56-7890",
            "123-45-6789-1",
            "ord-123-45-6789",
            "123-45-6789.5",
            // Ordinary data.
            "2024-01-15",
            "415-555-2671",
            "ord-2024-000123",
            "1700000000123",
            "v10.4.1-beta",
        ];
        testing::check(&Ssn, &positives, &negatives);
    }
}
