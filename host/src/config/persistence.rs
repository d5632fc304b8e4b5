//! `[pipeline.persistence]`: the persistent queue (see `docs/durability.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::error::ConfigError;

/// `[pipeline.persistence]`: every accepted request is written to a log on disk before it is
/// acknowledged, and stays there until every exporter has sent what came of it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistenceConfig {
    /// The log's directory, relative to the config file's (default `data`).
    #[serde(default = "default_dir")]
    pub dir: PathBuf,
    /// Past this many MiB on disk, receivers refuse new requests with a retryable status
    /// until exporters catch up.
    #[serde(default = "default_max_disk_mb")]
    pub max_disk_mb: u64,
    /// Size of one log segment, in MiB: space is given back a segment at a time.
    #[serde(default = "default_segment_mb")]
    pub segment_mb: u64,
    /// `0` (the default): each `fdatasync` covers every request that arrived while the
    /// previous one ran, so many requests share one. A positive value gathers requests for
    /// that many milliseconds before each `fdatasync`. Either way a request is acknowledged
    /// only once the `fdatasync` that covers it has returned.
    #[serde(default)]
    pub fsync_interval_ms: u64,
    /// An exporter retries what it could not send for up to this many seconds after it
    /// first tried; then the spans go to the dead-letter file.
    #[serde(default = "default_max_age_s")]
    pub max_age_s: u64,
    /// A request whose processing panicked this many times goes to the dead-letter file.
    #[serde(default = "default_max_tries")]
    pub max_tries: u32,
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        PersistenceConfig {
            dir: default_dir(),
            max_disk_mb: default_max_disk_mb(),
            segment_mb: default_segment_mb(),
            fsync_interval_ms: 0,
            max_age_s: default_max_age_s(),
            max_tries: default_max_tries(),
        }
    }
}

impl PersistenceConfig {
    /// The log's directory, `dir` resolved against `base_dir`.
    pub fn dir_in(&self, base_dir: &Path) -> PathBuf {
        if self.dir.is_absolute() {
            self.dir.clone()
        } else {
            base_dir.join(&self.dir)
        }
    }

    /// How long an exporter retries a batch.
    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_s)
    }

    /// What is wrong with these settings.
    pub(super) fn check(&self, errors: &mut Vec<ConfigError>) {
        let key = |name: &str| format!("pipeline.persistence.{name}");
        if self.segment_mb == 0 || self.segment_mb > 1024 {
            errors.push(ConfigError::new(
                key("segment_mb"),
                format!("must be between 1 and 1024, got {}", self.segment_mb),
            ));
        }
        if self.max_disk_mb < self.segment_mb.saturating_mul(2) {
            errors.push(ConfigError::new(
                key("max_disk_mb"),
                format!(
                    "must be at least two segments ({} MiB), got {}",
                    self.segment_mb.saturating_mul(2),
                    self.max_disk_mb
                ),
            ));
        }
        if self.fsync_interval_ms > 1_000 {
            errors.push(ConfigError::new(
                key("fsync_interval_ms"),
                format!(
                    "must be at most 1000 (every acknowledgement waits for it), got {}",
                    self.fsync_interval_ms
                ),
            ));
        }
        if self.max_age_s == 0 {
            errors.push(ConfigError::new(key("max_age_s"), "must be at least 1"));
        }
        if self.max_tries == 0 {
            errors.push(ConfigError::new(key("max_tries"), "must be at least 1"));
        }
    }
}

fn default_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_max_disk_mb() -> u64 {
    2048
}

fn default_segment_mb() -> u64 {
    32
}

fn default_max_age_s() -> u64 {
    3_600
}

fn default_max_tries() -> u32 {
    3
}
