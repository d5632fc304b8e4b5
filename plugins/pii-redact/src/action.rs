//! What a rule does with what it matched: mask it, hash it, or drop the attribute.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use weft_sdk::ValueRef;

use crate::config::Action;

/// What to do with one value.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome<'r> {
    /// Leave it as it is.
    Keep,
    /// Replace it with this text.
    Replace(String),
    /// Remove the attribute, because of this rule. Span and event names and status messages cannot be
    /// removed; they are replaced by the rule's mask instead.
    Drop(&'r Rule),
}

/// A rule's action, ready to apply.
pub(crate) struct Rule {
    /// The text that replaces a match under `mask` (`[REDACTED:email]` or the configured
    /// `replacement`), and a whole span or event name or status message under `drop`.
    pub(crate) mask: String,
    /// What the rule does.
    treatment: Treatment,
}

/// The compiled form of [`Action`].
enum Treatment {
    Mask,
    Hash(Hasher),
    Drop,
}

impl Rule {
    /// Compiles `action`. `hasher` is required for [`Action::Hash`]; `path` names the config
    /// field in the error when it is missing.
    pub(crate) fn new(
        action: Action,
        mask: String,
        hasher: Option<&Hasher>,
        path: &str,
    ) -> Result<Rule, String> {
        let treatment = match action {
            Action::Mask => Treatment::Mask,
            Action::Drop => Treatment::Drop,
            Action::Hash => Treatment::Hash(hasher.cloned().ok_or_else(|| {
                format!("invalid config at `{path}`: action \"hash\" needs `hash_key` to be set")
            })?),
        };
        Ok(Rule { mask, treatment })
    }

    /// Whether a match removes the whole attribute.
    pub(crate) fn drops(&self) -> bool {
        matches!(self.treatment, Treatment::Drop)
    }

    /// Appends the replacement for one match to `out`; `canonical` feeds the hash the match's
    /// canonical form. Not called for `drop` rules, which remove the value instead.
    pub(crate) fn write_replacement(
        &self,
        canonical: impl FnOnce(&mut dyn FnMut(&[u8])),
        out: &mut String,
    ) {
        match &self.treatment {
            Treatment::Hash(hasher) => hasher.write_marker(canonical, out),
            Treatment::Mask | Treatment::Drop => out.push_str(&self.mask),
        }
    }

    /// The outcome for a value the rule covers whole (a denied key, or a key outside the allow
    /// list). Scalars hash their text form; arrays, maps and empty values are masked.
    pub(crate) fn whole<'r>(&'r self, value: ValueRef<'_>) -> Outcome<'r> {
        let Treatment::Hash(hasher) = &self.treatment else {
            return match self.treatment {
                Treatment::Drop => Outcome::Drop(self),
                _ => Outcome::Replace(self.mask.clone()),
            };
        };
        let text = match value {
            ValueRef::Str(s) => return Outcome::Replace(hasher.marker(s.as_bytes())),
            ValueRef::Bytes(b) => return Outcome::Replace(hasher.marker(b)),
            ValueRef::Int(i) => i.to_string(),
            ValueRef::Double(d) => d.to_string(),
            ValueRef::Bool(b) => b.to_string(),
            ValueRef::Empty | ValueRef::Nested(..) => return Outcome::Replace(self.mask.clone()),
        };
        Outcome::Replace(hasher.marker(text.as_bytes()))
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.treatment {
            Treatment::Mask => "mask",
            Treatment::Hash(_) => "hash",
            Treatment::Drop => "drop",
        };
        f.debug_struct("Rule")
            .field("action", &action)
            .field("mask", &self.mask)
            .finish()
    }
}

impl PartialEq for Rule {
    /// Rules compare by identity: two rules are the same rule.
    fn eq(&self, other: &Rule) -> bool {
        std::ptr::eq(self, other)
    }
}

