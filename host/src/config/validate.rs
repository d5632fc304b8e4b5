//! Parsing and checking a configuration, collecting every error with its path.

use std::collections::HashSet;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::error::{ConfigError, ConfigErrors};
use super::types::*;

/// Parses `text`, deserialising each section on its own so one mistake does not hide the next.
pub(super) fn parse(
    text: &str,
    base_dir: &Path,
) -> Result<(Config, super::SecretValues), ConfigErrors> {
    let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        ConfigErrors::single(ConfigError::new("", format!("invalid TOML: {e}")))
    })?;
    let mut errors = Vec::new();
    let secrets = super::secrets::expand(&mut table, base_dir, &mut errors);
    let mut config = Config::default();
    // Sections that failed to parse: checks that would only repeat their error are skipped.
    let mut broken = HashSet::new();
    for (key, value) in table {
        match key.as_str() {
            "receivers" => {
                match section(&mut errors, "receivers", value) {
                    Some(v) => config.receivers = v,
                    None => {
                        broken.insert("receivers");
                    }
                }
            }
            "pipeline" => {
                if let Some(v) = section(&mut errors, "pipeline", value) {
                    config.pipeline = v;
                }
            }
            "processors" => match value {
                toml::Value::Array(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let path = match item.get("name").and_then(|n| n.as_str()) {
                            Some(name) => format!("processors[{i}] ({name:?})"),
                            None => format!("processors[{i}]"),
                        };
                        if let Some(p) = section(&mut errors, &path, item) {
                            config.processors.push(p);
                        }
                    }
                }
                _ => errors.push(ConfigError::new("processors", "expected an array of tables ([[processors]])")),
            },
            "reload" => {
                if let Some(v) = section(&mut errors, "reload", value) {
                    config.reload = v;
                }
            }
            "admin" => {
                if let Some(v) = section(&mut errors, "admin", value) {
                    config.admin = v;
                }
            }
            "exporters" => match value {
                toml::Value::Table(exporters) => {
                    for (name, item) in exporters {
                        match section(&mut errors, &format!("exporters.{name}"), item) {
                            Some(e) => {
                                config.exporters.insert(name, e);
                            }
                            None => {
                                broken.insert("exporters");
                            }
                        }
                    }
                }
                _ => errors.push(ConfigError::new("exporters", "expected a table of exporters ([exporters.NAME])")),
            },
            other => errors.push(ConfigError::new(
                other,
                "unknown section, expected one of `receivers`, `pipeline`, `processors`, `exporters`, `reload`, `admin`",
            )),
        }
    }
    let mut secrets = secrets;
    super::directory::expand(&mut config, base_dir, &mut secrets, &mut errors);
    super::checks::check(&config, base_dir, &broken, &mut errors);
    if errors.is_empty() {
        Ok((config, secrets))
    } else {
        // A message may quote a value: never one a reference produced.
        for error in &mut errors {
            error.message = secrets.scrub(&error.message);
        }
        Err(ConfigErrors(errors))
    }
}

pub(super) fn section<T: DeserializeOwned>(
    errors: &mut Vec<ConfigError>,
    path: &str,
    value: toml::Value,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(value) {
        Ok(v) => Some(v),
        Err(e) => {
            let inner = e.path().to_string();
            let full = if inner.is_empty() || inner == "." {
                path.to_owned()
            } else {
                format!("{path}.{inner}")
            };
            errors.push(ConfigError::new(
                full,
                e.into_inner().message().trim().to_owned(),
            ));
            None
        }
    }
}

/// Where a processor's plugin file is, given the config's directory.
pub fn plugin_path(config: &Config, base_dir: &Path, plugin: &str) -> std::path::PathBuf {
    let file = Path::new(plugin);
    if file.is_absolute() {
        return file.to_path_buf();
    }
    match &config.pipeline.plugin_dir {
        Some(dir) if dir.is_absolute() => dir.join(file),
        Some(dir) => base_dir.join(dir).join(file),
        None => base_dir.join(file),
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
