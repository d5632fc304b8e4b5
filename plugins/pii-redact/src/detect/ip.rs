//! IPv4 and IPv6 addresses, confirmed by parsing them with `std::net`.
//!
//! Loopback and unspecified addresses (`127.0.0.1`, `0.0.0.0`, `::1`, `::`) identify no one and
//! are left alone. A port stays visible: `10.1.2.3:8080` becomes `[REDACTED:ipv4]:8080`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Buffers, Detector, Needs, free_after, free_before, is_word, run_end};

/// The longest textual IPv6 address, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`.
const IPV6_MAX_LEN: usize = 45;

/// Finds IPv4 addresses.
///
/// Candidates are what the pattern `[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}` matches
/// (leftmost first, greedy; the tests check the scanner against the `regex` crate on random
/// text); [`Ipv4Addr`]'s parser then rejects octets over 255 and leading zeros. A scanner
/// rather than the regex: inside a plugin its search (a literal search for `.`, then lazy
/// DFAs in both directions) cost several times this one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ipv4;

/// The end of the run of ASCII digits starting at `from`.
fn digits_end(bytes: &[u8], from: usize) -> usize {
    run_end(bytes, from, |b| b.is_ascii_digit())
}

/// Where the rest of a candidate ends, given that its first group ended at the `.` at `dot`:
/// two more groups of one to three digits each followed by `.`, then one to three digits.
fn ipv4_rest(bytes: &[u8], mut dot: usize) -> Option<usize> {
    for _ in 0..2 {
        if bytes.get(dot) != Some(&b'.') {
            return None;
        }
        let end = digits_end(bytes, dot + 1);
        if !(1..=3).contains(&(end - dot - 1)) {
            return None;
        }
        dot = end;
    }
    if bytes.get(dot) != Some(&b'.') {
        return None;
    }
    let digits = digits_end(bytes, dot + 1) - dot - 1;
    (digits >= 1).then_some(dot + 1 + digits.min(3))
}

/// The byte ranges of IPv4 candidates in `bytes`, left to right, each starting after the end of
/// the one before. A candidate's first group is the last one to three digits of a run of
/// digits followed by `.`: the continuation does not depend on where in the run it starts,
/// so if it fails from there it fails from every start in the run.
fn ipv4_candidates(bytes: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        while let Some(offset) = bytes[at..].iter().position(u8::is_ascii_digit) {
            let run = at + offset;
            let run_end = digits_end(bytes, run);
            at = run_end;
            let start = run.max(run_end.saturating_sub(3));
            if let Some(end) = ipv4_rest(bytes, run_end) {
                at = end;
                return Some((start, end));
            }
        }
        None
    })
}

impl Detector for Ipv4 {
    fn needs(&self) -> Needs {
        Needs {
            dots: 3,
            digits: 4,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        let bytes = text.as_bytes();
        for (start, end) in ipv4_candidates(bytes) {
            // `1.2.3.4.5` (an OID) and `v1.2.3.4` are not addresses.
            if free_before(bytes, start)
                && free_after(bytes, end)
                && text[start..end]
                    .parse::<Ipv4Addr>()
                    .is_ok_and(|ip| !ip.is_loopback() && !ip.is_unspecified())
            {
                found(start, end);
            }
        }
    }
}

/// Finds IPv6 addresses.
///
/// A hand-written scanner rather than a regex: the textual forms of IPv6 (`::` compression,
/// embedded IPv4) make a regex long and hard to read, while "a run of hex digits, colons and
/// dots that `Ipv6Addr` parses" is short and exact.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ipv6;

impl Detector for Ipv6 {
    fn needs(&self) -> Needs {
        Needs {
            colons: 2,
            ..Needs::NOTHING
        }
    }