/// Keyed hashing for the `hash` action: HMAC-SHA256 under the configured `hash_key`, written
/// as `[HASH:<hex>]`.
///
/// The same input always gives the same marker, so redacted values still group and join
/// (every span of one user carries the same `[HASH:...]`), while without the key no one can
/// test guesses against the marker, as they could against a plain SHA-256 of an email.
#[derive(Clone)]
pub(crate) struct Hasher {
    /// The HMAC, already keyed; cloned per value, which copies its state without allocating.
    mac: Hmac<Sha256>,
    /// How many hex characters of the digest to keep.
    hex_len: usize,
}

impl Hasher {
    /// A hasher keyed with `key` whose markers keep `hex_len` hex characters (at most 64).
    pub(crate) fn new(key: &[u8], hex_len: usize) -> Result<Hasher, String> {
        let mac = Hmac::<Sha256>::new_from_slice(key)
            .map_err(|error| format!("invalid config at `hash_key`: {error}"))?;
        Ok(Hasher {
            mac,
            hex_len: hex_len.min(64),
        })
    }

    /// The marker for `input`.
    pub(crate) fn marker(&self, input: &[u8]) -> String {
        let mut out = String::new();
        self.write_marker(|sink| sink(input), &mut out);
        out
    }

    /// Appends the marker for the bytes `feed` produces to `out`.
    pub(crate) fn write_marker(&self, feed: impl FnOnce(&mut dyn FnMut(&[u8])), out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut mac = self.mac.clone();
        feed(&mut |bytes| mac.update(bytes));
        let digest = mac.finalize().into_bytes();
        out.reserve(self.hex_len + 7);
        out.push_str("[HASH:");
        let nibbles = digest.iter().flat_map(|byte| [byte >> 4, byte & 0x0f]);
        for nibble in nibbles.take(self.hex_len) {
            out.push(char::from(HEX[usize::from(nibble)]));
        }
        out.push(']');
    }
}

impl fmt::Debug for Hasher {
    /// Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("key", &"<secret>")
            .field("hex_len", &self.hex_len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher() -> Hasher {
        Hasher::new(b"0123456789abcdef0123456789abcdef", 16).unwrap()
    }

    #[test]
    fn hash_marker_is_keyed_stable_and_truncated() {
        let marker = hasher().marker(b"bob@example.com");
        assert_eq!(marker.len(), "[HASH:]".len() + 16, "{marker}");
        assert!(marker.starts_with("[HASH:") && marker.ends_with(']'));
        assert_eq!(marker, hasher().marker(b"bob@example.com"));
        assert_ne!(marker, hasher().marker(b"ann@example.com"));
        let other_key = Hasher::new(b"another key, also 32 bytes long.", 16).unwrap();
        assert_ne!(marker, other_key.marker(b"bob@example.com"));
    }

    #[test]
    fn hash_marker_matches_hmac_sha256() {
        // RFC 4231, test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let hasher = Hasher::new(b"Jefe", 64).unwrap();
        assert_eq!(
            hasher.marker(b"what do ya want for nothing?"),
            "[HASH:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843]"
        );
    }

    #[test]
    fn whole_values_follow_the_action() {
        let hasher = hasher();
        let mask = Rule::new(Action::Mask, "[M]".into(), None, "x").unwrap();
        let drop = Rule::new(Action::Drop, "[D]".into(), None, "x").unwrap();
        let hash = Rule::new(Action::Hash, "[H]".into(), Some(&hasher), "x").unwrap();
        assert_eq!(mask.whole(ValueRef::Int(7)), Outcome::Replace("[M]".into()));
        assert_eq!(drop.whole(ValueRef::Str("x")), Outcome::Drop(&drop));
        assert_eq!(
            hash.whole(ValueRef::Int(1234)),
            Outcome::Replace(hasher.marker(b"1234"))
        );
        assert_eq!(
            hash.whole(ValueRef::Str("1234")),
            Outcome::Replace(hasher.marker(b"1234"))
        );
        assert_eq!(hash.whole(ValueRef::Empty), Outcome::Replace("[H]".into()));
    }

    #[test]
    fn hash_without_a_key_is_refused() {
        let error =
            Rule::new(Action::Hash, String::new(), None, "detectors.email.action").unwrap_err();
        assert_eq!(
            error,
            "invalid config at `detectors.email.action`: action \"hash\" needs `hash_key` to be set"
        );
    }
}
