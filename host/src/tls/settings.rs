//! The TLS settings of listeners and exporters, as `weft.toml` gives them
//! (`[receivers.otlp.*.tls]`, `[exporters.NAME.tls]`). They live with the TLS code that reads
//! them; the configuration embeds them.

use std::path::PathBuf;

use serde::Deserialize;

/// `[receivers.otlp.grpc.tls]` / `[receivers.otlp.http.tls]`: serve the listener over TLS.
/// Relative paths are read from the configuration file's directory; the files are read again
/// when they change, so certificates rotate without a restart.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTlsConfig {
    /// The server's certificate chain, PEM.
    pub cert_file: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// With it, clients must present a certificate this CA (PEM) signed: mutual TLS.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// The oldest TLS version accepted: `"1.2"` (default) or `"1.3"`.
    #[serde(default)]
    pub min_version: TlsVersion,
    /// With mutual TLS: set this resource attribute on every resource of a request to the
    /// subject of the client's certificate (`CN=tenant-a,O=Acme`), replacing any value the
    /// client sent, so the pipeline can tell tenants apart.
    #[serde(default)]
    pub client_subject_attribute: Option<String>,
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[default]
    #[serde(rename = "1.2")]
    V1_2,
    /// TLS 1.3.
    #[serde(rename = "1.3")]
    V1_3,
}

/// `[exporters.NAME.tls]`: how an `https://` exporter checks its backend and proves itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsConfig {
    /// Trust this CA (PEM) instead of the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain (PEM) for mutual TLS, with `key_file`.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The name the backend's certificate must carry, when it is not the endpoint's host.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Accept any certificate: for tests against a backend with a throw-away certificate
    /// only. Logged as a warning when the exporter starts.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}
