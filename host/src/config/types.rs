//! Configuration types. Every table rejects unknown keys.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
    /// Keep precompiled plugins on disk, so reloads and restarts skip compilation.
    #[serde(default = "default_true")]
    pub component_cache: bool,
    /// Where the component cache lives (default: `$XDG_CACHE_HOME/weft/components`, else
    /// `~/.cache/weft/components`).
    pub cache_dir: Option<PathBuf>,
    /// `[pipeline.shutdown]`: how long each stage of a graceful shutdown may take.
    #[serde(default)]
    pub shutdown: ShutdownConfig,
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
            component_cache: true,
            cache_dir: None,
            shutdown: ShutdownConfig::default(),
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

fn default_queue_capacity() -> usize {
    256
}

fn default_enqueue_timeout_ms() -> u64 {
    5_000
}

fn default_pipeline_memory_limit_mb() -> usize {
    256
}

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
}

impl ExporterConfig {
    /// The batching settings of any exporter.
    pub fn batch(&self) -> &BatchConfig {
        match self {
            ExporterConfig::Otlp(c) | ExporterConfig::Otlphttp(c) => &c.batch,
            ExporterConfig::File(c) => &c.batch,
            ExporterConfig::Stdout(c) => &c.batch,
        }
    }

    /// The retry settings of any exporter.
    pub fn retry(&self) -> &RetryConfig {
        match self {
            ExporterConfig::Otlp(c) | ExporterConfig::Otlphttp(c) => &c.retry,
            ExporterConfig::File(c) => &c.retry,
            ExporterConfig::Stdout(c) => &c.retry,
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
