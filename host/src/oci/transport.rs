//! The pieces the registry client is made of: its deadlines and size caps, a request's
//! shape and an answer, where a `Location` leads, and the connector for plain-HTTP registries.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, Uri};

use super::error::OciError;
use crate::tls::HttpsConnector;

/// How long one request may wait for an answer, and a body may stall between chunks.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a whole blob transfer may take.
pub const BLOB_TIMEOUT: Duration = Duration::from_secs(600);
/// The largest manifest, token or error body read.
pub const SMALL_BODY: usize = 4 << 20;

/// An answer, body read.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body (empty for `HEAD`).
    pub body: Bytes,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request's body, size cap and deadline.
#[derive(Debug, Clone)]
pub struct Call {
    /// Headers besides authorization.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Bytes,
    /// The largest answer body read.
    pub limit: usize,
    /// How long the whole exchange may take.
    pub deadline: Duration,
}

impl Default for Call {
    fn default() -> Self {
        Call {
            headers: Vec::new(),
            body: Bytes::new(),
            limit: SMALL_BODY,
            deadline: REQUEST_TIMEOUT,
        }
    }
}

/// A connector for a plain-HTTP registry when no system roots could be loaded (it never
/// makes a TLS connection that would need them).
// ring, as everywhere in Weft (see `tls::server::provider`).
#[allow(deprecated)]
pub fn plain_connector(why: &str) -> Result<HttpsConnector, OciError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OciError::Local(format!("{why}; {e}")))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build())
}

/// The `host[:port]` of an absolute URL.
pub fn authority(url: &str) -> Option<String> {
    url.parse::<Uri>()
        .ok()?
        .authority()
        .map(|a| a.as_str().to_owned())
}

/// `location` (absolute, or a path on the same host) against `base`.
pub fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    let origin = match base
        .find("://")
        .and_then(|at| base[at + 3..].find('/').map(|p| at + 3 + p))
    {
        Some(end) => &base[..end],
        None => base,
    };
    format!("{origin}/{}", location.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_registry() {
        let base = "http://127.0.0.1:5000/v2/team/redact/blobs/uploads/";
        assert_eq!(
            resolve(base, "/v2/team/redact/blobs/uploads/abc?_state=x"),
            "http://127.0.0.1:5000/v2/team/redact/blobs/uploads/abc?_state=x"
        );
        assert_eq!(
            resolve(base, "https://storage.example.com/b?sig=1"),
            "https://storage.example.com/b?sig=1"
        );
        assert_eq!(authority(base).as_deref(), Some("127.0.0.1:5000"));
    }
}