    fn find(&self, text: &str, _: &mut Buffers, found: &mut dyn FnMut(usize, usize)) {
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if !is_ipv6_byte(bytes[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < bytes.len() && is_ipv6_byte(bytes[i]) {
                i += 1;
            }
            let end = trim_punctuation(bytes, start, i);
            if is_ipv6(bytes, start, end) {
                found(start, end);
            }
        }
    }

    /// The compressed lowercase form (RFC 5952), so `2001:DB8:0:0::1` and `2001:db8::1` hash
    /// alike.
    fn canonical(&self, matched: &str, sink: &mut dyn FnMut(&[u8])) {
        match matched.parse::<Ipv6Addr>() {
            Ok(ip) => {
                let mut canonical = Canonical::new();
                // Writing into a fixed buffer cannot fail: the longest form fits.
                let _ = write!(canonical, "{ip}");
                sink(canonical.as_bytes());
            }
            Err(_) => sink(matched.as_bytes()),
        }
    }
}

/// Whether `byte` can appear in a textual IPv6 address.
fn is_ipv6_byte(byte: u8) -> bool {
    byte.is_ascii_hexdigit() || byte == b':' || byte == b'.'
}

/// The end of `bytes[start..end]` without a sentence's final `.` or `:`
/// (`from fe80::1.`, `fe80::1: refused`); `::` stays, since `fe80::` is an address.
fn trim_punctuation(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && bytes[end - 1] == b'.' {
        end -= 1;
    }
    if end >= start + 2 && bytes[end - 1] == b':' && bytes[end - 2] != b':' {
        end -= 1;
    }
    end
}

/// Whether `bytes[start..end]` is a standalone, meaningful IPv6 address.
fn is_ipv6(bytes: &[u8], start: usize, end: usize) -> bool {
    let candidate = &bytes[start..end];
    let colons = candidate.iter().filter(|&&b| b == b':').count();
    // A digit rules out hex-looking words (`dead::beef`, `add::face`) and `::` alone.
    let has_digit = candidate.iter().any(u8::is_ascii_digit);
    colons >= 2
        && has_digit
        && candidate.len() <= IPV6_MAX_LEN
        && !start.checked_sub(1).is_some_and(|i| is_word(bytes[i]))
        && !bytes.get(end).is_some_and(|&b| is_word(b))
        && std::str::from_utf8(candidate)
            .ok()
            .and_then(|text| text.parse::<Ipv6Addr>().ok())
            .is_some_and(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// A stack buffer holding an IPv6 address's text.
struct Canonical {
    bytes: [u8; IPV6_MAX_LEN],
    len: usize,
}

impl Canonical {
    fn new() -> Canonical {
        Canonical {
            bytes: [0; IPV6_MAX_LEN],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl std::fmt::Write for Canonical {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;

    #[test]
    fn finds_ipv4_addresses() {
        let positives = [
            ("10.1.2.3", "10.1.2.3"),
            ("client 203.0.113.42 connected", "203.0.113.42"),
            ("10.1.2.3:8080", "10.1.2.3"),
            ("http://192.168.1.20/admin", "192.168.1.20"),
            ("x-forwarded-for: 198.51.100.7, 127.0.0.1", "198.51.100.7"),
            ("from 255.255.255.254.", "255.255.255.254"),
        ];
        let negatives = [
            "127.0.0.1",
            "0.0.0.0:4317",
            "256.1.2.3",
            "10.01.2.3",
            "1.2.3",
            "1.2.3.4.5",
            "oid 1.3.6.1.4.1.2021",
            "v1.2.3.4",
            "build 10.4.1-beta",
            "2024-01-15T10:30:00.123Z",
            "ord-2024-000123",
            "1700000000.123",
            "localhost:8080",
        ];
        testing::check(&Ipv4, &positives, &negatives);
        assert_eq!(
            testing::matches(&Ipv4, "10.0.0.1 to 10.0.0.2"),
            ["10.0.0.1", "10.0.0.2"]
        );
    }

    #[test]
    fn finds_ipv6_addresses() {
        let positives = [
            ("2001:db8::1", "2001:db8::1"),
            (
                "peer [2001:db8:85a3::8a2e:370:7334]:443",
                "2001:db8:85a3::8a2e:370:7334",
            ),
            (
                "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
                "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            ),
            ("fe80::1%eth0", "fe80::1"),
            ("from fe80::1.", "fe80::1"),
            ("fe80::1: connection refused", "fe80::1"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("FE80::ABCD:1", "FE80::ABCD:1"),
        ];
        let negatives = [
            "::1",
            "::",
            "10:30:00",
            "2024-01-15T10:30:00Z",
            "00:1a:2b:3c:4d:5e",
            "dead::beef",
            "std::vec::Vec",
            "a::b::c",
            "1:2:3",
            "localhost:8080",
            "x2001:db8::1",
            "2001:db8::1g",
            "1:2:3:4:5:6:7:8:9",
            "ord-2024-000123",
            "v10.4.1-beta",
        ];
        testing::check(&Ipv6, &positives, &negatives);
    }

    #[test]
    fn hashes_every_spelling_alike() {
        assert_eq!(
            testing::canonical(&Ipv6, "2001:DB8:0:0:0:0:0:1"),
            "2001:db8::1"
        );
        assert_eq!(testing::canonical(&Ipv4, "10.1.2.3"), "10.1.2.3");
    }

    #[test]
    fn ipv4_candidates_are_what_the_pattern_matches() {
        let regex = regex::Regex::new(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}").unwrap();
        let by_regex = |text: &str| -> Vec<(usize, usize)> {
            regex
                .find_iter(text)
                .map(|m| (m.start(), m.end()))
                .collect()
        };
        let by_scanner =
            |text: &str| -> Vec<(usize, usize)> { ipv4_candidates(text.as_bytes()).collect() };
        for text in [
            "1.2.3.4567.8.9.1",
            "1234.5.6.7",
            "1.2.3",
            "1.2..3.4",
            "10.0.0.1 to 10.0.0.2",
            "9999.1.2.3.4",
            "1.2.3.4.5.6.7.8",
            "a1.2.3.4b",
            "1.2.3.",
            "",
        ] {
            assert_eq!(by_scanner(text), by_regex(text), "{text:?}");
        }
        // Generated texts of digit runs, dots and other bytes.
        const DIGITS: [&str; 7] = ["1", "25", "203", "4567", "0", "9", ""];
        const BETWEEN: [&str; 12] = [".", ".", ".", ".", ".", ".", ".", ".", "..", "a", " ", "é"];
        let mut next = testing::numbers_below(0x2545_f491_4f6c_dd1d);
        let mut with_candidates = 0;
        for _ in 0..40_000 {
            let text: String = (0..next(9))
                .map(|_| [DIGITS[next(DIGITS.len())], BETWEEN[next(BETWEEN.len())]].concat())
                .collect();
            let expected = by_regex(&text);
            assert_eq!(by_scanner(&text), expected, "{text:?}");
            with_candidates += usize::from(!expected.is_empty());
        }
        assert!(
            with_candidates > 4_000,
            "{with_candidates} texts with candidates"
        );
    }
}
