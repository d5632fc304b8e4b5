//! Weft reference processor: attribute enrichment.
//!
//! Sets static attributes on every span (upsert: an existing value is replaced).
//!
//! ```toml
//! [[processors]]
//! name = "enrich"
//! plugin = "builtin:enrich"
//! config = { set = { "deployment.environment" = "prod" } }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use weft_sdk::{Batch, Edits, Interest, Processor, Value};

/// A scalar attribute value as written in config.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum ConfigValue {
    Bool(bool),
    Int(i64),
    Double(f64),
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Attributes set on every span.
    #[serde(default)]
    set: BTreeMap<String, ConfigValue>,
}

/// The enrichment processor.
pub struct Enrich {
    set: Vec<(String, Value)>,
}

impl Processor for Enrich {
    fn init(config: &str) -> Result<Self, String> {
        let config: Config = weft_sdk::parse_config(config)?;
        let set = config
            .set
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v)))
            .collect();
        Ok(Enrich { set })
    }

    fn interest(&self) -> Interest {
        Interest::nothing()
    }

    fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String> {
        for index in 0..batch.spans.len() {
            for (key, value) in &self.set {
                edits.set_span_attribute(index, key.as_str(), value.clone());
            }
        }
        Ok(())
    }
}

weft_sdk::export_processor!(Enrich);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::testing::{BatchBuilder, run};
    use weft_sdk::{Edit, Target};

    #[test]
    fn sets_configured_attributes_on_every_span() {
        let mut enrich = Enrich::init(r#"{"set": {"env": "prod", "tier": 2}}"#).unwrap();
        let batch = BatchBuilder::new().span("a").span("b").build();
        let edits = run(&mut enrich, &batch).unwrap();
        assert_eq!(edits.len(), 4);
        assert!(edits.contains(&Edit::SetAttribute((
            Target::Span(1),
            "tier".into(),
            Value::Int(2)
        ))));
    }

    #[test]
    fn rejects_unknown_config_keys() {
        let error = Enrich::init(r#"{"sett": {}}"#).err().unwrap();
        assert!(error.contains("sett"), "{error}");
    }
}
