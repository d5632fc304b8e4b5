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
/// assert_eq!(error, "invalid config at `ratio`: invalid type: string \"high\", expected f64");
/// ```
pub fn parse_config<T: DeserializeOwned>(json: &str) -> Result<T, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let deserializer = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        // serde_json ends its messages with " at line 1 column N", a position in JSON the
        // user never wrote (the host made it from their TOML): the path says where instead.
        let message = error.inner().to_string();
        let message = match message.rfind(" at line ") {
            Some(at) => &message[..at],
            None => &message,
        };
        if path.is_empty() || path == "." {
            format!("invalid config: {message}")
        } else {
            format!("invalid config at `{path}`: {message}")
        }
    })
}
