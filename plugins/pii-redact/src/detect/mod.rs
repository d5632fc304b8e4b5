//! Detectors: find the byte ranges of personal data inside a string.
//!
//! Each built-in detector lives in its own file and follows the same recipe:
//!
//! 1. a cheap prefilter on the value's [`Profile`] (no `@`, no email; fewer than 13 digits, no
//!    card number), so clean values cost one pass over their bytes in total;
//! 2. a linear-time candidate search (the `regex` crate never backtracks, and the hand-written
//!    scanners visit each byte a bounded number of times);
//! 3. a validation step that removes look-alikes: Luhn for cards, mod-97 for IBANs, parsing
//!    with `std::net` for IP addresses, number ranges for SSNs, and checks that a match is not
//!    glued to a longer word or identifier ([`free_before`], [`free_after`]).

mod card;
mod custom;
mod digits;
mod email;
mod iban;
mod ip;
mod phone;
mod ssn;
mod token;

pub(crate) use custom::Custom;

/// Cheap facts about a value, gathered in one pass, that let detectors skip values they
/// cannot match.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profile {
    /// Length in bytes.
    pub(crate) len: usize,
    /// ASCII digits.
    pub(crate) digits: usize,
    /// ASCII uppercase letters.
    pub(crate) upper: usize,
    /// `@` signs.
    pub(crate) at: usize,
    /// `%` signs (a URL-encoded `@` is `%40`).
    pub(crate) percent: usize,
    /// `.` characters.
    pub(crate) dots: usize,
    /// `:` characters.
    pub(crate) colons: usize,
    /// Spaces.
    pub(crate) spaces: usize,
    /// The most digits in one stretch of digits, spaces, `-`, `.`, `(` and `)`: an upper bound
    /// on the digits of any phone, card or SSN match, whose groups are joined only by those.
    pub(crate) run_digits: usize,
}

impl Profile {
    /// Profiles `text`.
    pub(crate) fn of(text: &str) -> Profile {
        let mut profile = Profile {
            len: text.len(),
            ..Profile::default()
        };
        let mut run = 0;
        for &byte in text.as_bytes() {
            match byte {
                b'0'..=b'9' => {
                    profile.digits += 1;
                    run += 1;
                    profile.run_digits = profile.run_digits.max(run);
                }
                // These continue a stretch of digits.
                b'.' => profile.dots += 1,
                b' ' => profile.spaces += 1,
                b'-' | b'(' | b')' => {}
                // Every other byte ends it.
                b'A'..=b'Z' => {
                    profile.upper += 1;
                    run = 0;
                }
                b'@' => {
                    profile.at += 1;
                    run = 0;
                }
                b'%' => {
                    profile.percent += 1;
                    run = 0;
                }
                b':' => {
                    profile.colons += 1;
                    run = 0;
                }
                _ => run = 0,
            }
        }
        profile
    }
}

/// Buffers a detector may reuse from value to value, so scanning allocates nothing once warm.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    /// The digit groups of the current run (see [`digits`]).
    groups: Vec<digits::Group>,
}

/// Finds one kind of personal data in strings.
pub(crate) trait Detector {
    /// `false` when the profile proves `text` holds no match, so [`find`](Self::find) can be
    /// skipped.
    fn may_match(&self, profile: &Profile) -> bool;

    /// Reports the byte range `start..end` of every match in `text`, left to right, through
    /// `found`. Ranges lie on character boundaries and do not overlap.
    fn find(&self, text: &str, buffers: &mut Buffers, found: &mut dyn FnMut(usize, usize));

    /// Feeds the canonical form of a match to `sink`, for the `hash` action: two spellings of
    /// the same thing (`4111 1111 1111 1111` and `4111-1111-1111-1111`) hash the same.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        sink(matched.as_bytes());
    }
}

/// The built-in detectors, as named in the config (`detectors.<name>`) and in masks
/// (`[REDACTED:<name>]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    /// Email addresses, also URL-encoded (`bob%40example.com`).
    Email,
    /// Payment card numbers confirmed by the Luhn checksum.
    CreditCard,
    /// International (E.164) and common national phone numbers.
    Phone,
    /// IPv4 addresses.
    Ipv4,
    /// IPv6 addresses.
    Ipv6,
    /// JSON Web Tokens.
    Jwt,
    /// The token of an `Authorization: Bearer <token>` header.
    BearerToken,
    /// International bank account numbers confirmed by the mod-97 checksum.
    Iban,
    /// US social security numbers.
    Ssn,
}

impl Builtin {
    /// Every built-in detector. When two matches start at the same place and have the same
    /// length, the one earlier in this list names the mask.
    pub(crate) const ALL: [Builtin; 9] = [
        Builtin::Email,
        Builtin::Jwt,
        Builtin::BearerToken,
        Builtin::CreditCard,
        Builtin::Iban,
        Builtin::Ssn,
        Builtin::Phone,
        Builtin::Ipv4,
        Builtin::Ipv6,
    ];

