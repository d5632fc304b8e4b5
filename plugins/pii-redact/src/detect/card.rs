//! Payment card numbers (PANs).
//!
//! A card number has 13 to 19 digits, written solid (`4111111111111111`) or in groups joined by
//! spaces or dashes (`4111 1111 1111 1111`, `3782 822463 10005`). Three checks keep ordinary
//! numbers out:
//!
//! - **layout**: grouped numbers start with a 4-digit group, every group has 3 to 6 digits and
//!   one separator is used throughout;
//! - **issuer**: the first digit is 2 to 6 (Mastercard, Amex, Diners, JCB, Visa, Discover,
//!   UnionPay...), which rules out unix timestamps in ms and ns (`1700000000004`);
//! - **Luhn**: the check digit every issued card carries; a random number passes 1 time in 10.

use super::digits::{self, Grammar, Group};
use super::{Buffers, Detector, Needs};

/// Finds payment card numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CreditCard;

/// Cards are grouped with spaces or dashes, never parentheses.
const GRAMMAR: Grammar = Grammar {
    separators: b" -",
    parens: false,
};

impl Detector for CreditCard {
    fn needs(&self) -> Needs {
        Needs {
            run_digits: 13,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, buffers: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        let bytes = text.as_bytes();
        digits::for_each_run(bytes, GRAMMAR, &mut buffers.groups, |run| {
            let mut first = 0;
            while first < run.len() {
                match longest_card(bytes, run, first) {
                    Some(last) => {
                        found(run[first].start, run[last].end);
                        first = last + 1;
                    }
                    None => first += 1,
                }
            }
        });
    }

    /// The digits alone, so every spelling of a card hashes the same.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        for digit in matched.bytes().filter(u8::is_ascii_digit) {
            sink(&[digit]);
        }
    }
}

/// The last group of the longest card number starting at group `first` of `run`.
fn longest_card(text: &[u8], run: &[Group], first: usize) -> Option<usize> {
    let start = run[first].start;
    let mut digits = 0;
    let mut longest = None;
    for last in first..run.len() {
        digits += run[last].digits;
        if digits > 19 {
            break;
        }
        if digits >= 13
            && layout_ok(&run[first..=last])
            && matches!(text[start], b'2'..=b'6')
            && digits::window_stands_alone(text, run, first, last, start)
            && luhn(digits::digits_of(text, start, run[last].end))
        {
            longest = Some(last);
        }
    }
    longest
}

/// Whether `window` is laid out like a card: one solid number, or a 4-digit group followed by
/// groups of 3 to 6 digits, all joined by the same separator.
fn layout_ok(window: &[Group]) -> bool {
    match window {
        [_] => true,
        [head, rest @ ..] => {
            head.digits == 4
                && rest.iter().all(|group| (3..=6).contains(&group.digits))
                && digits::one_separator(window)
        }
        [] => false,
    }
}

/// The Luhn checksum: from the right, double every second digit (subtracting 9 when the
/// result has two digits); the sum of all digits must be a multiple of 10.
pub(crate) fn luhn(digits: impl DoubleEndedIterator<Item = u8>) -> bool {
    let sum: u32 = digits
        .rev()
        .enumerate()
        .map(|(position, digit)| {
            let digit = u32::from(digit);
            match position % 2 {
                0 => digit,
                _ if digit * 2 > 9 => digit * 2 - 9,
                _ => digit * 2,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn luhn_accepts_issued_numbers_only() {
        let digits = |s: &'static str| s.bytes().map(|b| b - b'0');
        assert!(luhn(digits("4111111111111111")));
        assert!(luhn(digits("79927398713")));
        assert!(!luhn(digits("4111111111111112")));
        assert!(!luhn(digits("79927398710")));
    }

    #[test]
    fn finds_card_numbers() {
        let positives = [
            ("4111111111111111", "4111111111111111"),
            ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111"),
            ("4111-1111-1111-1111", "4111-1111-1111-1111"),
            ("mc 5555 5555 5555 4444.", "5555 5555 5555 4444"),
            ("mc 2-series 2223003122003222", "2223003122003222"),
            ("amex 3782 822463 10005", "3782 822463 10005"),
            ("amex 378282246310005", "378282246310005"),
            ("diners 3056 930902 5904", "3056 930902 5904"),
            ("discover 6011111111111117", "6011111111111117"),
            ("jcb 3530111333300000", "3530111333300000"),
            ("visa-13 4222222222222", "4222222222222"),
            ("unionpay 6212345678901234569", "6212345678901234569"),
            (
                "19 digits 4111 1111 1111 1111 110",
                "4111 1111 1111 1111 110",
            ),
            (r#"{"pan":"4111111111111111"}"#, "4111111111111111"),
            ("/cards/4111111111111111/charge", "4111111111111111"),
            ("pan=4111111111111111&cvv=123", "4111111111111111"),
            ("paid 4111 1111 1111 1111 2024-01-15", "4111 1111 1111 1111"),
            ("支付卡4111111111111111。", "4111111111111111"),
        ];
        let negatives = [
            // 16 digits that fail Luhn.
            "4111111111111112",
            "4111 1111 1111 1112",
            "5555555555554445",
            "6011111111111118",
            // Unix timestamps in s, ms (this one passes Luhn) and ns.
            "1700000000",
            "1700000000004",
            "1712345678901234563",
            // Order ids, UUIDs, trace ids.
            "ord-2024-000123",
            "123e4567-e89b-12d3-a456-426614174000",
            "12345678-1234-1234-1234-123456789012",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            // Too short, too long, wrong layout.
            "4111 1111 1111",
            "41111111111111111111111",
            "411 111 111 111 1111",
            "4111 1111-1111 1111",
            "1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6",
            // Glued to a longer identifier or number.
            "v4111111111111111",
            "order-4111111111111111",
            "4111-1111-1111-1111-2222",
            "0.4111111111111111",
            // Timestamps, versions, ports, durations.
            "2024-01-15T10:30:00.123456789Z",
            "v10.4.1-beta",
            "localhost:8080",
            "took 1523ms",
        ];
        testing::check(&CreditCard, &positives, &negatives);
    }

    #[test]
    fn finds_every_card_in_a_value() {
        assert_eq!(
            testing::matches(&CreditCard, "4111111111111111 and 5555-5555-5555-4444"),
            ["4111111111111111", "5555-5555-5555-4444"]
        );
    }

    #[test]
    fn hashes_every_spelling_alike() {
        assert_eq!(
            testing::canonical(&CreditCard, "4111-1111 1111-1111"),
            "4111111111111111"
        );
    }
}
