//! OTLP/HTTP receiver: `POST /v1/traces` with protobuf or JSON bodies, optionally gzip.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http_body_util::{BodyExt, Limited};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::auth::TokenGate;
use crate::codec::{GunzipError, gunzip};
use crate::config::ListenerLimits;
use crate::ingest::{Format, Ingest, IngestError};
use crate::pipeline::{ConnectionRefusal, Protocol, Refusal, Submitter};
use crate::tls::{Accepted, ConnInfo};

#[derive(Clone)]
struct HttpReceiver {
    ingest: Ingest,
    max_request_bytes: usize,
    /// The bearer tokens requests must carry, checked before the body is read.
    auth: Arc<TokenGate>,
    /// How long a request's body may take to arrive.
    request_timeout: Duration,
}

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// The encoding a `content-type` names, if it is one of the two.
    fn named(content_type: &str) -> Option<Self> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if media_type.eq_ignore_ascii_case("application/x-protobuf")
            || media_type.eq_ignore_ascii_case("application/protobuf")
        {
            Some(Encoding::Protobuf)
        } else if media_type.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }

    /// The encoding of a request's error answer: its own, or JSON when it has none.
    fn of(headers: &HeaderMap) -> Self {
        headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(Encoding::named)
            .unwrap_or(Encoding::Json)
    }

    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error response.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// gRPC status codes used in error bodies.
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNAVAILABLE: i32 = 14;
const UNAUTHENTICATED: i32 = 16;

/// Serves OTLP/HTTP on `listener` until `shutdown` completes, then finishes in-flight requests.
pub async fn serve_http(
    listener: Accepted,
    submitter: Submitter,
    (max_request_bytes, limits, subject_attribute): (usize, ListenerLimits, Option<Arc<str>>),
    auth: Arc<TokenGate>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let counts = submitter.clone();
    let on_header_timeout = move || {
        counts.count_connection_refused(Protocol::Http, ConnectionRefusal::HeaderTimeout);
    };
    let state = HttpReceiver {
        ingest: Ingest::new(submitter, Protocol::Http, subject_attribute),
        max_request_bytes,
        auth,
        request_timeout: Duration::from_millis(limits.request_timeout_ms),
    };
    let app = Router::new()
        .route("/v1/traces", post(export_traces))
        .layer(DefaultBodyLimit::disable())
        .with_state(state);
    let header_timeout = Duration::from_millis(limits.header_read_timeout_ms);
    crate::serve::serve_http1(listener, app, header_timeout, on_header_timeout, shutdown).await
}

