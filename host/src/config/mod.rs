//! The `weft.toml` configuration: types, defaults, loading and validation.
//!
//! Loading reports every problem at once, each with its path in the file
//! (`processors[1].on_error: unknown variant ...`), before anything starts.

mod checks;
mod directory;
mod error;
mod exporters;
mod loadbalancing;
mod persistence;
mod processors;
mod registries;
mod secrets;
mod security;
mod trust;
mod types;
mod validate;

pub use crate::tls::{ClientTlsConfig, ServerTlsConfig, TlsVersion};
pub use error::{ConfigError, ConfigErrors};
pub use exporters::*;
pub use loadbalancing::*;
pub use persistence::PersistenceConfig;
pub use processors::*;
pub use registries::RegistryConfig;
pub use secrets::SecretValues;
pub use security::*;
pub use trust::TrustConfig;
pub use types::*;
pub use validate::plugin_path;

use std::path::{Path, PathBuf};

/// The configuration `weft run` uses when no `--config` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// A parsed and validated configuration, with the directory relative paths resolve against.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// Where relative paths (plugins, output files) are resolved from.
    pub base_dir: PathBuf,
    /// Where the configuration came from, for messages.
    pub origin: String,
    /// The file it was read from, if any (watched for changes).
    pub path: Option<PathBuf>,
    /// The values `${env:}` and `${file:}` references produced: kept out of messages.
    pub secrets: SecretValues,
}

impl LoadedConfig {
    /// Reads and validates the file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors::single(ConfigError::new(
                "",
                format!("cannot read {}: {e}", path.display()),
            ))
        })?;
        // Absolute, so the file watcher's event paths compare equal to the configured ones.
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut loaded = Self::from_str(&text, base_dir, path.display().to_string())?;
        loaded.path = Some(absolute);
        Ok(loaded)
    }

    /// The embedded default configuration.
    pub fn embedded_default() -> Self {
        Self::from_str(
            DEFAULT_CONFIG,
            PathBuf::from("."),
            "embedded defaults".into(),
        )
        .expect("the embedded default configuration is valid")
    }

    /// Parses and validates `text`.
    pub fn from_str(text: &str, base_dir: PathBuf, origin: String) -> Result<Self, ConfigErrors> {
        let (config, secrets) = validate::parse(text, &base_dir)?;
        Ok(LoadedConfig {
            config,
            base_dir,
            origin,
            path: None,
            secrets,
        })
    }

    /// Resolves a path from the config against its directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }
}
