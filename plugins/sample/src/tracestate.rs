//! Reading and writing the OpenTelemetry sampling sub-keys of a W3C trace-state.
//!
//! A W3C `tracestate` is a comma-separated list of up to 32 `key=value` members, one per
//! vendor, the most recently updated first. OpenTelemetry owns the `ot` member, whose value is
//! a `;`-separated list of `key:value` sub-keys. Two of them concern sampling:
//!
//! - `th`: the rejection threshold the span was kept with, as 1 to 14 hex digits with trailing
//!   zeros removed (`th:0` means always sampled, `th:8` a probability of 1/2, `th:e666` about
//!   1/10). Parsing pads the digits back to 14 with trailing zeros.
//! - `rv`: an explicit 56-bit randomness value (exactly 14 hex digits) that replaces the trace
//!   id's randomness when present.
//!
//! Reading ([`read`]) borrows the span's trace-state and allocates nothing. Writing
//! ([`with_threshold`]) builds the new string once, when the processor records the edit.
//!
//! Reference: <https://opentelemetry.io/docs/specs/otel/trace/tracestate-handling/> and
//! <https://www.w3.org/TR/trace-context/#tracestate-header>.

use std::fmt;

use crate::ratio::{MAX_ADJUSTED_COUNT, Threshold};

/// The most list-members a W3C trace-state may hold.
pub const MAX_MEMBERS: usize = 32;

/// The longest `ot` value OpenTelemetry allows.
pub const MAX_OT_VALUE_LEN: usize = 256;

/// The number of hex digits in a 56-bit value.
const DIGITS: usize = 14;

/// What a span's trace-state says about sampling.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct OtSampling {
    /// The explicit randomness (`ot=rv:`), if present and valid.
    pub randomness: Option<u64>,
    /// The threshold an earlier stage kept the span with (`ot=th:`), if present and valid.
    pub threshold: Option<Threshold>,
}

/// Reads the `rv` and `th` sub-keys of the `ot` member of `trace_state`.
///
/// An `ot` value that is not well-formed (`key:value` sub-keys separated by `;`, lowercase
/// alphanumeric keys, values of `[A-Za-z0-9._-]`, at most 256 characters) is ignored as a whole,
/// and so is a malformed `th` or `rv` value.
///
/// ```
/// use weft_plugin_sample::tracestate::read;
///
/// let sampling = read("vendor=x,ot=th:8;rv:c0ffee00000001");
/// assert_eq!(sampling.threshold.map(|t| t.value()), Some(1 << 55));
/// assert_eq!(sampling.randomness, Some(0xc0ffee00000001));
/// assert_eq!(read(""), Default::default());
/// ```
pub fn read(trace_state: &str) -> OtSampling {
    let mut sampling = OtSampling::default();
    for (key, value) in ot_value(trace_state).into_iter().flat_map(ot_fields) {
        match key {
            "th" if sampling.threshold.is_none() => sampling.threshold = parse_th(value),
            "rv" if sampling.randomness.is_none() => sampling.randomness = parse_rv(value),
            _ => {}
        }
    }
    sampling
}

/// `trace_state` with its `ot` member's `th` sub-key set to `threshold`.
///
/// The `ot` member comes first (W3C puts the most recently updated member on the left) with
/// `th` as its first sub-key, followed by its other sub-keys in their original order (`rv`
/// included, which must travel with the span); the other vendors' members follow in their
/// original order. A malformed `ot` member is replaced. If the result would exceed 32 members
/// the right-most is dropped, as W3C prescribes.
///
/// Returns `None`, leaving the caller to keep the trace-state as it is, when the threshold is
/// [`Threshold::NEVER`] (no kept span has it) or the `ot` value would exceed 256 characters
/// (OpenTelemetry advises abandoning the update).
///
/// ```
/// use weft_plugin_sample::{ratio::Threshold, tracestate::with_threshold};
///
/// let tenth = Threshold::from_ratio(0.1);
/// assert_eq!(with_threshold("", tenth).unwrap(), "ot=th:e6666666666666");
/// assert_eq!(
///     with_threshold("congo=t61rcWkgMzE,ot=rv:c0ffee00000001;th:0", Threshold::from_ratio(0.5)).unwrap(),
///     "ot=th:8;rv:c0ffee00000001,congo=t61rcWkgMzE",
/// );
/// ```
pub fn with_threshold(trace_state: &str, threshold: Threshold) -> Option<String> {
    let th = ThValue::new(threshold)?;
    let mut out = String::with_capacity(trace_state.len() + "ot=th:;".len() + DIGITS);
    out.push_str("ot=th:");
    out.push_str(th.as_str());
    for (key, value) in ot_value(trace_state).into_iter().flat_map(ot_fields) {
        if key != "th" {
            out.push(';');
            out.push_str(key);
            out.push(':');
            out.push_str(value);
        }
    }
    if out.len() - "ot=".len() > MAX_OT_VALUE_LEN {
        return None;
    }
    let others = members(trace_state).filter(|member| member_key(member) != "ot");
    for member in others.take(MAX_MEMBERS - 1) {
        out.push(',');
        out.push_str(member);
    }
    Some(out)
}

