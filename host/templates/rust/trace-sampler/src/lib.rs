//! {{name}}: a Weft tail-sampling policy.
//!
//! Keeps a whole trace when one of its spans failed or when it lasted at least
//! `slower_than_ms`; drops every other trace. The host hands `decide` complete traces (all
//! their spans, with names, kinds, times and status); ask in `interest` for attributes too.
//!
//! Config (the policy's `config` table in weft.toml):
//!
//! ```toml
//! config = { slower_than_ms = 1000 }
//! ```

use serde::Deserialize;
use weft_sdk::{Decision, Trace, TracePolicy};

/// The policy's settings, from its `config` table (unknown keys are refused).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Keep traces lasting at least this long, in milliseconds.
    pub slower_than_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            slower_than_ms: 1000,
        }
    }
}

/// The policy: one per instance, built by `init` from the config.
pub struct Plugin {
    config: Config,
}

impl TracePolicy for Plugin {
    fn init(config: &str) -> Result<Self, String> {
        Ok(Plugin {
            config: weft_sdk::parse_config(config)?,
        })
    }

    fn decide(&mut self, trace: &Trace<'_>, _now_unix_nano: u64) -> Result<Decision, String> {
        if trace.has_error() {
            Ok(Decision::keep("error"))
        } else if trace.duration_nanos() >= self.config.slower_than_ms * 1_000_000 {
            Ok(Decision::keep("slow"))
        } else {
            Ok(Decision::drop(""))
        }
    }
}

#[cfg(target_arch = "wasm32")]
weft_sdk::export_trace_policy!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::StatusCode;
    use weft_sdk::testing::{BatchBuilder, decide};

    fn ms(millis: u64) -> u64 {
        millis * 1_000_000
    }

    #[test]
    fn keeps_failed_and_slow_traces_and_drops_the_rest() {
        let batch = BatchBuilder::new()
            .span_with("POST /checkout", |s| s.status_code = StatusCode::Error)
            .span_with("GET /search", |s| s.end_time_unix_nano = s.start_time_unix_nano + ms(1500))
            .span_with("GET /cart", |s| s.end_time_unix_nano = s.start_time_unix_nano + ms(20))
            .build();
        let mut plugin = Plugin::init("{}").unwrap();
        let decisions = decide(&mut plugin, &batch, 0).unwrap();
        assert_eq!(
            decisions,
            vec![Decision::keep("error"), Decision::keep("slow"), Decision::drop("")]
        );
    }

    #[test]
    fn a_misspelt_key_is_refused() {
        let error = Plugin::init(r#"{"slower_than": 5}"#).err().unwrap();
        assert!(error.contains("slower_than"), "{error}");
    }
}
