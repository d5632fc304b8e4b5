//! Detectors: find the byte ranges of personal data inside a string.
//!
//! Each built-in detector lives in its own file and follows the same recipe:
//!
//! 1. a cheap prefilter on the value's [`Profile`] (no `@`, no email; fewer than 13 digits, no
//!    card number), so most clean values cost one pass over their bytes in total;
//! 2. a linear-time candidate search (the `regex` crate never backtracks, and the hand-written
//!    scanners visit each byte a bounded number of times);
//! 3. a validation step that removes look-alikes: Luhn for cards, mod-97 for IBANs, parsing
//!    with `std::net` for IP addresses, number ranges for SSNs, a CRC-32 for GitHub and npm
//!    tokens, and checks that a match is not glued to a longer word or identifier
//!    ([`free_before`], [`free_after`]).
//!
//! The credential detectors (`secrets/`) add a second prefilter, shared: one pass over a value
//! finds which of their formats are anchored in it ([`Detector::anchors`]), and the others are
//! not called.

mod card;
mod custom;
mod digits;
mod email;
mod iban;
mod ip;
mod needs;
mod phone;
mod secrets;
mod ssn;
mod token;
mod words;

pub(crate) use custom::Custom;
pub(crate) use needs::NeedsTable;
pub(crate) use secrets::Credential;
use words::{equal, in_range, split_ascii, words};

/// Cheap facts about a value, gathered a word at a time (plus a second pass over values with
/// many digits, for [`run_digits`](Profile::run_digits)), that let detectors skip values they
/// cannot match.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Profile {
    /// Length in bytes.
    pub(crate) len: usize,
    /// ASCII digits.
    pub(crate) digits: usize,
    /// ASCII uppercase letters.
    pub(crate) upper: usize,
    /// `@` and `%` signs (a URL-encoded `@` is `%40`).
    pub(crate) at_signs: usize,
    /// `.` characters.
    pub(crate) dots: usize,
    /// `:` characters.
    pub(crate) colons: usize,
    /// Spaces.
    pub(crate) spaces: usize,
    /// `=` and `:` characters, which separate a key from its value (`password=...`).
    pub(crate) key_separators: usize,
    /// The most digits in one stretch of digits, spaces, `-`, `.`, `(` and `)`, from the first
    /// place in it not glued to a word before: an upper bound on the digits of any phone, card
    /// or SSN match, whose groups are joined only by those and which must stand apart from the
    /// text before them. Counted only when the value has at least
    /// [`Profile::RUN_COUNTED_FROM`] digits; below that it is `digits`, which bounds it too.
    pub(crate) run_digits: usize,
}

impl Profile {
    /// The fewest digits a digit detector needs (a phone number's 8); values with fewer
    /// digits skip the stretch count.
    pub(crate) const RUN_COUNTED_FROM: usize = 8;

    /// Profiles `text`, eight bytes at a time and without a branch per byte: every byte class
    /// is a bit mask over the word, counted with one popcount.
    pub(crate) fn of(text: &str) -> Profile {
        let mut profile = Profile {
            len: text.len(),
            ..Profile::default()
        };
        let bytes = text.as_bytes();
        for (_, word) in words(bytes) {
            profile.count(word);
        }
        profile.run_digits = if profile.digits >= Self::RUN_COUNTED_FROM {
            longest_digit_stretch(bytes)
        } else {
            profile.digits
        };
        profile
    }

    /// Adds the classes of the eight bytes of `word` to the counts.
    fn count(&mut self, word: u64) {
        let (ascii, low) = split_ascii(word);
        let ones = |mask: u64| (mask & ascii).count_ones() as usize;
        self.digits += ones(in_range(low, b'0', b'9'));
        self.upper += ones(in_range(low, b'A', b'Z'));
        self.at_signs += ones(equal(low, b'@') | equal(low, b'%'));
        self.dots += ones(equal(low, b'.'));
        let colons = equal(low, b':');
        self.colons += ones(colons);
        self.spaces += ones(equal(low, b' '));
        self.key_separators += ones(colons | equal(low, b'='));
    }
}