/// A threshold encoded as a `th` value: 14 hex digits, trailing zeros removed (`0` for
/// [`Threshold::ALWAYS`]). Lives on the stack; [`ThValue::as_str`] borrows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThValue {
    digits: [u8; DIGITS],
    len: usize,
}

impl ThValue {
    /// The encoding of `threshold`, or `None` for [`Threshold::NEVER`], which needs 15 digits.
    pub fn new(threshold: Threshold) -> Option<ThValue> {
        let value = threshold.value();
        if value >= MAX_ADJUSTED_COUNT {
            return None;
        }
        let mut digits = [b'0'; DIGITS];
        for (position, digit) in digits.iter_mut().enumerate() {
            let nibble = (value >> (4 * (DIGITS - 1 - position))) & 0xf;
            *digit = b"0123456789abcdef"[nibble as usize];
        }
        // Keep at least one digit: the threshold 0 is written `0`.
        let len = digits
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(1, |last| last + 1);
        Some(ThValue { digits, len })
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.digits[..self.len]).unwrap_or("0")
    }
}

impl fmt::Display for ThValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a `th` value: 1 to 14 hex digits, implicitly padded with trailing zeros.
pub fn parse_th(value: &str) -> Option<Threshold> {
    if value.is_empty() || value.len() > DIGITS {
        return None;
    }
    let padding = 4 * (DIGITS - value.len()) as u32;
    Threshold::new(parse_hex(value)? << padding)
}

/// Parses an `rv` value: exactly 14 hex digits.
pub fn parse_rv(value: &str) -> Option<u64> {
    if value.len() == DIGITS {
        parse_hex(value)
    } else {
        None
    }
}

/// Parses up to 16 hex digits, either case; no sign, prefix or separator.
fn parse_hex(value: &str) -> Option<u64> {
    value.bytes().try_fold(0u64, |acc, byte| {
        let nibble = (byte as char).to_digit(16)?;
        Some(acc << 4 | u64::from(nibble))
    })
}

/// The non-empty list-members of a W3C trace-state, with surrounding spaces and tabs removed.
fn members(trace_state: &str) -> impl Iterator<Item = &str> {
    trace_state
        .split(',')
        .map(|member| member.trim_matches([' ', '\t']))
        .filter(|member| !member.is_empty())
}

/// The key of a list-member (`vendor` in `vendor=value`).
fn member_key(member: &str) -> &str {
    member.split_once('=').map_or(member, |(key, _)| key)
}

/// The value of the first `ot` member, if any.
fn ot_value(trace_state: &str) -> Option<&str> {
    members(trace_state).find_map(|member| member.strip_prefix("ot="))
}

/// The `key:value` sub-keys of an `ot` value; none at all if the value is malformed.
fn ot_fields(value: &str) -> impl Iterator<Item = (&str, &str)> {
    let valid = value.len() <= MAX_OT_VALUE_LEN && value.split(';').all(is_valid_field);
    value
        .split(';')
        .filter(move |_| valid)
        .filter_map(|field| field.split_once(':'))
}

