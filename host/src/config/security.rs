//! Configuration of who may write spans and who may read them: receiver tokens, the admin
//! token and what the admin tap may show.

use std::fmt;

use serde::Deserialize;

/// A credential read from a reference (`${env:NAME}` or `${file:PATH}`): it never prints.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The value, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([hidden])")
    }
}

/// `[receivers.otlp.auth]`: requests to either OTLP listener must carry one of these bearer
/// tokens (`authorization: Bearer <token>`), checked before the body is read.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverAuthConfig {
    /// The accepted tokens, each `${env:NAME}` or `${file:PATH}`; a file may hold several,
    /// one per line (so tokens rotate by adding the new one, then removing the old one).
    pub bearer_tokens: Vec<Secret>,
}

impl ReceiverAuthConfig {
    /// Every token, files split into their lines, blank lines skipped.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.bearer_tokens
            .iter()
            .flat_map(|secret| secret.expose().lines())
            .map(str::trim)
            .filter(|token| !token.is_empty())
    }
}

/// `[admin.tap]`: what live taps may show, and how many at once.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminTapConfig {
    /// Show spans as they enter a processor (`point=before`, and the before-values of
    /// `point=diff`). Off by default: before a redactor, that is the data it removes.
    #[serde(default)]
    pub allow_raw: bool,
    /// Taps open at once.
    #[serde(default = "default_max_taps")]
    pub max_concurrent: usize,
    /// Spans a second all open taps together may show.
    #[serde(default = "default_max_total_rate")]
    pub max_total_rate: u32,
}

impl Default for AdminTapConfig {
    fn default() -> Self {
        AdminTapConfig {
            allow_raw: false,
            max_concurrent: default_max_taps(),
            max_total_rate: default_max_total_rate(),
        }
    }
}

fn default_max_taps() -> usize {
    4
}

fn default_max_total_rate() -> u32 {
    1000
}

/// `[receivers.otlp.grpc.limits]` / `[receivers.otlp.http.limits]` (and `[admin.limits]`):
/// what one listener allows, against clients that hold connections or stall (slowloris).
/// Every refusal is counted in `weft_receiver_connections_refused_total{protocol,reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerLimits {
    /// Connections open at once; one more is closed as it arrives.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// HTTP/2 streams (gRPC calls) at once on one connection.
    #[serde(default = "default_max_concurrent_streams")]
    pub max_concurrent_streams: u32,
    /// HTTP/1: a request's headers must arrive within this (ms).
    #[serde(default = "default_header_read_timeout_ms")]
    pub header_read_timeout_ms: u64,
    /// A request's body must arrive within this (ms).
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// HTTP/2: ping an idle connection this often (ms); a peer that does not answer within
    /// the same time is disconnected. 0 turns pings off.
    #[serde(default = "default_keepalive_ms")]
    pub keepalive_ms: u64,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_connections: default_max_connections(),
            max_concurrent_streams: default_max_concurrent_streams(),
            header_read_timeout_ms: default_header_read_timeout_ms(),
            request_timeout_ms: default_request_timeout_ms(),
            keepalive_ms: default_keepalive_ms(),
        }
    }
}

fn default_max_connections() -> usize {
    4096
}

fn default_max_concurrent_streams() -> u32 {
    100
}

fn default_header_read_timeout_ms() -> u64 {
    10_000
}

fn default_request_timeout_ms() -> u64 {
    60_000
}

fn default_keepalive_ms() -> u64 {
    30_000
}
