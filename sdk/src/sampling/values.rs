//! Validated config values that sampling rules are written with: probabilities, patterns and
//! attribute keys. Each deserializes with serde and refuses bad input with a message that says
//! what a good value looks like.

use serde::Deserialize;

use super::ratio::MIN_PROBABILITY;

/// A sampling probability: `0` (keep nothing), or from `2^-56` to `1`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "f64")]
pub struct Ratio(f64);

impl Ratio {
    /// Keep every span.
    pub const ONE: Ratio = Ratio(1.0);
    /// Keep no span.
    pub const ZERO: Ratio = Ratio(0.0);

    /// The probability.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Ratio {
    type Error = String;

    fn try_from(value: f64) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&value) {
            Err(format!(
                "a ratio is a probability from 0 to 1 (0.25 keeps a quarter), got {value}"
            ))
        } else if value > 0.0 && value < MIN_PROBABILITY {
            Err(format!(
                "{value} is below the smallest sampling probability, 2^-56 \
                 (about 1.4e-17); use 0 to keep nothing"
            ))
        } else {
            Ok(Ratio(value))
        }
    }
}

/// A non-empty attribute key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AttributeKey(String);

impl AttributeKey {
    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AttributeKey {
    type Error = String;

    fn try_from(key: String) -> Result<Self, String> {
        if key.is_empty() {
            Err("an attribute key must not be empty".to_owned())
        } else {
            Ok(AttributeKey(key))
        }
    }
}

/// A string pattern: an exact value, or a prefix when written with a trailing `*`.
///
/// ```
/// use weft_sdk::sampling::Pattern;
///
/// let api = Pattern::try_from("/api/*".to_owned()).unwrap();
/// assert!(api.matches("/api/users"));
/// assert!(!api.matches("/apis"));
/// assert!(Pattern::try_from("/a/*/b".to_owned()).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Pattern {
    /// Matches this value only.
    Exact(String),
    /// Matches every value that starts with this (`*` alone matches any value).
    Prefix(String),
}

impl Pattern {
    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(exact) => value == exact,
            Pattern::Prefix(prefix) => value.starts_with(prefix.as_str()),
        }
    }
}

impl TryFrom<String> for Pattern {
    type Error = String;

    fn try_from(mut pattern: String) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("a pattern must not be empty (`*` matches any value)".to_owned());
        }
        match pattern.find('*') {
            None => Ok(Pattern::Exact(pattern)),
            Some(star) if star == pattern.len() - 1 => {
                pattern.pop();
                Ok(Pattern::Prefix(pattern))
            }
            Some(_) => Err(format!(
                "`*` may only end a pattern, for a prefix match such as \"/api/*\"; got {pattern:?}"
            )),
        }
    }
}