/// Whether an `ot` sub-key is `key:value` with `key = lcalpha *(lcalpha / DIGIT)` and
/// `value = *(ALPHA / DIGIT / "." / "_" / "-")`.
fn is_valid_field(field: &str) -> bool {
    let Some((key, value)) = field.split_once(':') else {
        return false;
    };
    key.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(value: u64) -> Threshold {
        Threshold::new(value).unwrap()
    }

    #[test]
    fn encodes_thresholds_as_up_to_14_digits_without_trailing_zeros() {
        let encode = |value| ThValue::new(th(value)).unwrap().to_string();
        assert_eq!(encode(0), "0");
        assert_eq!(encode(1 << 55), "8");
        assert_eq!(encode(0x00c0_0000_0000_0000), "c");
        assert_eq!(encode(0x00fd_70a4_0000_0000), "fd70a4");
        assert_eq!(encode(0x00e6_6666_6666_6666), "e6666666666666");
        // Leading zeros are significant: they are kept.
        assert_eq!(encode(0x0000_8000_0000_0000), "008");
        assert_eq!(encode(1), "00000000000001");
        assert_eq!(ThValue::new(Threshold::NEVER), None);
    }

    #[test]
    fn parses_th_values() {
        assert_eq!(parse_th("0"), Some(Threshold::ALWAYS));
        assert_eq!(parse_th("8"), Some(th(1 << 55)));
        assert_eq!(parse_th("08"), Some(th(1 << 51)));
        assert_eq!(parse_th("FD70A4"), Some(th(0x00fd_70a4_0000_0000)));
        assert_eq!(parse_th("ffffffffffffff"), Some(th(MAX_ADJUSTED_COUNT - 1)));
        for bad in ["", "fffffffffffffff", "0x8", "g", "+8", " 8"] {
            assert_eq!(parse_th(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encoding_round_trips() {
        for ratio in [1.0, 0.5, 0.1, 0.01, 1e-6, 0.999_999] {
            let threshold = Threshold::from_ratio(ratio);
            let encoded = ThValue::new(threshold).unwrap();
            assert_eq!(parse_th(encoded.as_str()), Some(threshold), "{ratio}");
        }
    }

    #[test]
    fn parses_rv_values() {
        assert_eq!(parse_rv("00000000000001"), Some(1));
        assert_eq!(parse_rv("ffffffffffffff"), Some(MAX_ADJUSTED_COUNT - 1));
        assert_eq!(parse_rv("fffffffffffff"), None);
        assert_eq!(parse_rv("fffffffffffffff"), None);
    }

    #[test]
    fn reads_the_ot_member_among_others() {
        let sampling = read(" a=1 ,\tot=p:8;th:c;rv:00000000000010 , b=2");
        assert_eq!(sampling.threshold, Some(th(0x00c0_0000_0000_0000)));
        assert_eq!(sampling.randomness, Some(0x10));
        // Other vendors' `th` is not ours.
        assert_eq!(read("vendor=th:8"), OtSampling::default());
        assert_eq!(read("xot=th:8"), OtSampling::default());
    }

    #[test]
    fn ignores_a_malformed_ot_value_as_a_whole() {
        for bad in [
            "ot=th:8;bad",
            "ot=th:8;X:1",
            "ot=th:8;k:a b",
            "ot=",
            "ot=th:8;",
        ] {
            assert_eq!(read(bad), OtSampling::default(), "{bad:?}");
        }
        // A malformed sub-key value alone is ignored; its neighbours still count.
        let sampling = read("ot=th:xyz;rv:00000000000001");
        assert_eq!(sampling.threshold, None);
        assert_eq!(sampling.randomness, Some(1));
    }

    #[test]
    fn writes_a_fresh_ot_member_first() {
        let half = th(1 << 55);
        assert_eq!(with_threshold("", half).unwrap(), "ot=th:8");
        assert_eq!(
            with_threshold("rojo=00f067aa0ba902b7", half).unwrap(),
            "ot=th:8,rojo=00f067aa0ba902b7"
        );
    }

    #[test]
    fn replaces_th_and_keeps_other_sub_keys_and_members_in_order() {
        let half = th(1 << 55);
        assert_eq!(
            with_threshold("a=1, ot=rv:00000000000010;th:c;x:y ,b=2", half).unwrap(),
            "ot=th:8;rv:00000000000010;x:y,a=1,b=2"
        );
        // A duplicate `ot` member (invalid W3C) does not survive.
        assert_eq!(with_threshold("ot=th:c,ot=th:4", half).unwrap(), "ot=th:8");
    }

    #[test]
    fn replaces_a_malformed_ot_member() {
        assert_eq!(
            with_threshold("a=1,ot=garbage,b=2", th(1 << 55)).unwrap(),
            "ot=th:8,a=1,b=2"
        );
    }

    #[test]
    fn drops_the_rightmost_member_beyond_32() {
        let full: Vec<String> = (0..32).map(|i| format!("v{i}=x")).collect();
        let written = with_threshold(&full.join(","), th(1 << 55)).unwrap();
        let members: Vec<&str> = written.split(',').collect();
        assert_eq!(members.len(), MAX_MEMBERS);
        assert_eq!(members[0], "ot=th:8");
        assert_eq!(members[31], "v30=x");
    }

    #[test]
    fn refuses_to_grow_ot_past_256_characters() {
        let long = format!("ot=k:{}", "a".repeat(MAX_OT_VALUE_LEN - 2));
        assert_eq!(read(&long), OtSampling::default());
        assert_eq!(with_threshold(&long, th(1 << 55)), None);
        let almost = format!("ot=k:{}", "a".repeat(MAX_OT_VALUE_LEN - 2 - ";th:8".len()));
        assert!(with_threshold(&almost, th(1 << 55)).is_some());
        assert_eq!(with_threshold("", Threshold::NEVER), None);
    }
}
