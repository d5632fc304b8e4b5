//! Phone numbers.
//!
//! Three shapes are recognised, each strict enough to leave dates, versions, ids and plain
//! numbers alone:
//!
//! | shape | examples | rule |
//! |---|---|---|
//! | international (E.164) | `+14155552671`, `+44 20 7946 0958`, `+1 (415) 555-2671` | `+`, then 8 to 15 digits, the first not 0 |
//! | North American | `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `1-800-555-0199` | 3-3-4 digits with valid area code and exchange, one separator |
//! | national with trunk prefix | `020 7946 0958`, `07700 900123`, `01 23 45 67 89` | starts with 0, 9 to 11 digits in 2 to 5 groups of 2 to 6, one separator |
//!
//! Groups may be joined by spaces, dashes or dots, and an area code may be in parentheses.
//! Bare digit strings without a `+` (`4155552671`) are not matched: they cannot be told apart
//! from ids and timestamps.

use super::digits::{self, Grammar, Group};
use super::{Buffers, Detector, Needs, Profile};

/// Finds phone numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phone;

/// Phone groups are joined by spaces, dashes or dots, and `(415)` is a group.
const GRAMMAR: Grammar = Grammar {
    separators: b" -.",
    parens: true,
};

/// The most groups one number spans (`+1 (415) 555 26 71` has five).
const MAX_GROUPS: usize = 7;

impl Detector for Phone {
    fn needs(&self) -> Needs {
        Needs {
            run_digits: Profile::RUN_COUNTED_FROM,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, buffers: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        let bytes = text.as_bytes();
        digits::for_each_run(bytes, GRAMMAR, &mut buffers.groups, |run| {
            let plus = !run[0].paren && run[0].start > 0 && bytes[run[0].start - 1] == b'+';
            let mut first = 0;
            while first < run.len() {
                // Only the run's first group can follow the `+`.
                let international = plus && first == 0;
                let start = run[first].start - usize::from(international);
                match longest_phone(bytes, run, first, start, international) {
                    Some(last) => {
                        found(start, run[last].end);
                        first = last + 1;
                    }
                    None => first += 1,
                }
            }
        });
    }

    /// The `+` and the digits, so `+1 (415) 555-2671` and `+1-415-555-2671` hash the same.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        for byte in matched.bytes() {
            if byte == b'+' || byte.is_ascii_digit() {
                sink(&[byte]);
            }
        }
    }
}

/// The last group of the longest phone number starting at group `first` of `run`.
fn longest_phone(
    text: &[u8],
    run: &[Group],
    first: usize,
    start: usize,
    international: bool,
) -> Option<usize> {
    let mut longest = None;
    for last in first..run.len().min(first + MAX_GROUPS) {
        let window = &run[first..=last];
        let shape = if international {
            is_international(text, window)
        } else {
            is_north_american(text, window) || is_trunk_national(text, window)
        };
        if shape && digits::window_stands_alone(text, run, first, last, start) {
            longest = Some(last);
        }
    }
    longest
}

/// `+` then 8 to 15 digits (E.164 allows at most 15), the country code not starting with 0.
fn is_international(text: &[u8], window: &[Group]) -> bool {
    let total: usize = window.iter().map(|group| group.digits).sum();
    (8..=15).contains(&total) && !window[0].paren && text[window[0].start] != b'0'
}

/// `(415) 555-2671`, `415-555-2671`, `415.555.2671`, `415 555 2671`, optionally after a `1`:
/// area code `[2-9][0-8]X`, exchange `[2-9]XX`, line `XXXX`.
fn is_north_american(text: &[u8], window: &[Group]) -> bool {
    let groups = match window {
        [one, rest @ ..] if rest.len() == 3 && one.digits == 1 && text[one.start] == b'1' => rest,
        _ => window,
    };
    let [area, exchange, line] = groups else {
        return false;
    };
    let area_digits = &text[area.first_digit()..];
    let shape = area.digits == 3
        && exchange.digits == 3
        && line.digits == 4
        && !exchange.paren
        && !line.paren
        && matches!(area_digits[0], b'2'..=b'9')
        && area_digits[1] != b'9'
        && matches!(text[exchange.start], b'2'..=b'9');
    let separators = if area.paren {
        // `(415) 555-2671` and `(415)555-2671`: anything after the parentheses.
        matches!(exchange.sep, 0 | b' ') && line.sep != 0
    } else {
        digits::one_separator(window)
    };
    shape && separators
}