/// The most digits in one stretch of digits, spaces, `-`, `.`, `(` and `)`, counted from the
/// first digit or `(` of the stretch where a match could start: one not glued to a word
/// before it (see [`free_before`]). `ord-2024-000123` and a UUID's groups count nothing.
///
/// Where a match could start is found for a whole word at once, and a word where no count
/// can begin, with none under way, is skipped: only the words of a value around its free
/// digits are walked byte by byte.
fn longest_digit_stretch(bytes: &[u8]) -> usize {
    let mut stretch = Stretch::default();
    // The word-character and glue masks of the previous word, for the bytes before this one's.
    let (mut word_chars_before, mut glue_before) = (0, 0);
    for (offset, word) in words(bytes) {
        let (ascii, low) = split_ascii(word);
        let digits = in_range(low, b'0', b'9');
        let letters = in_range(low, b'A', b'Z') | in_range(low, b'a', b'z');
        let word_chars = (digits | letters | equal(low, b'_')) & ascii;
        let glue = (equal(low, b'-') | equal(low, b'.')) & ascii;
        // `free_before` at every byte: not after a word character, nor after glue after one.
        let after_word = (word_chars << 8) | (word_chars_before >> 56);
        let after_glue = (glue << 8) | (glue_before >> 56);
        let two_after_word = (word_chars << 16) | (word_chars_before >> 48);
        let free_starts =
            (digits | equal(low, b'(')) & ascii & !after_word & !(after_glue & two_after_word);
        (word_chars_before, glue_before) = (word_chars, glue);
        if !stretch.counting && free_starts == 0 {
            // No count is under way (so the run is 0) and none can begin in this word.
            continue;
        }
        for (index, &byte) in bytes[offset..].iter().take(8).enumerate() {
            stretch.step(byte, free_starts & (0x80 << (8 * index)) != 0);
        }
    }
    stretch.longest
}

/// The state of [`longest_digit_stretch`] between bytes.
#[derive(Debug, Default)]
struct Stretch {
    /// The longest count so far.
    longest: usize,
    /// The digits counted in the current stretch.
    run: usize,
    /// Whether the current stretch has reached a place a match could start (until then,
    /// `run` stays 0).
    counting: bool,
}

impl Stretch {
    /// Takes the next byte; `free` says whether a match could start at it.
    fn step(&mut self, byte: u8, free: bool) {
        match byte {
            b'0'..=b'9' | b'(' => {
                self.counting = self.counting || free;
                if self.counting && byte != b'(' {
                    self.run += 1;
                    self.longest = self.longest.max(self.run);
                }
            }
            b' ' | b'-' | b'.' | b')' => {}
            _ => {
                self.run = 0;
                self.counting = false;
            }
        }
    }
}

/// What a detector needs of a value before searching it: the least [`Profile`] the value must
/// have, field by field (every field a minimum, all of them to be met). Detectors declare it as
/// data, so the redactor finds the detectors a value meets with a few table look-ups and no
/// call ([`NeedsTable`]). A `run_digits` minimum other than 0 must be at least
/// [`Profile::RUN_COUNTED_FROM`].
pub(crate) type Needs = Profile;

impl Profile {
    /// No minimum: every value is searched.
    pub(crate) const NOTHING: Needs = Profile {
        len: 0,
        digits: 0,
        upper: 0,
        at_signs: 0,
        dots: 0,
        colons: 0,
        spaces: 0,
        key_separators: 0,
        run_digits: 0,
    };
}

/// Buffers a detector may reuse from value to value, so scanning allocates nothing once warm.
#[derive(Debug, Default)]
pub(crate) struct Buffers {
    /// The digit groups of the current run (see [`digits`]).
    groups: Vec<digits::Group>,
}

/// Finds one kind of personal data in strings.
pub(crate) trait Detector {
    /// What a value's profile must show for [`find`](Self::find) to have a chance; values
    /// that fall short are skipped.
    fn needs(&self) -> Needs;

    /// The credential formats (bits of [`secrets::Anchors`]) one of whose anchors a value
    /// must hold for [`find`](Self::find) to have a chance; 0 (the default) for a detector the
    /// shared credential prefilter does not cover. Checked after [`needs`](Self::needs), with
    /// one pass over the value for all the detectors that ask.
    fn anchors(&self) -> u32 {
        0
    }

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
    /// A credential format (see [`Credential`]).
    Credential(Credential),
}

