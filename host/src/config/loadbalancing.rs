//! `type = "loadbalancing"`: an exporter that routes each span to one of several OTLP
//! backends by trace id (or service name), so every span of a trace reaches the same one.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::ConfigError;
use super::exporters::{BatchConfig, Compression, OtlpExporterConfig, RetryConfig};

/// `[exporters.NAME]` with `type = "loadbalancing"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancingConfig {
    /// What decides a span's backend.
    #[serde(default)]
    pub routing_key: RoutingKey,
    /// Where the backends are.
    pub resolver: ResolverConfig,
    /// How each backend is spoken to.
    #[serde(default)]
    pub otlp: BackendConfig,
    /// Each backend's batching (each has its own queue).
    #[serde(default)]
    pub batch: BatchConfig,
    /// Each backend's retries; past them, the backend's spans go to the ring's other members.
    #[serde(default = "default_backend_retry")]
    pub retry: RetryConfig,
    /// When a failing backend leaves the ring, and how it comes back.
    #[serde(default)]
    pub health: HealthConfig,
}

/// What decides a span's backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingKey {
    /// The span's trace id: every span of a trace reaches one backend (for tail sampling).
    #[default]
    TraceId,
    /// The `service.name` of the span's resource: every span of a service reaches one backend.
    Service,
}

/// `[exporters.NAME.resolver]`: exactly one of a static list and a DNS name.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolverConfig {
    /// Backends as `host:port`.
    #[serde(default, rename = "static")]
    pub static_list: Option<Vec<String>>,
    /// A name whose A/AAAA records are the backends (a Kubernetes headless Service).
    pub dns: Option<DnsResolverConfig>,
}

/// `[exporters.NAME.resolver.dns]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsResolverConfig {
    /// The name to resolve.
    pub hostname: String,
    /// The backends' OTLP port.
    #[serde(default = "default_otlp_port")]
    pub port: u16,
    /// How often the name is resolved again, in milliseconds.
    #[serde(default = "default_dns_interval_ms")]
    pub interval_ms: u64,
}

/// `[exporters.NAME.otlp]`: the OTLP settings every backend shares.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// `grpc` or `http`.
    #[serde(default)]
    pub protocol: BackendProtocol,
    /// `none` or `gzip`.
    #[serde(default)]
    pub compression: Compression,
    /// Timeout for one export request, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// TLS towards the backends (`https://`); plaintext when absent.
    #[serde(default)]
    pub tls: Option<super::ClientTlsConfig>,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            protocol: BackendProtocol::default(),
            compression: Compression::default(),
            timeout_ms: default_timeout_ms(),
            headers: BTreeMap::new(),
            tls: None,
        }
    }
}

/// The backends' OTLP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendProtocol {
    /// OTLP/gRPC.
    #[default]
    Grpc,
    /// OTLP/HTTP protobuf.
    Http,
}

/// `[exporters.NAME.health]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// Failed attempts in a row after which a backend leaves the ring (what it held goes to
    /// the others).
    #[serde(default = "default_eject_after")]
    pub eject_after_failures: u64,
    /// How often a backend out of the ring is tried (an empty export) to bring it back.
    #[serde(default = "default_probe_ms")]
    pub probe_interval_ms: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            eject_after_failures: default_eject_after(),
            probe_interval_ms: default_probe_ms(),
        }
    }
}

impl LoadBalancingConfig {
    /// The exporter config of the backend at `address` (`host:port`).
    pub fn backend(&self, address: &str) -> OtlpExporterConfig {
        let scheme = if self.otlp.tls.is_some() {
            "https"
        } else {
            "http"
        };
        OtlpExporterConfig {
            endpoint: format!("{scheme}://{address}"),
            compression: self.otlp.compression,
            timeout_ms: self.otlp.timeout_ms,
            headers: self.otlp.headers.clone(),
            tls: self.otlp.tls.clone(),
            batch: self.batch.clone(),
            retry: self.retry.clone(),
        }
    }

    /// What is wrong with these settings, under `path`.
    pub(super) fn check(&self, path: &str, errors: &mut Vec<ConfigError>) {
        let resolver = format!("{path}.resolver");
        match (&self.resolver.static_list, &self.resolver.dns) {
            (Some(list), None) => {
                if list.is_empty() {
                    errors.push(ConfigError::new(
                        format!("{resolver}.static"),
                        "lists no backend",
                    ));
                }
                for address in list {
                    if address
                        .rsplit_once(':')
                        .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                    {
                        errors.push(ConfigError::new(
                            format!("{resolver}.static"),
                            format!("{address:?} is not host:port"),
                        ));
                    }
                }
            }
            (None, Some(dns)) => {
                if dns.hostname.is_empty() || dns.interval_ms == 0 {
                    errors.push(ConfigError::new(
                        format!("{resolver}.dns"),
                        "needs a hostname and an interval_ms of at least 1",
                    ));
                }
            }
            _ => errors.push(ConfigError::new(
                resolver,
                "set exactly one of `static` (a list of host:port) and `dns`",
            )),
        }
        if self.health.eject_after_failures == 0 || self.health.probe_interval_ms == 0 {
            errors.push(ConfigError::new(
                format!("{path}.health"),
                "eject_after_failures and probe_interval_ms must be at least 1",
            ));
        }
    }
}

fn default_otlp_port() -> u16 {
    4317
}

fn default_dns_interval_ms() -> u64 {
    5_000
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_eject_after() -> u64 {
    3
}

fn default_probe_ms() -> u64 {
    1_000
}

/// Backends retry for 10 s before their spans go to the others: long enough to ride out a
/// restart, short enough not to hold traces while another backend could take them.
fn default_backend_retry() -> RetryConfig {
    RetryConfig {
        max_elapsed_ms: 10_000,
        ..RetryConfig::default()
    }
}
