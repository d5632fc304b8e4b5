//! Who may write spans and who may read them: the receivers' bearer tokens (read from a file
//! the config references), the admin token, the admin server's Host and Origin checks, and
//! what a tap may show of data a redactor has not cleaned yet.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Method;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use tonic::Code;
use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::app::{checkout, tracer_provider_with_token};
use weft_tests::client::{grpc_client, metric_sample, open, post_traces, request};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{kv, request as spans_request, request_of, span};
use weft_tests::{config_with, scratch_dir};

/// Starts weft from `toml` written to `weft.toml` in `dir` (references resolve against it).
async fn start_in(dir: &std::path::Path, toml: &str) -> RunningService {
    let path = dir.join("weft.toml");
    std::fs::write(&path, toml).unwrap();
    let config = LoadedConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    RunningService::start(config).await.unwrap()
}

fn with_bearer(
    request: ExportTraceServiceRequest,
    token: &str,
) -> tonic::Request<ExportTraceServiceRequest> {
    let mut request = tonic::Request::new(request);
    let value = format!("Bearer {token}").parse().unwrap();
    request.metadata_mut().insert("authorization", value);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_take_spans_only_with_a_configured_token() {
    let dir = scratch_dir("receiver-tokens");
    std::fs::write(dir.join("tokens"), "team-a-t0k3n-1234\nteam-b-t0k3n-5678\n").unwrap();
    let sink = OtlpSink::start().await;
    let toml = config_with("", sink.addr()).replace(
        "[pipeline]",
        "[receivers.otlp.auth]\nbearer_tokens = [\"${file:tokens}\"]\n\n[pipeline]",
    );
    let weft = start_in(&dir, &toml).await;
    let grpc = weft.grpc_addr().unwrap();
    let http = weft.http_addr().unwrap();

    // A real SDK client configured with team B's token: its spans arrive.
    let provider = tracer_provider_with_token(grpc, Some("team-b-t0k3n-5678"));
    checkout(&provider, 0);
    provider.force_flush().unwrap();
    let accepted = sink.wait_for(1, Duration::from_secs(30)).await;
    assert!(accepted >= 1, "spans with a valid token arrive");

    // The same SDK with a token Weft does not know: refused, nothing arrives.
    let guessing = tracer_provider_with_token(grpc, Some("team-c-guess"));
    checkout(&guessing, 1);
    assert!(
        guessing.force_flush().is_err(),
        "the SDK's export is refused"
    );
    let mut client = grpc_client(grpc).await;
    let status = client.export(spans_request(0, 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(
        status.message().contains("no authorization header"),
        "{status:?}"
    );
    let status = client
        .export(with_bearer(spans_request(0, 1), "team-a-t0k3n-123"))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::Unauthenticated,
        "a prefix of a token is not the token"
    );
    client
        .export(with_bearer(spans_request(100, 3), "team-a-t0k3n-1234"))
        .await
        .expect("team A's token works too");

    // OTLP/HTTP: 401 with a challenge, then 200 with the token.
    let body = spans_request(200, 2).encode_to_vec();
    let protobuf = ("content-type", "application/x-protobuf");
    let refused = post_traces(http, &[protobuf], body.clone()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.headers["www-authenticate"], "Bearer");
    let ok = post_traces(
        http,
        &[protobuf, ("authorization", "Bearer team-a-t0k3n-1234")],
        body,
    )
    .await;
    assert_eq!(ok.status, 200);

    let expected = accepted + 3 + 2;
    assert_eq!(
        sink.wait_for(expected, Duration::from_secs(30)).await,
        expected
    );
    let (_, scrape) = request(weft.admin_addr().unwrap(), Method::GET, "/metrics", &[]).await;
    let grpc_refused = metric_sample(
        &scrape,
        "weft_receiver_requests_unauthenticated_total{protocol=\"grpc\"}",
    );
    assert!(
        grpc_refused >= 3,
        "the SDK's export and two raw ones: {grpc_refused}"
    );
    assert_eq!(
        metric_sample(
            &scrape,
            "weft_receiver_requests_unauthenticated_total{protocol=\"http\"}"
        ),
        1
    );
    weft.shutdown().await;
    assert_eq!(
        sink.span_count(),
        expected,
        "nothing unauthenticated got through"
    );
}

/// The lines of a streaming response, until `count` lines or `timeout`.
async fn lines(response: http::Response<hyper::body::Incoming>, count: usize) -> Vec<String> {
    let mut body = response.into_body();
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while text.lines().count() < count && Instant::now() < deadline {
        let frame = tokio::time::timeout(Duration::from_millis(200), body.frame()).await;
        if let Ok(Some(Ok(frame))) = frame
            && let Some(data) = frame.data_ref()
        {
            text.push_str(&String::from_utf8_lossy(data));
        }
    }
    text.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_server_wants_its_token_its_own_host_and_shows_no_raw_data() {
    let dir = scratch_dir("admin-guard");
    std::fs::write(dir.join("admin-token"), "adm1n-t0k3n-9876\n").unwrap();
    let sink = OtlpSink::start().await;
    let redact = "[[processors]]\nname = \"redact\"\nplugin = \"builtin:pii-redact\"\n";
    let toml = config_with(redact, sink.addr()).replace(
        "[admin]\nendpoint = \"127.0.0.1:0\"",
        "[admin]\nendpoint = \"127.0.0.1:0\"\ntoken = \"${file:admin-token}\"\n\
         [admin.tap]\nmax_concurrent = 1",
    );
    let weft = start_in(&dir, &toml).await;
    let admin: SocketAddr = weft.admin_addr().unwrap();
    let token = ("authorization", "Bearer adm1n-t0k3n-9876");

    for probe in ["/healthz", "/readyz"] {
        assert_eq!(
            request(admin, Method::GET, probe, &[]).await.0,
            200,
            "{probe}"
        );
    }
    for (method, path) in [
        (Method::GET, "/metrics"),
        (Method::GET, "/api/plugins"),
        (Method::GET, "/api/tap?processor=redact"),
        (Method::POST, "/reload"),
    ] {
        let (status, body) = request(admin, method.clone(), path, &[]).await;
        assert_eq!(status, 401, "{method} {path}: {body}");
        let wrong = ("authorization", "Bearer adm1n-t0k3n-987");
        assert_eq!(request(admin, method, path, &[wrong]).await.0, 401);
    }
    assert_eq!(
        request(admin, Method::GET, "/metrics", &[token]).await.0,
        200
    );

    // DNS rebinding: a page on another domain that resolves to this address.
    let rebound = ("host", "attacker.example:8888");
    let (status, body) = request(admin, Method::GET, "/healthz", &[rebound]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("DNS rebinding"), "{body}");
    // A cross-site POST from a browser, even one that somehow has the token.
    let foreign = ("origin", "https://attacker.example");
    assert_eq!(
        request(admin, Method::POST, "/reload", &[token, foreign])
            .await
            .0,
        403
    );
    let own = format!("http://{admin}");
    let same = ("origin", own.as_str());
    assert_eq!(
        request(admin, Method::POST, "/reload", &[token, same])
            .await
            .0,
        200
    );

    // Taps: nothing from before the redactor, one at a time.
    let (status, body) = request(
        admin,
        Method::GET,
        "/api/tap?processor=redact&point=before",
        &[token],
    )
    .await;
    assert_eq!(status, 403);
    assert!(body.contains("admin.tap.allow_raw"), "{body}");
    let tap = open(
        admin,
        Method::GET,
        "/api/tap?processor=redact&point=diff&rate=100",
        &[token],
    )
    .await;
    assert_eq!(tap.status(), 200);
    let (status, body) = request(
        admin,
        Method::GET,
        "/api/tap?processor=redact&point=after",
        &[token],
    )
    .await;
    assert_eq!(status, 429, "{body}");

    // The span already has a `user.email`; a second one (OTLP forbids duplicate keys, a client
    // may send them anyway) must not slip past the redactor either.
    let mut leaky = span(0, "checkout");
    leaky.attributes.push(kv("user.email", "bob@example.com"));
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client.export(request_of(vec![leaky])).await.unwrap();
    let shown = lines(tap, 2).await;
    assert_eq!(shown.len(), 2, "the tap's header and one event: {shown:?}");
    let event = &shown[1];
    assert!(!event.contains("bob@example.com"), "{event}");
    assert!(
        event.contains("[REDACTED:email]") && event.contains("\"before_hidden\":true"),
        "{event}"
    );
    weft.shutdown().await;
}

/// Whether the server closes `stream` (reads to its end) within `within`.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buffer = [0u8; 256];
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let read = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer));
        if let Ok(Ok(0) | Err(_)) = read.await {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_headers_and_connections_past_the_cap_are_closed_and_counted() {
    use tokio::io::AsyncWriteExt;
    let dir = scratch_dir("listener-limits");
    let sink = OtlpSink::start().await;
    let toml = config_with("", sink.addr()).replace(
        "[pipeline]",
        "[receivers.otlp.http.limits]\nheader_read_timeout_ms = 300\n\
         [receivers.otlp.grpc.limits]\nmax_connections = 2\n\n[pipeline]",
    );
    let weft = start_in(&dir, &toml).await;
    let (grpc, http) = (weft.grpc_addr().unwrap(), weft.http_addr().unwrap());

    // Slowloris: headers started and never finished.
    let mut slow = tokio::net::TcpStream::connect(http).await.unwrap();
    slow.write_all(b"POST /v1/traces HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_within(&mut slow, Duration::from_secs(10)).await,
        "a connection whose headers never end is closed"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
    );

    // Two connections hold both gRPC slots; a third is closed as it arrives.
    let first = tokio::net::TcpStream::connect(grpc).await.unwrap();
    let _second = tokio::net::TcpStream::connect(grpc).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = tokio::net::TcpStream::connect(grpc).await.unwrap();
    assert!(closed_within(&mut third, Duration::from_secs(5)).await);
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut client = grpc_client(grpc).await;
    client
        .export(spans_request(0, 2))
        .await
        .expect("a freed slot serves again");

    let (_, scrape) = request(weft.admin_addr().unwrap(), Method::GET, "/metrics", &[]).await;
    let refused = |protocol: &str, reason: &str| {
        metric_sample(
            &scrape,
            &format!(
                "weft_receiver_connections_refused_total{{protocol=\"{protocol}\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(refused("http", "header_timeout"), 1);
    assert_eq!(refused("grpc", "connection_limit"), 1);
    weft.shutdown().await;
}
