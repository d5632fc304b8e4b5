//! Reading a processor's configuration.

use serde::de::DeserializeOwned;

/// Parses the JSON config the host passes to `init` into `T`.
///
/// The error names the field and what was wrong with it, ready to return from
/// [`Processor::init`](crate::Processor::init):
///
/// ```
/// #[derive(serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config { ratio: f64 }
///
/// let config: Config = weft_sdk::parse_config(r#"{"ratio": 0.25}"#).unwrap();
/// assert_eq!(config.ratio, 0.25);
/// let error = weft_sdk::parse_config::<Config>(r#"{"ratio": "high"}"#).unwrap_err();
/// assert!(error.contains("ratio"), "{error}");
/// ```
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    serde_json::from_str(json).map_err(|error| format!("invalid config: {error}"))
}