/// National numbers dialled with a trunk prefix 0, as in most of Europe, Asia and Oceania:
/// `020 7946 0958`, `(020) 7946 0958`, `07700 900123`, `01 23 45 67 89`.
fn is_trunk_national(text: &[u8], window: &[Group]) -> bool {
    let total: usize = window.iter().map(|group| group.digits).sum();
    let shape = (2..=5).contains(&window.len())
        && (9..=11).contains(&total)
        && text[window[0].first_digit()] == b'0'
        && window.iter().all(|group| (2..=6).contains(&group.digits))
        && window[1..].iter().all(|group| !group.paren);
    if !shape {
        return false;
    }
    if window[0].paren {
        matches!(window[1].sep, 0 | b' ') && digits::one_separator(&window[1..])
    } else {
        digits::one_separator(window)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn finds_phone_numbers() {
        let positives = [
            // International.
            ("+14155552671", "+14155552671"),
            ("tel:+14155552671", "+14155552671"),
            ("call +44 20 7946 0958 now", "+44 20 7946 0958"),
            ("+1 (415) 555-2671", "+1 (415) 555-2671"),
            ("+1-415-555-2671", "+1-415-555-2671"),
            ("+33 1 23 45 67 89", "+33 1 23 45 67 89"),
            ("+49 30 123456", "+49 30 123456"),
            // North American.
            ("(415) 555-2671", "(415) 555-2671"),
            ("call (415)555-2671.", "(415)555-2671"),
            ("415-555-2671", "415-555-2671"),
            ("415.555.2671", "415.555.2671"),
            ("415 555 2671", "415 555 2671"),
            ("1-800-555-0199", "1-800-555-0199"),
            ("phone=415-555-2671&next=1", "415-555-2671"),
            // National with trunk prefix.
            ("020 7946 0958", "020 7946 0958"),
            ("(020) 7946 0958", "(020) 7946 0958"),
            ("mobile 07700 900123", "07700 900123"),
            ("01 23 45 67 89", "01 23 45 67 89"),
            ("030-123456", "030-123456"),
        ];
        let negatives = [
            // Dates, times and timestamps.
            "2024-01-15",
            "2024-01-15T10:30:00.123Z",
            "01.02.2024",
            "10:30:00",
            "1700000000",
            "1700000000123",
            // Ids, versions, addresses, ports, durations, routes.
            "ord-2024-000123",
            "123e4567-e89b-12d3-a456-426614174000",
            "v10.4.1-beta",
            "1.2.3",
            "192.168.100.200",
            "localhost:8080",
            "took 250 ms, 1.5s",
            "GET /api/v1/users/12345/orders",
            // Look-alikes.
            "123-45-6789",
            "100 200 3000",
            "415-555-2671-1234",
            "0.5 0.25 0.125",
            "price 1.234.567",
            "UTC+05:30",
            "+1234567",
            "1e+10",
            // Ten bare digits cannot be told apart from an id or a timestamp.
            "4155552671",
        ];
        testing::check(&Phone, &positives, &negatives);
    }

    #[test]
    fn finds_neighbouring_numbers_separately() {
        assert_eq!(
            testing::matches(&Phone, "415-555-2671 415-555-2672, +14155552673"),
            ["415-555-2671", "415-555-2672", "+14155552673"]
        );
    }

    #[test]
    fn hashes_every_spelling_alike() {
        assert_eq!(
            testing::canonical(&Phone, "+1 (415) 555-2671"),
            "+14155552671"
        );
    }
}
