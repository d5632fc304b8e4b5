//! Reading a processor's configuration.

use serde::de::DeserializeOwned;

/// Parses the JSON config the host passes to `init` into `T`.
///
/// The error names the field and what was wrong with it, ready to return from
/// [`Processor::init`](crate::Processor::init):
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct Config { ratio: f64 }
///
/// let config: Config = weft_sdk::parse_config(r#"{"ratio": 0.25}"#).unwrap();
/// assert_eq!(config.ratio, 0.25);
/// let error = weft_sdk::parse_config::<Config>(r#"{"ratio": "high"}"#).unwrap_err();
/// assert!(error.starts_with("invalid config at `ratio`: invalid type"), "{error}");
/// ```
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        if path.is_empty() || path == "." {
            format!("invalid config: {}", error.inner())
        } else {
            format!("invalid config at `{path}`: {}", error.inner())
        }
    })
}
