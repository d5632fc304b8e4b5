//! Configuration types. Every table rejects unknown keys.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ExporterConfig, ProcessorConfig};

/// The whole `weft.toml`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where spans come in.
    #[serde(default)]
    pub receivers: ReceiversConfig,
    /// Queueing and workers between receivers and exporters.
    #[serde(default)]
    pub pipeline: PipelineConfig,
    /// The processor chain, applied in order.
    #[serde(default)]
    pub processors: Vec<ProcessorConfig>,
    /// Where spans go, by name. Every exporter gets every span.
    #[serde(default)]
    pub exporters: BTreeMap<String, ExporterConfig>,
    /// Live reload of plugins and of this file.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// The admin HTTP server (`/healthz`, `POST /reload`).
    #[serde(default)]
    pub admin: AdminConfig,
}

/// `[reload]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch plugin files and the config file, and reload when they change.
    #[serde(default = "default_true")]
    pub watch: bool,
    /// Quiet time after the last file event before reloading, in milliseconds: a file copied
    /// in several writes is loaded once, whole.
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        ReloadConfig {
            watch: true,
            debounce_ms: default_debounce_ms(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_debounce_ms() -> u64 {
    300
}

/// `[admin]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the admin endpoints.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `host:port` to bind. Anything but a loopback address needs a `token`.
    #[serde(default = "default_admin_endpoint")]
    pub endpoint: String,
    /// `${env:NAME}` or `${file:PATH}`: every endpoint but `/healthz` and `/readyz` then
    /// needs `authorization: Bearer <token>`.
    #[serde(default)]
    pub token: Option<super::Secret>,
    /// Host names the admin server answers to besides IP addresses and `localhost` (the
    /// `Host` header is checked against DNS rebinding).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// `[admin.tap]`.
    #[serde(default)]
    pub tap: super::AdminTapConfig,
    /// `[admin.limits]`: connections and header timeouts, as for receivers.
    #[serde(default)]
    pub limits: super::ListenerLimits,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            endpoint: default_admin_endpoint(),
            token: None,
            allowed_hosts: Vec::new(),
            tap: super::AdminTapConfig::default(),
            limits: super::ListenerLimits::default(),
        }
    }
}

fn default_admin_endpoint() -> String {
    "127.0.0.1:8888".to_owned()
}

/// `[receivers]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiversConfig {
    /// `[receivers.otlp]`.
    #[serde(default)]
    pub otlp: OtlpReceiverConfig,
}

/// `[receivers.otlp]`: OTLP over gRPC and HTTP. A protocol without its table is off.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// `[receivers.otlp.grpc]`.
    pub grpc: Option<ListenerConfig>,
    /// `[receivers.otlp.http]`.
    pub http: Option<ListenerConfig>,
    /// `[receivers.otlp.auth]`: bearer tokens both listeners require.
    pub auth: Option<super::ReceiverAuthConfig>,
}

/// One listening endpoint.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    /// `host:port` to bind; port 0 picks a free port.
    pub endpoint: String,
    /// Largest accepted request, in bytes, after decompression.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Serve over TLS (`[receivers.otlp.grpc.tls]`).
    #[serde(default)]
    pub tls: Option<super::ServerTlsConfig>,
    /// Limits on connections and requests (`[receivers.otlp.grpc.limits]`).
    #[serde(default)]
    pub limits: super::ListenerLimits,
}

fn default_max_request_bytes() -> usize {
    4 << 20
}

