//! Helpers for attribute lists and values.

use crate::{Attribute, Value};

/// Lookups on a list of attributes.
pub trait AttributesExt {
    /// The value of `key`, if present.
    fn attr(&self, key: &str) -> Option<&Value>;
    /// The string value of `key`, if present and a string.
    fn attr_str(&self, key: &str) -> Option<&str>;
}

impl AttributesExt for [Attribute] {
    fn attr(&self, key: &str) -> Option<&Value> {
        self.iter().find(|a| a.key == key).map(|a| &a.value)
    }

    fn attr_str(&self, key: &str) -> Option<&str> {
        match self.attr(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<f64> for Value {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}
