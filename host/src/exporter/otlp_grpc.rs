//! OTLP/gRPC export. Batches are encoded (and compressed) once into a gRPC message frame and
//! sent as is, so retries and fan-out never re-encode, re-compress or clone a batch.
//!
//! The call is framed here rather than by tonic's client, whose gzip runs at a fixed level
//! (6), half of weft's CPU when it forwards without processors; weft compresses at level 1,
//! as its HTTP exporter does (see docs/performance.md).

use std::future::poll_fn;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use tonic::codegen::Service;
use tonic::transport::{Channel, Endpoint};

use crate::config::{Compression, OtlpExporterConfig};
use crate::tls::{Alpn, https_connector};

use super::delivery::Delivery;
use super::retry::ExportError;

const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Bytes before a gRPC message: a compressed flag and the message length (big-endian `u32`).
pub const FRAME_HEADER: usize = 5;

/// Sends batches to an OTLP/gRPC endpoint.
pub struct GrpcSink {
    channel: Channel,
    compression: Compression,
    timeout: Duration,
    headers: HeaderMap,
    endpoint: String,
}

impl GrpcSink {
    /// Connects lazily to the configured endpoint, over TLS for `https://` (TLS files are
    /// read from `base_dir`).
    pub fn new(config: &OtlpExporterConfig, base_dir: &std::path::Path) -> anyhow::Result<Self> {
        let timeout = Duration::from_millis(config.timeout_ms);
        let endpoint = Endpoint::from_shared(config.endpoint.clone())?
            .timeout(timeout)
            .connect_timeout(timeout);
        let channel = if config.endpoint.starts_with("https://") {
            super::tls_warning(config);
            let connector = https_connector(config.tls.as_ref(), base_dir, Alpn::Http2)?;
            endpoint.connect_with_connector_lazy(connector)
        } else {
            endpoint.connect_lazy()
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        headers.insert("te", HeaderValue::from_static("trailers"));
        headers.insert(
            "grpc-timeout",
            HeaderValue::from_str(&format!("{}m", timeout.as_millis()))?,
        );
        if config.compression == Compression::Gzip {
            headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        }
        for (key, value) in &config.headers {
            let key = HeaderName::from_bytes(key.to_ascii_lowercase().as_bytes())?;
            headers.insert(key, HeaderValue::try_from(value.as_str())?);
        }
        Ok(GrpcSink {
            channel,
            compression: config.compression,
            timeout,
            headers,
            endpoint: config.endpoint.clone(),
        })
    }

    /// Frames an encoded `ExportTraceServiceRequest` as one gRPC message, compressed when
    /// configured. `buffer` holds [`FRAME_HEADER`] bytes of room, then the message: the header
    /// is written in place, so an uncompressed message is not copied.
    pub fn frame(&self, mut buffer: Vec<u8>) -> Bytes {
        let flag = match self.compression {
            Compression::Gzip => {
                let mut out = Vec::with_capacity(FRAME_HEADER + buffer.len() / 4);
                out.resize(FRAME_HEADER, 0);
                buffer = crate::codec::gzip_onto(out, &buffer[FRAME_HEADER..]);
                1
            }
            Compression::None => 0,
        };
        let len = (buffer.len() - FRAME_HEADER) as u32;
        buffer[0] = flag;
        buffer[1..FRAME_HEADER].copy_from_slice(&len.to_be_bytes());
        buffer.into()
    }

    /// Sends one framed request (see [`GrpcSink::frame`]).
    pub async fn send(&self, frame: Bytes) -> Result<Delivery, ExportError> {
        let retryable = |what: &str, e: &dyn std::fmt::Display| {
            ExportError::retryable(format!("{what} {}: {e}", self.endpoint))
        };
        let mut request = http::Request::post(EXPORT_PATH)
            .body(tonic::body::Body::new(Full::new(frame)))
            .map_err(|e| ExportError::permanent(format!("building the request: {e}")))?;
        *request.headers_mut() = self.headers.clone();
        let mut channel = self.channel.clone();
        poll_fn(|cx| channel.poll_ready(cx))
            .await
            .map_err(|e| retryable("connecting to", &e))?;
        let call = async {
            let response = channel
                .call(request)
                .await
                .map_err(|e| retryable("sending to", &e))?;
            let (head, body) = response.into_parts();
            if head.status != http::StatusCode::OK {
                return Err(http_status_error(&self.endpoint, head.status));
            }
            // A trailers-only answer carries the status in its headers.
            if let Some(status) = GrpcStatus::of(&head.headers) {
                return status
                    .into_result(&self.endpoint)
                    .map(|()| Delivery::whole());
            }
            let body = body
                .collect()
                .await
                .map_err(|e| retryable("reading the answer of", &e))?;
            let status = body.trailers().and_then(GrpcStatus::of);
            let message = body.to_bytes();
            match status {
                Some(status) => status.into_result(&self.endpoint)?,
                None => {
                    return Err(ExportError::retryable(format!(
                        "{} closed the call without a gRPC status",
                        self.endpoint
                    )));
                }
            }
            Ok(delivery(&message))
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(ExportError::retryable(format!(
                "{} did not answer within {:?}",
                self.endpoint, self.timeout
            ))),
        }
    }
}

/// `grpc-status` and `grpc-message` of a finished call.
struct GrpcStatus {
    code: u32,
    message: String,
}

impl GrpcStatus {
    fn of(headers: &HeaderMap) -> Option<Self> {
        let code = headers.get("grpc-status")?;
        Some(GrpcStatus {
            // An unreadable status is UNKNOWN (2), as gRPC clients treat it.
            code: code.to_str().ok().and_then(|c| c.parse().ok()).unwrap_or(2),
            message: headers
                .get("grpc-message")
                .map(|m| percent_decode(m.as_bytes()))
                .unwrap_or_default(),
        })
    }