/// `[pipeline]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Worker threads running the processor chain (default: one per core).
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Requests waiting for a worker before receivers push back.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// How long a receiver waits for room in a full queue before refusing with a retryable status.
    #[serde(default = "default_enqueue_timeout_ms")]
    pub enqueue_timeout_ms: u64,
    /// Ceiling on the memory of the requests the pipeline holds, from admission until their
    /// spans reach the exporters, in MiB. A request's decoded size is estimated from its
    /// bytes before decoding; past the ceiling receivers wait up to `enqueue_timeout_ms`,
    /// then refuse with a retryable status. A single request larger than the ceiling is
    /// refused outright.
    #[serde(default = "default_pipeline_memory_limit_mb")]
    pub memory_limit_mb: usize,
    /// Directory that relative plugin paths resolve against (default: the config file's directory).
    pub plugin_dir: Option<PathBuf>,
    /// Where the chain comes from: `config` (the `[[processors]]` entries) or `directory`
    /// (every component in `plugin_dir`, in file-name order; see `config/directory.rs`).
    #[serde(default)]
    pub chain: ChainSource,
    /// Keep precompiled plugins on disk, so reloads and restarts skip compilation.
    #[serde(default = "default_true")]
    pub component_cache: bool,
    /// Where the component cache lives (default: `$XDG_CACHE_HOME/weft/components`, else
    /// `~/.cache/weft/components`).
    pub cache_dir: Option<PathBuf>,
    /// `[pipeline.registries."HOST"]`: credentials and transport for the OCI registries
    /// `oci://` plugin references name (see `docs/plugins/oci.md`).
    #[serde(default)]
    pub registries: BTreeMap<String, super::RegistryConfig>,
    /// `[pipeline.shutdown]`: how long each stage of a graceful shutdown may take.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
    /// `[pipeline.persistence]`: the persistent queue; off when absent.
    pub persistence: Option<super::PersistenceConfig>,
    /// `[pipeline.trust]`: the keys plugins must be signed with; any signed or none when
    /// absent.
    pub trust: Option<super::TrustConfig>,
}

/// Where the processor chain comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainSource {
    /// The `[[processors]]` entries, in order.
    #[default]
    Config,
    /// Every `.wasm` component in `plugin_dir`, in file-name order, with its settings from a
    /// sidecar `NAME.toml`.
    Directory,
}

/// `[pipeline.shutdown]`: a graceful shutdown stops receivers, drains the pipeline, then
/// flushes exporters; each stage gets its own deadline. Past one, weft goes on to the next
/// stage, and what was not flushed is counted and logged.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Receivers finish their in-flight requests (later ones are refused as retryable).
    #[serde(default = "default_receivers_ms")]
    pub receivers_ms: u64,
    /// Workers process what is queued; the tail-sampling stage decides what it holds.
    #[serde(default = "default_drain_ms")]
    pub drain_ms: u64,
    /// Exporters send what they hold, with retries.
    #[serde(default = "default_flush_ms")]
    pub flush_ms: u64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            receivers_ms: default_receivers_ms(),
            drain_ms: default_drain_ms(),
            flush_ms: default_flush_ms(),
        }
    }
}

fn default_receivers_ms() -> u64 {
    5_000
}

fn default_drain_ms() -> u64 {
    30_000
}

fn default_flush_ms() -> u64 {
    30_000
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: default_workers(),
            queue_capacity: default_queue_capacity(),
            enqueue_timeout_ms: default_enqueue_timeout_ms(),
            memory_limit_mb: default_pipeline_memory_limit_mb(),
            plugin_dir: None,
            chain: ChainSource::default(),
            component_cache: true,
            cache_dir: None,
            registries: BTreeMap::new(),
            trust: None,
            shutdown: ShutdownConfig::default(),
            persistence: None,
        }
    }
}

impl PipelineConfig {
    /// Where the component cache lives, if it is on: `cache_dir` (relative to `base_dir`),
    /// else `$XDG_CACHE_HOME/weft/components` or `~/.cache/weft/components`.
    pub fn component_cache_dir(&self, base_dir: &std::path::Path) -> Option<PathBuf> {
        if !self.component_cache {
            return None;
        }
        match &self.cache_dir {
            Some(dir) if dir.is_absolute() => Some(dir.clone()),
            Some(dir) => Some(base_dir.join(dir)),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|cache| cache.join("weft").join("components")),
        }
    }

    /// [`Self::enqueue_timeout_ms`] as a duration.
    pub fn enqueue_timeout(&self) -> Duration {
        Duration::from_millis(self.enqueue_timeout_ms)
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

pub(super) fn default_queue_capacity() -> usize {
    256
}

fn default_enqueue_timeout_ms() -> u64 {
    5_000
}

fn default_pipeline_memory_limit_mb() -> usize {
    256
}
