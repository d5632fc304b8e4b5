//! The enrichment processor's configuration.

use serde::Deserialize;
use weft_sdk::Value;

/// The whole `config` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Actions, applied to every span in order; later actions see earlier ones' results.
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
}

/// What an action does to its `key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Set `value` only where `key` is absent.
    Insert,
    /// Set `value` only where `key` is present.
    Update,
    /// Set `value` whether or not `key` is present.
    Upsert,
    /// Remove `key`.
    Delete,
    /// Copy the value of `from_attribute` (or resource attribute `from_resource`) to `key`.
    Copy,
    /// Move the value of `from_attribute` to `key`.
    Rename,
    /// Set `key` to the normalised form of the route or path in `from_attribute`
    /// (default `url.path`): `/users/123/orders/9f3c2a1b` becomes `/users/{id}/orders/{id}`.
    NormalizeRoute,
    /// Set `key` to the first capture group (or the group named `value`) of `pattern`
    /// matched against `from_attribute`.
    Extract,
}

/// A scalar attribute value as written in config.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// A string.
    Str(String),
}

impl From<&ConfigValue> for Value {
    fn from(value: &ConfigValue) -> Self {
        match value {
            ConfigValue::Bool(b) => Value::Boolean(*b),
            ConfigValue::Int(i) => Value::Int(*i),
            ConfigValue::Double(d) => Value::Double(*d),
            ConfigValue::Str(s) => Value::Str(s.clone()),
        }
    }
}

/// One `actions` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// What to do.
    pub action: ActionKind,
    /// The attribute written (or deleted).
    pub key: String,
    /// The value for `insert`, `update` and `upsert`.
    pub value: Option<ConfigValue>,
    /// The span attribute read by `copy`, `rename`, `normalize_route` and `extract`.
    pub from_attribute: Option<String>,
    /// The resource attribute read by `copy` (instead of `from_attribute`).
    pub from_resource: Option<String>,
    /// The regular expression of `extract`.
    pub pattern: Option<String>,
    /// Only act on spans that match.
    #[serde(default)]
    pub when: Condition,
}

/// Conditions on a span; every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The resource's `service.name` equals this.
    pub service: Option<String>,
    /// The span kind: `internal`, `server`, `client`, `producer`, `consumer` or `unspecified`.
    pub kind: Option<String>,
    /// The span name equals this; a trailing `*` matches any suffix.
    pub span_name: Option<String>,
    /// The span attribute `key` has the string value `value` (or any value when `value` is absent).
    pub attribute: Option<AttributeCondition>,
}

/// `when.attribute`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeCondition {
    /// The attribute key.
    pub key: String,
    /// The expected string value; absent means "the key is present".
    pub value: Option<String>,
}