    /// OK, or an export error retryable as the OTLP specification lists.
    fn into_result(self, endpoint: &str) -> Result<(), ExportError> {
        const NAMES: [&str; 17] = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        if self.code == 0 {
            return Ok(());
        }
        // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
        // DATA_LOSS.
        let retryable = matches!(self.code, 1 | 4 | 8 | 10 | 11 | 14 | 15);
        let name = NAMES.get(self.code as usize).copied().unwrap_or("UNKNOWN");
        Err(ExportError {
            retryable,
            retry_after: None,
            message: format!("{endpoint} answered {name}: {}", self.message),
        })
    }
}

/// An HTTP status other than 200 on a gRPC call: retryable where gRPC maps it to UNAVAILABLE.
fn http_status_error(endpoint: &str, status: http::StatusCode) -> ExportError {
    let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
    ExportError {
        retryable,
        retry_after: None,
        message: format!("{endpoint} answered HTTP {status} to a gRPC call"),
    }
}

/// The delivery a framed gRPC answer reports (its partial success).
fn delivery(frame: &[u8]) -> Delivery {
    // An uncompressed frame (weft does not offer to accept compressed answers).
    match frame.get(5..).filter(|_| frame[0] == 0) {
        Some(message) => Delivery::from_protobuf(message),
        None => Delivery::whole(),
    }
}

/// Decodes `grpc-message`'s percent-encoding; invalid UTF-8 is replaced.
fn percent_decode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
        match (bytes[i], hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn statuses_map_to_retryable_as_otlp_lists() {
        let status = |code: &str, message: &str| {
            let mut headers = HeaderMap::new();
            headers.insert("grpc-status", HeaderValue::from_str(code).unwrap());
            headers.insert("grpc-message", HeaderValue::from_str(message).unwrap());
            GrpcStatus::of(&headers).unwrap().into_result("sink")
        };
        assert!(status("0", "").is_ok());
        let unavailable = status("14", "busy%20now").unwrap_err();
        assert!(unavailable.retryable);
        assert_eq!(unavailable.message, "sink answered UNAVAILABLE: busy now");
        let invalid = status("3", "bad%").unwrap_err();
        assert!(!invalid.retryable);
        assert_eq!(invalid.message, "sink answered INVALID_ARGUMENT: bad%");
        assert!(!status("garbage", "").unwrap_err().retryable, "unknown");
        assert!(status("8", "").unwrap_err().retryable, "resource exhausted");
        assert!(GrpcStatus::of(&HeaderMap::new()).is_none());
        assert!(http_status_error("sink", http::StatusCode::SERVICE_UNAVAILABLE).retryable);
        assert!(!http_status_error("sink", http::StatusCode::NOT_FOUND).retryable);
    }

    #[tokio::test]
    async fn a_frame_is_flag_length_and_the_message() {
        let config = |compression| OtlpExporterConfig {
            compression,
            ..toml::from_str("endpoint = \"http://127.0.0.1:1\"").unwrap()
        };
        let message = b"spans spans spans spans spans".repeat(10);
        let with_room = [vec![0; FRAME_HEADER], message.clone()].concat();
        let plain = GrpcSink::new(&config(Compression::None), Path::new(".")).unwrap();
        let frame = plain.frame(with_room.clone());
        assert_eq!(frame[0], 0);
        assert_eq!(
            u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize,
            message.len()
        );
        assert_eq!(&frame[5..], &message[..]);
        let gzip = GrpcSink::new(&config(Compression::Gzip), Path::new(".")).unwrap();
        let frame = gzip.frame(with_room);
        assert_eq!(frame[0], 1);
        assert_eq!(
            u32::from_be_bytes(frame[1..5].try_into().unwrap()) as usize,
            frame.len() - 5
        );
        assert_eq!(crate::codec::gunzip(&frame[5..], 1 << 20).unwrap(), message);
    }
}