    /// The detector's name in config and masks.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Builtin::Email => "email",
            Builtin::CreditCard => "credit_card",
            Builtin::Phone => "phone",
            Builtin::Ipv4 => "ipv4",
            Builtin::Ipv6 => "ipv6",
            Builtin::Jwt => "jwt",
            Builtin::BearerToken => "bearer_token",
            Builtin::Iban => "iban",
            Builtin::Ssn => "ssn",
        }
    }

    /// A ready-to-use detector.
    pub(crate) fn detector(self) -> Box<dyn Detector> {
        match self {
            Builtin::Email => Box::new(email::Email::new()),
            Builtin::CreditCard => Box::new(card::CreditCard),
            Builtin::Phone => Box::new(phone::Phone),
            Builtin::Ipv4 => Box::new(ip::Ipv4::new()),
            Builtin::Ipv6 => Box::new(ip::Ipv6),
            Builtin::Jwt => Box::new(token::Jwt::new()),
            Builtin::BearerToken => Box::new(token::BearerToken::new()),
            Builtin::Iban => Box::new(iban::Iban::new()),
            Builtin::Ssn => Box::new(ssn::Ssn),
        }
    }
}

/// Whether `byte` continues a word: an ASCII letter, digit or `_`.
pub(crate) fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether `byte` glues two words into one identifier, as in `ord-2024-000123` or `v1.2`.
fn is_glue(byte: u8) -> bool {
    byte == b'-' || byte == b'.'
}

/// Whether a match starting at byte `start` is not the tail of a longer word: the byte before
/// is not a word character, nor a `-` or `.` that follows one.
pub(crate) fn free_before(text: &[u8], start: usize) -> bool {
    match start.checked_sub(1).map(|i| text[i]) {
        None => true,
        Some(byte) if is_word(byte) => false,
        Some(byte) if is_glue(byte) => !(start >= 2 && is_word(text[start - 2])),
        Some(_) => true,
    }
}

/// Whether a match ending at byte `end` is not the head of a longer word: the byte after is
/// not a word character, nor a `-` or `.` followed by one (a sentence's final `.` is fine).
pub(crate) fn free_after(text: &[u8], end: usize) -> bool {
    match text.get(end) {
        None => true,
        Some(&byte) if is_word(byte) => false,
        Some(&byte) if is_glue(byte) => !text.get(end + 1).is_some_and(|&next| is_word(next)),
        Some(_) => true,
    }
}

/// Test helpers shared by the detector tables.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Buffers, Detector, Profile};

    /// The matches `detector` finds in `text`, as strings. The prefilter runs first, exactly as
    /// in production, so a prefilter that wrongly skips a value fails the tables too.
    pub(crate) fn matches<'t>(detector: &dyn Detector, text: &'t str) -> Vec<&'t str> {
        let mut found = Vec::new();
        if detector.may_match(&Profile::of(text)) {
            detector.find(text, &mut Buffers::default(), &mut |start, end| {
                found.push(&text[start..end]);
            });
        }
        found
    }

    /// Asserts that every input in `positives` holds exactly the given match, and that no
    /// input in `negatives` holds any.
    pub(crate) fn check(detector: &dyn Detector, positives: &[(&str, &str)], negatives: &[&str]) {
        for (text, expected) in positives {
            assert_eq!(
                matches(detector, text),
                vec![*expected],
                "expected one match {expected:?} in {text:?}"
            );
        }
        for text in negatives {
            assert_eq!(
                matches(detector, text),
                Vec::<&str>::new(),
                "false positive in {text:?}"
            );
        }
    }

    /// The canonical form `detector` hashes for `matched`.
    pub(crate) fn canonical(detector: &dyn Detector, matched: &str) -> String {
        let mut bytes = Vec::new();
        detector.canonical(matched, &mut |chunk| bytes.extend_from_slice(chunk));
        String::from_utf8(bytes).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_counts_the_bytes_prefilters_look_at() {
        let profile = Profile::of("Mail bob@x.io: 42 %");
        assert_eq!(
            profile,
            Profile {
                len: 19,
                digits: 2,
                upper: 1,
                at: 1,
                percent: 1,
                dots: 1,
                colons: 1,
                spaces: 3,
                run_digits: 2,
            }
        );
    }

    #[test]
    fn digit_runs_span_the_separators_numbers_are_written_with() {
        let run = |text: &str| Profile::of(text).run_digits;
        assert_eq!(run("call (415) 555-2671 or 4111 1111 1111 1111"), 16);
        assert_eq!(run("+44 20 7946 0958"), 12);
        assert_eq!(run("078-05-1120"), 9);
        // Letters, slashes and colons end a run: a user agent's or a path's digits stay apart.
        assert_eq!(run("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"), 5);
        assert_eq!(run("/api/v2/items/48213:7"), 5);
        assert_eq!(run(""), 0);
    }

    #[test]
    fn boundaries_reject_matches_glued_to_identifiers() {
        let text = b"ord-2024 v1.2 x 42. (7)";
        assert!(!free_before(text, 4)); // "ord-" before 2024
        assert!(!free_before(text, 12)); // "v1." before 2
        assert!(free_before(text, 0));
        assert!(free_before(text, 14)); // after a space
        assert!(free_after(text, 18)); // "42" then a sentence's final "."
        assert!(!free_after(text, 11)); // "1" then ".2"
        assert!(free_after(text, 22)); // "7" then ")"
        assert!(free_after(text, text.len()));
    }
}
