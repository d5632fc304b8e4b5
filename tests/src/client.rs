//! OTLP clients: the tonic client generated in `opentelemetry-proto`, and plain HTTP.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::transport::Channel;

/// A connected OTLP/gRPC client.
pub async fn grpc_client(addr: SocketAddr) -> TraceServiceClient<Channel> {
    TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connecting to weft over gRPC")
}

/// A response from the OTLP/HTTP receiver.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: http::StatusCode,
    /// The response headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// POSTs `body` to `http://addr/v1/traces` with the given headers.
pub async fn post_traces(
    addr: SocketAddr,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> HttpResponse {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut request = http::Request::post(format!("http://{addr}/v1/traces"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .expect("POST /v1/traces");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    HttpResponse {
        status,
        headers,
        body,
    }
}

/// GETs `http://addr{path}`; returns the status code and the body as text.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    send(http::Request::get(format!("http://{addr}{path}"))).await
}

/// POSTs an empty body to `http://addr{path}`; returns the status code and the body as text.
pub async fn post(addr: SocketAddr, path: &str) -> (u16, String) {
    send(http::Request::post(format!("http://{addr}{path}"))).await
}

/// Sends `method path` to `addr` with `headers` and an empty body, and returns the status
/// and the response, whose body is left to stream (a tap).
pub async fn open(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> http::Response<hyper::body::Incoming> {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .expect("admin request")
}

/// [`open`], then the whole body as text.
pub async fn request(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let response = open(addr, method, path, headers).await;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn send(request: http::request::Builder) -> (u16, String) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = client
        .request(request.body(Full::new(Bytes::new())).unwrap())
        .await
        .expect("admin request");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The value of the sample `name` (with labels, exactly as rendered) in a Prometheus scrape.
///
/// # Panics
/// When the sample is missing.
pub fn metric_sample(scrape: &str, name: &str) -> u64 {
    scrape
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .unwrap_or_else(|| panic!("{name} not in the scrape:\n{scrape}"))
        .parse()
        .unwrap()
}
