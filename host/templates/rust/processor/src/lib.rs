//! {{name}}: a Weft span processor.
//!
//! Drops spans whose name is one of `drop_names` (health checks by default) and passes every
//! other span through untouched. Make it yours: `interest` says what the host sends, and
//! `process` records edits (set or remove attributes, rename, drop); everything a processor
//! does not edit passes through byte for byte.
//!
//! Config (the processor's `config` table in weft.toml):
//!
//! ```toml
//! config = { drop_names = ["GET /healthz", "GET /readyz"] }
//! ```

use serde::Deserialize;
use weft_sdk::{Batch, Edits, Interest, Processor, SpanFields};

/// The processor's settings, from its `config` table (unknown keys are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Span names to drop, compared exactly.
    pub drop_names: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            drop_names: vec!["GET /healthz".into(), "GET /readyz".into()],
        }
    }
}

/// The processor: one per instance, built by `init` from the config.
pub struct Plugin {
    config: Config,
}

impl Processor for Plugin {
    fn init(config: &str) -> Result<Self, String> {
        Ok(Plugin {
            config: weft_sdk::parse_config(config)?,
        })
    }

    fn interest(&self) -> Interest {
        // Span names only: no attribute crosses into the plugin.
        Interest {
            span_fields: SpanFields::NAME,
            ..Interest::nothing()
        }
    }

    fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String> {
        for (index, span) in batch.spans.iter().enumerate() {
            let name = batch.text(span.name);
            if self.config.drop_names.iter().any(|drop| drop == name) {
                edits.drop_span(index);
            }
        }
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
weft_sdk::export_processor!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::Edit;
    use weft_sdk::testing::{BatchBuilder, run};

    #[test]
    fn drops_health_checks_and_keeps_the_rest() {
        let batch = BatchBuilder::new()
            .span("GET /healthz")
            .span("GET /cart")
            .span("GET /readyz")
            .build();
        let mut plugin = Plugin::init("{}").unwrap();
        assert_eq!(
            run(&mut plugin, &batch).unwrap(),
            vec![Edit::DropSpan(0), Edit::DropSpan(2)]
        );
    }

    #[test]
    fn the_names_come_from_the_config() {
        let batch = BatchBuilder::new().span("GET /healthz").span("ping").build();
        let mut plugin = Plugin::init(r#"{"drop_names": ["ping"]}"#).unwrap();
        assert_eq!(run(&mut plugin, &batch).unwrap(), vec![Edit::DropSpan(1)]);
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let error = Plugin::init(r#"{"drop_name": ["ping"]}"#).err().unwrap();
        assert!(error.contains("drop_name"), "{error}");
    }
}