async fn export_traces(
    State(receiver): State<HttpReceiver>,
    connection: Option<Extension<ConnInfo>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let client_subject = connection.and_then(|Extension(info)| info.client_subject);
    let authorization = headers.get(header::AUTHORIZATION).map(|v| v.as_bytes());
    if let Err(refusal) = receiver.auth.check(authorization) {
        receiver
            .ingest
            .submitter()
            .count_unauthenticated(Protocol::Http);
        tracing::debug!(reason = %refusal, "Refused an OTLP/HTTP request.");
        let mut failure = Failure::new(
            StatusCode::UNAUTHORIZED,
            UNAUTHENTICATED,
            refusal.to_string(),
            Encoding::of(&headers),
        );
        failure.counted = true;
        let mut response = failure.into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    match handle(&receiver, &headers, body, client_subject).await {
        Ok(encoding) => success(encoding),
        Err(failure) => {
            if !failure.counted {
                receiver.ingest.submitter().count_refused(Protocol::Http, 0);
            }
            tracing::debug!(status = %failure.status, message = %failure.message, "Refused an OTLP/HTTP request.");
            failure.into_response()
        }
    }
}

struct Failure {
    status: StatusCode,
    code: i32,
    message: String,
    encoding: Encoding,
    /// Whether the refusal was counted already (by the pipeline or the ingest path); if
    /// not, it is counted as a request refused before its spans were read.
    counted: bool,
    retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, code: i32, message: impl Into<String>, encoding: Encoding) -> Self {
        Failure {
            status,
            code,
            message: message.into(),
            encoding,
            counted: false,
            retry_after: None,
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = RpcStatus {
            code: self.code,
            message: self.message,
        };
        let body = match self.encoding {
            Encoding::Protobuf => status.encode_to_vec(),
            Encoding::Json => serde_json::json!({ "code": status.code, "message": status.message })
                .to_string()
                .into_bytes(),
        };
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.encoding.content_type()),
        );
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

fn success(encoding: Encoding) -> Response {
    let response = ExportTraceServiceResponse {
        partial_success: None,
    };
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => b"{}".to_vec(),
    };
    ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

async fn handle(
    receiver: &HttpReceiver,
    headers: &HeaderMap,
    body: Body,
    client_subject: Option<Arc<str>>,
) -> Result<Encoding, Failure> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = match Encoding::named(content_type) {
        Some(encoding) => encoding,
        None => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!(
                    "unsupported content type {content_type:?}; use application/x-protobuf or application/json"
                ),
                Encoding::Json,
            ));
        }
    };
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let gzipped = match content_encoding.as_str() {
        "gzip" => true,
        "identity" | "" => false,
        other => {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                INVALID_ARGUMENT,
                format!("unsupported content encoding {other:?}; use gzip or none"),
                encoding,
            ));
        }
    };
    let limit = receiver.max_request_bytes;
    let too_large = || {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_ARGUMENT,
            format!("request body exceeds the {limit}-byte limit"),
            encoding,
        )
    };
    let arrived = tokio::time::timeout(
        receiver.request_timeout,
        Limited::new(body, limit).collect(),
    )
    .await
    .map_err(|_| {
        Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            INVALID_ARGUMENT,
            format!(
                "the request body did not arrive within {} ms",
                receiver.request_timeout.as_millis()
            ),
            encoding,
        )
    })?;
    let raw = arrived.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            too_large()
        } else {
            Failure::new(
                StatusCode::BAD_REQUEST,
                INVALID_ARGUMENT,
                format!("reading the request body: {e}"),
                encoding,
            )
        }
    })?;
    let raw = raw.to_bytes();
    let bytes = if gzipped {
        match gunzip(&raw, limit) {
            Ok(bytes) => bytes.into(),
            Err(GunzipError::TooLarge { .. }) => return Err(too_large()),
            Err(e @ GunzipError::Invalid(_)) => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    INVALID_ARGUMENT,
                    e.to_string(),
                    encoding,
                ));
            }
        }
    } else {
        raw
    };
    let format = match encoding {
        Encoding::Protobuf => Format::Protobuf,
        Encoding::Json => Format::Json,
    };
    receiver
        .ingest
        .accept(bytes, format, client_subject.as_deref())
        .await
        .map_err(|error| match error {
            IngestError::Refused(refusal) => refused(refusal, encoding),
            invalid => {
                let mut failure = Failure::new(
                    StatusCode::BAD_REQUEST,
                    INVALID_ARGUMENT,
                    invalid.to_string(),
                    encoding,
                );
                // The ingest path counted the refused spans.
                failure.counted = true;
                failure
            }
        })?;
    Ok(encoding)
}

/// The response to a request the pipeline refused: retryable ones with `Retry-After`.
fn refused(refusal: Refusal, encoding: Encoding) -> Failure {
    let (status, code) = match refusal {
        Refusal::Busy | Refusal::DiskFull => (StatusCode::SERVICE_UNAVAILABLE, RESOURCE_EXHAUSTED),
        Refusal::StorageFailed => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        Refusal::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE),
        Refusal::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, RESOURCE_EXHAUSTED),
    };
    let mut failure = Failure::new(status, code, refusal.to_string(), encoding);
    if refusal.retryable() {
        failure.retry_after = Some(1);
    }
    // The submitter already counted the refused spans.
    failure.counted = true;
    failure
}
