//! `[[processors]]`: a plugin in the chain, its limits and grants, and a tail-sampling
//! stage's settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// One `[[processors]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Unique name, used in logs and metrics.
    pub name: String,
    /// `builtin:NAME` for a reference plugin shipped in the binary, or a path to a `.wasm`
    /// component (relative to `pipeline.plugin_dir`, else to the config file).
    pub plugin: String,
    /// What happens to a batch the processor fails on, as written; unset, it is
    /// [`ProcessorConfig::on_error`]'s default for the plugin.
    #[serde(default, rename = "on_error")]
    pub on_error_setting: Option<OnError>,
    /// Deadline for one batch, in milliseconds: computing or waiting in a host call.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Memory cap per instance, in MiB: every linear memory and table of the plugin together.
    #[serde(default = "default_memory_limit_mb")]
    pub memory_limit_mb: u64,
    /// Host resources (WASI streams, pollables, ...) an instance may hold at once; past it,
    /// the call fails as a memory failure.
    #[serde(default = "default_max_resources")]
    pub max_resources: usize,
    /// Quarantine the processor after this many failed batches in a row (0: never).
    #[serde(default = "default_quarantine_after")]
    pub quarantine_after: u32,
    /// First quarantine period, in milliseconds (doubles on each failed trial, up to 5 min).
    #[serde(default = "default_quarantine_ms")]
    pub quarantine_ms: u64,
    /// Capabilities granted to the plugin beyond the empty sandbox.
    #[serde(default)]
    pub grants: GrantsConfig,
    /// Makes this entry a tail-sampling stage: its plugin is a `trace-sampler` policy that
    /// decides whole traces, which the stage buffers. At most one entry may have it.
    pub tail_sampling: Option<TailSamplingConfig>,
    /// The plugin's own settings, passed to its `init` as JSON.
    #[serde(default)]
    pub config: toml::Table,
}

impl ProcessorConfig {
    /// What happens to a batch the processor fails on: the `on_error` setting, else `drop`
    /// for a redactor (`builtin:pii-redact`: a batch it could not redact, or that went past it
    /// while it was quarantined, must never be exported) and `pass` for everything else.
    pub fn on_error(&self) -> OnError {
        self.on_error_setting
            .unwrap_or(if self.plugin == FAIL_CLOSED_PLUGIN {
                OnError::Drop
            } else {
                OnError::Pass
            })
    }
}

/// The built-in plugin that fails closed unless told otherwise.
const FAIL_CLOSED_PLUGIN: &str = "builtin:pii-redact";

/// `[processors.grants]`: what a plugin may use beyond the empty sandbox. Nothing by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantsConfig {
    /// Directories the plugin may read (never write), by the absolute path the plugin sees:
    /// `{ "/lookup" = "lookup-tables" }` (host paths are relative to the config file).
    #[serde(default)]
    pub read_only_dirs: BTreeMap<String, PathBuf>,
    /// Environment variables passed through from Weft's environment, by name. Each must be set.
    #[serde(default)]
    pub env: Vec<String>,
}

/// `[processors.tail_sampling]`: how a tail-sampling stage buffers traces.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TailSamplingConfig {
    /// How long a trace is held, from its first span, before the policy decides it.
    #[serde(default = "default_decision_wait_ms")]
    pub decision_wait_ms: u64,
    /// Most traces held at once; past it the oldest are decided early (and counted).
    #[serde(default = "default_max_traces")]
    pub max_traces: usize,
    /// Most span bytes held at once (protobuf size), in MiB; past it the oldest traces are
    /// decided early, and receivers are pushed back if the policy cannot keep up.
    #[serde(default = "default_max_buffered_mb")]
    pub max_buffered_mb: u64,
    /// How many decided trace ids are remembered, so later spans follow the decision.
    #[serde(default = "default_decision_cache")]
    pub decision_cache: usize,
    /// How long a decision is remembered, in milliseconds.
    #[serde(default = "default_decision_cache_ttl_ms")]
    pub decision_cache_ttl_ms: u64,
    /// What a clean shutdown does with buffered traces: `decide` them now, or `export` them all.
    #[serde(default)]
    pub on_shutdown: OnShutdown,
    /// A span attribute to record the decision's reason on, for every span of a kept trace
    /// (e.g. `"sampling.reason"`). Default: none.
    pub reason_attribute: Option<String>,
}

impl TailSamplingConfig {
    /// [`Self::decision_wait_ms`] as a duration.
    pub fn decision_wait(&self) -> Duration {
        Duration::from_millis(self.decision_wait_ms)
    }

    /// [`Self::max_buffered_mb`] in bytes.
    pub fn max_buffered_bytes(&self) -> usize {
        (self.max_buffered_mb as usize) << 20
    }

    /// [`Self::decision_cache_ttl_ms`] as a duration.
    pub fn decision_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.decision_cache_ttl_ms)
    }
}

impl Default for TailSamplingConfig {
    fn default() -> Self {
        TailSamplingConfig {
            decision_wait_ms: default_decision_wait_ms(),
            max_traces: default_max_traces(),
            max_buffered_mb: default_max_buffered_mb(),
            decision_cache: default_decision_cache(),
            decision_cache_ttl_ms: default_decision_cache_ttl_ms(),
            on_shutdown: OnShutdown::default(),
            reason_attribute: None,
        }
    }
}

fn default_decision_wait_ms() -> u64 {
    10_000
}

fn default_max_traces() -> usize {
    50_000
}

fn default_max_buffered_mb() -> u64 {
    256
}

fn default_decision_cache() -> usize {
    100_000
}

fn default_decision_cache_ttl_ms() -> u64 {
    300_000
}

/// What a clean shutdown does with the traces a tail-sampling stage holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnShutdown {
    /// Ask the policy now, as if their wait were over.
    #[default]
    Decide,
    /// Export every buffered span without asking.
    Export,
}

fn default_timeout_ms() -> u64 {
    1_000
}

fn default_quarantine_after() -> u32 {
    5
}

fn default_quarantine_ms() -> u64 {
    10_000
}

fn default_memory_limit_mb() -> u64 {
    64
}

fn default_max_resources() -> usize {
    1_000
}

/// What happens to a batch when its processor fails (traps, times out, returns an error or
/// an invalid edit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Pass the batch on unchanged to the next processor.
    #[default]
    Pass,
    /// Drop the batch (fail closed), counting its spans.
    Drop,
}