impl Builtin {
    /// Every built-in detector. When two matches start at the same place and have the same
    /// length, the one earlier in this list names the mask.
    /// The credentials come after the JWT and bearer detectors (which name a token they
    /// share with the generic `key = value` rule), each known format before that rule.
    pub(crate) const ALL: [Builtin; 28] = [
        Builtin::Email,
        Builtin::Jwt,
        Builtin::BearerToken,
        Builtin::Credential(Credential::PrivateKey),
        Builtin::Credential(Credential::AwsAccessKey),
        Builtin::Credential(Credential::GcpApiKey),
        Builtin::Credential(Credential::AzureClientSecret),
        Builtin::Credential(Credential::DigitaloceanToken),
        Builtin::Credential(Credential::GithubToken),
        Builtin::Credential(Credential::GitlabToken),
        Builtin::Credential(Credential::NpmToken),
        Builtin::Credential(Credential::PypiToken),
        Builtin::Credential(Credential::SlackToken),
        Builtin::Credential(Credential::SlackWebhook),
        Builtin::Credential(Credential::TwilioKey),
        Builtin::Credential(Credential::StripeKey),
        Builtin::Credential(Credential::SquareToken),
        Builtin::Credential(Credential::SendgridKey),
        Builtin::Credential(Credential::MailgunKey),
        Builtin::Credential(Credential::MailchimpKey),
        Builtin::Credential(Credential::AiApiKey),
        Builtin::Credential(Credential::SecretAssignment),
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
            Builtin::Credential(credential) => credential.name(),
        }
    }

    /// A ready-to-use detector.
    pub(crate) fn detector(self) -> Box<dyn Detector> {
        match self {
            Builtin::Email => Box::new(email::Email),
            Builtin::CreditCard => Box::new(card::CreditCard),
            Builtin::Phone => Box::new(phone::Phone),
            Builtin::Ipv4 => Box::new(ip::Ipv4),
            Builtin::Ipv6 => Box::new(ip::Ipv6),
            Builtin::Jwt => Box::new(token::Jwt::new()),
            Builtin::BearerToken => Box::new(token::BearerToken::new()),
            Builtin::Iban => Box::new(iban::Iban::new()),
            Builtin::Ssn => Box::new(ssn::Ssn),
            Builtin::Credential(credential) => credential.detector(),
        }
    }
}

