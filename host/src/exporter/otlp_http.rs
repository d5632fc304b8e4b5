//! OTLP/HTTP export (protobuf).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::{Compression, OtlpExporterConfig};
use crate::tls::{Alpn, HttpsConnector, https_connector};

use super::delivery::{Delivery, MAX_ANSWER_BYTES};
use super::retry::ExportError;

/// Sends batches to an OTLP/HTTP endpoint.
pub struct HttpSink {
    client: Client<HttpsConnector, Full<Bytes>>,
    uri: Uri,
    compression: Compression,
    timeout: Duration,
    headers: HeaderMap,
}

impl HttpSink {
    /// Prepares a client for the configured endpoint; `/v1/traces` is appended when the URL
    /// has no path. An `https://` endpoint is reached over TLS (TLS files read from
    /// `base_dir`).
    pub fn new(config: &OtlpExporterConfig, base_dir: &std::path::Path) -> anyhow::Result<Self> {
        let mut uri: Uri = config.endpoint.parse()?;
        if uri.path() == "/" && !config.endpoint.ends_with('/') {
            uri = format!("{}/v1/traces", config.endpoint.trim_end_matches('/')).parse()?;
        }
        let mut headers = HeaderMap::new();
        for (key, value) in &config.headers {
            headers.insert(
                HeaderName::from_bytes(key.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        if config.endpoint.starts_with("https://") {
            super::tls_warning(config);
        }
        let connector = https_connector(config.tls.as_ref(), base_dir, Alpn::Http1)?;
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(HttpSink {
            client,
            uri,
            compression: config.compression,
            timeout: Duration::from_millis(config.timeout_ms),
            headers,
        })
    }

    /// The compression this sink's payloads need.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// POSTs one encoded (and, if configured, compressed) request.
    pub async fn send(&self, payload: Bytes) -> Result<Delivery, ExportError> {
        let mut request = http::Request::post(self.uri.clone())
            .header(header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(payload))
            .map_err(|e| ExportError::permanent(format!("building the request: {e}")))?;
        if self.compression == Compression::Gzip {
            request
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        request.headers_mut().extend(self.headers.clone());
        let response = match tokio::time::timeout(self.timeout, self.client.request(request)).await
        {
            Err(_) => {
                return Err(ExportError::retryable(format!(
                    "{} did not answer within {:?}",
                    self.uri, self.timeout
                )));
            }
            Ok(Err(e)) => {
                return Err(ExportError::retryable(format!(
                    "sending to {}: {e}",
                    self.uri
                )));
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        if status.is_success() {
            return Ok(read_delivery(response).await);
        }
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let retryable = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        );
        Err(ExportError {
            retryable,
            retry_after,
            message: format!("{} answered {status}", self.uri),
        })
    }
}

/// The delivery a successful answer reports: its body, an `ExportTraceServiceResponse` in
/// protobuf or JSON (as its content type says), gzip-compressed or not, read up to
/// [`MAX_ANSWER_BYTES`]. A body that cannot be read is taken as a whole delivery.
async fn read_delivery(response: http::Response<hyper::body::Incoming>) -> Delivery {
    let (head, body) = response.into_parts();
    let Ok(body) = http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map(|b| b.to_bytes())
    else {
        return Delivery::whole();
    };
    let header = |name| {
        head.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let body = if header(header::CONTENT_ENCODING) == "gzip" {
        match crate::codec::gunzip(&body, MAX_ANSWER_BYTES) {
            Ok(inflated) => Bytes::from(inflated),
            Err(_) => return Delivery::whole(),
        }
    } else {
        body
    };
    if header(header::CONTENT_TYPE).starts_with("application/json") {
        Delivery::from_json(&body)
    } else {
        Delivery::from_protobuf(&body)
    }
}
