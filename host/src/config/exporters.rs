//! `[exporters.NAME]`: where spans go, and how they are batched and retried.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::types::default_queue_capacity;

/// One `[exporters.NAME]` table, chosen by `type`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ExporterConfig {
    /// OTLP over gRPC.
    Otlp(OtlpExporterConfig),
    /// OTLP over HTTP (protobuf).
    Otlphttp(OtlpExporterConfig),
    /// OTLP JSON lines appended to a file.
    File(FileExporterConfig),
    /// OTLP JSON lines on standard output.
    Stdout(StdoutExporterConfig),
    /// OTLP to one of several backends, chosen by trace id or service.
    Loadbalancing(super::LoadBalancingConfig),
}

impl ExporterConfig {
    /// The batching settings of any exporter.
    pub fn batch(&self) -> &BatchConfig {
        match self {
            ExporterConfig::Otlp(c) | ExporterConfig::Otlphttp(c) => &c.batch,
            ExporterConfig::File(c) => &c.batch,
            ExporterConfig::Stdout(c) => &c.batch,
            ExporterConfig::Loadbalancing(c) => &c.batch,
        }
    }

    /// The retry settings of any exporter.
    pub fn retry(&self) -> &RetryConfig {
        match self {
            ExporterConfig::Otlp(c) | ExporterConfig::Otlphttp(c) => &c.retry,
            ExporterConfig::File(c) => &c.retry,
            ExporterConfig::Stdout(c) => &c.retry,
            ExporterConfig::Loadbalancing(c) => &c.retry,
        }
    }
}

/// `type = "otlp"` or `type = "otlphttp"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpExporterConfig {
    /// `http://host:port` (gRPC) or `http://host:port` / full URL (HTTP; `/v1/traces` is
    /// appended when the URL has no path).
    pub endpoint: String,
    /// `none` or `gzip`.
    #[serde(default)]
    pub compression: Compression,
    /// Timeout for one export request, in milliseconds.
    #[serde(default = "default_export_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra request headers (e.g. authentication: `"${env:BACKEND_KEY}"`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// TLS settings of an `https://` endpoint (system roots when absent).
    #[serde(default)]
    pub tls: Option<super::ClientTlsConfig>,
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Retries.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_export_timeout_ms() -> u64 {
    10_000
}

/// `type = "file"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExporterConfig {
    /// File to append to (created if missing).
    pub path: PathBuf,
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Retries.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// `type = "stdout"`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutExporterConfig {
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Retries.
    #[serde(default)]
    pub retry: RetryConfig,
}

/// Export compression.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression.
    #[default]
    None,
    /// gzip.
    Gzip,
}

/// `[exporters.NAME.batch]`: how spans are grouped into export requests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// Send once this many spans are waiting.
    #[serde(default = "default_max_spans")]
    pub max_spans: usize,
    /// Send what is waiting after this long, in milliseconds.
    #[serde(default = "default_batch_timeout_ms")]
    pub timeout_ms: u64,
    /// Export requests in flight at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Processed batches waiting for this exporter before workers wait.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_spans: default_max_spans(),
            timeout_ms: default_batch_timeout_ms(),
            max_in_flight: default_max_in_flight(),
            queue_capacity: default_queue_capacity(),
        }
    }
}

fn default_max_spans() -> usize {
    8192
}

fn default_batch_timeout_ms() -> u64 {
    200
}

fn default_max_in_flight() -> usize {
    4
}

/// `[exporters.NAME.retry]`: exponential backoff on retryable failures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// First wait, in milliseconds.
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Longest wait, in milliseconds.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Give up on a request after this long, in milliseconds.
    #[serde(default = "default_max_elapsed_ms")]
    pub max_elapsed_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            max_elapsed_ms: default_max_elapsed_ms(),
        }
    }
}

fn default_initial_backoff_ms() -> u64 {
    100
}

fn default_max_backoff_ms() -> u64 {
    5_000
}

fn default_max_elapsed_ms() -> u64 {
    60_000
}