/// Whether `byte` continues a word: an ASCII letter, digit or `_`.
pub(crate) fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The end of the run of bytes from `from` that satisfy `class` (`from` itself when none does).
pub(crate) fn run_end(bytes: &[u8], from: usize, class: fn(u8) -> bool) -> usize {
    from + bytes[from..].iter().take_while(|&&b| class(b)).count()
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

    /// The matches `detector` finds in `text`, as strings. The prefilters run first, exactly as
    /// in production, so a prefilter that wrongly skips a value fails the tables too.
    pub(crate) fn matches<'t>(detector: &dyn Detector, text: &'t str) -> Vec<&'t str> {
        let mut found = Vec::new();
        let anchored = detector.anchors() == 0
            || super::secrets::Anchors::of(text.as_bytes()).bits() & detector.anchors() != 0;
        if Profile::of(text).meets(&detector.needs()) && anchored {
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

    /// A deterministic source of numbers for generated test texts (xorshift64 from `seed`):
    /// each call returns a number below its argument.
    pub(crate) fn numbers_below(seed: u64) -> impl FnMut(usize) -> usize {
        let mut state = seed;
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
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
                at_signs: 2,
                dots: 1,
                colons: 1,
                spaces: 3,
                key_separators: 1,
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
        assert_eq!(run("/api/v2/items/48213:7/page/99"), 5);
        // Digits glued to a word before them cannot start a match.
        assert_eq!(run("ord-2024-000123"), 0);
        assert_eq!(run("123e4567-e89b-12d3-a456-426614174000"), 3);
        assert_eq!(run("x12 4111 1111 1111 1111"), 16);
        assert_eq!(run("a(415) 555-2671"), 10);
        assert_eq!(run(""), 0);
        // Below eight digits the stretch is not counted: the digits bound it.
        assert_eq!(run("/api/v2/items/48213"), 6);
    }

    /// The byte-at-a-time count the word-at-a-time [`Profile::of`] must agree with.
    fn profile_byte_by_byte(text: &str) -> Profile {
        let mut profile = Profile {
            len: text.len(),
            ..Profile::default()
        };
        for &byte in text.as_bytes() {
            match byte {
                b'0'..=b'9' => profile.digits += 1,
                b'A'..=b'Z' => profile.upper += 1,
                b'@' | b'%' => profile.at_signs += 1,
                b'.' => profile.dots += 1,
                b':' => {
                    profile.colons += 1;
                    profile.key_separators += 1;
                }
                b'=' => profile.key_separators += 1,
                b' ' => profile.spaces += 1,
                _ => {}
            }
        }
        profile.run_digits = if profile.digits >= Profile::RUN_COUNTED_FROM {
            longest_digit_stretch_byte_by_byte(text.as_bytes())
        } else {
            profile.digits
        };
        profile
    }

    /// The byte-at-a-time stretch count the word-at-a-time [`longest_digit_stretch`] must
    /// agree with: every byte stepped, [`free_before`] asked at each.
    fn longest_digit_stretch_byte_by_byte(bytes: &[u8]) -> usize {
        let mut stretch = Stretch::default();
        for (index, &byte) in bytes.iter().enumerate() {
            stretch.step(byte, free_before(bytes, index));
        }
        stretch.longest
    }

    #[test]
    fn word_at_a_time_stretches_equal_byte_by_byte_stretches() {
        // Every string of up to five characters from the classes that matter (a digit, a
        // letter, `_`, each separator and glue, another symbol, a multi-byte character),
        // after 0 to 8 leading spaces or letters, so each lands across a word boundary.
        let alphabet = ["1", "a", "_", " ", "-", ".", "(", ")", "/", "é"];
        let (mut texts, mut level) = (Vec::new(), vec![String::new()]);
        for _ in 0..5 {
            level = level
                .iter()
                .flat_map(|text| alphabet.iter().map(move |c| format!("{text}{c}")))
                .collect();
            texts.extend(level.iter().cloned());
        }
        for text in &texts {
            for lead in 0..9 {
                for filler in [" ", "x"] {
                    let text = format!("{}{text}", filler.repeat(lead));
                    assert_eq!(
                        longest_digit_stretch(text.as_bytes()),
                        longest_digit_stretch_byte_by_byte(text.as_bytes()),
                        "stretch of {text:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn word_at_a_time_counts_equal_byte_by_byte_counts() {
        // Every ASCII character at every offset of a word and of the padded tail, among
        // multi-byte characters whose bytes must count as nothing, and next to the class
        // edges (`/` `0` `9` `:`, `@` `A` `Z` `[`).
        let fillers = ["", "a", "é", "€x", "0", "Z", "日本語", "\u{7f}"];
        for len in 0..20 {
            for at in 0..len.max(1) {
                for byte in 0u8..0x80 {
                    for filler in fillers {
                        let mut text = filler.repeat(len);
                        text.truncate(text.floor_char_boundary(at));
                        text.push(char::from(byte));
                        text.push_str(&"9".repeat(len % 11));
                        text.push_str(filler);
                        assert_eq!(
                            Profile::of(&text),
                            profile_byte_by_byte(&text),
                            "profile of {text:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn profiles_meet_needs_field_by_field() {
        let profile = Profile::of("Mail bob@x.io: 42 %");
        let needs = |needs: Needs| profile.meets(&needs);
        assert!(needs(Needs::NOTHING));
        assert!(needs(Needs {
            len: 19,
            at_signs: 2,
            spaces: 3,
            ..Needs::NOTHING
        }));
        for short in [
            Needs {
                len: 20,
                ..Needs::NOTHING
            },
            Needs {
                digits: 3,
                ..Needs::NOTHING
            },
            Needs {
                upper: 2,
                ..Needs::NOTHING
            },
            Needs {
                at_signs: 3,
                ..Needs::NOTHING
            },
            Needs {
                dots: 2,
                ..Needs::NOTHING
            },
            Needs {
                colons: 2,
                ..Needs::NOTHING
            },
            Needs {
                spaces: 4,
                ..Needs::NOTHING
            },
            Needs {
                key_separators: 2,
                ..Needs::NOTHING
            },
            Needs {
                run_digits: 3,
                ..Needs::NOTHING
            },
        ] {
            assert!(!needs(short), "{short:?} met by {profile:?}");
        }
        // Past 127 both sides saturate: a long value still meets a long minimum.
        let long_minimum = Needs {
            len: 300,
            ..Needs::NOTHING
        };
        assert!(Profile::of(&"a".repeat(500)).meets(&long_minimum));
        assert!(!Profile::of("a").meets(&long_minimum));
    }

    #[test]
    fn digit_detectors_need_a_counted_stretch() {
        for builtin in Builtin::ALL {
            let needs = builtin.detector().needs();
            assert!(
                needs.run_digits == 0 || needs.run_digits >= Profile::RUN_COUNTED_FROM,
                "{} needs a stretch of {} digits, which is not counted",
                builtin.name(),
                needs.run_digits
            );
        }
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
