//! TLS end to end, with certificates made by the test: the OpenTelemetry Python SDK exporting
//! over TLS and mutual TLS to the gRPC receiver, refused for an unknown CA or a missing client
//! certificate (and counted), certificate rotation while it keeps exporting, the HTTP
//! receiver over TLS, and weft exporting to another weft over TLS and mutual TLS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::certs::{Issued, TestCa};
use weft_tests::client::{metric_sample, request};
use weft_tests::sink::OtlpSink;
use weft_tests::spans::request as spans_request;
use weft_tests::{config_with, scratch_dir};

/// Runs the Python SDK exporter script; returns (spans exported, spans failed).
fn python_export(args: &[&str]) -> (usize, usize) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/otlp_export.py");
    let output = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .expect("running python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("ModuleNotFoundError"),
        "the OpenTelemetry Python SDK is missing: python3 -m pip install \
         opentelemetry-sdk==1.39.0 opentelemetry-exporter-otlp-proto-grpc==1.39.0 \
         opentelemetry-exporter-otlp-proto-http==1.39.0\n{stderr}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("exported "))
        .unwrap_or_else(|| panic!("no result line: {stdout}{stderr}"));
    let mut counts = line.split(' ').map(|n| n.parse::<usize>().unwrap());
    (counts.next().unwrap(), counts.next().unwrap())
}

fn tls_table(listener: &str, server: &Issued, client_ca: Option<&Path>) -> String {
    let mut table = format!(
        "[receivers.otlp.{listener}.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        server.cert, server.key
    );
    if let Some(ca) = client_ca {
        table.push_str(&format!(
            "client_ca_file = {ca:?}\nclient_subject_attribute = \"tenant\"\n"
        ));
    }
    table
}

async fn start(dir: &Path, toml: &str) -> RunningService {
    let path = dir.join("weft.toml");
    std::fs::write(&path, toml).unwrap();
    let config = LoadedConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    RunningService::start(config).await.unwrap()
}

/// A TLS client configuration trusting the CA in `ca` (PEM).
fn trusting(ca: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(
        #[allow(deprecated)]
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// The certificate 127.0.0.1:`port` presents to a client trusting `ca`.
async fn presented_certificate(addr: std::net::SocketAddr, ca: &Path) -> Vec<u8> {
    let config = trusting(ca);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_exports_over_tls_and_mtls_and_a_rotated_certificate_loses_nothing() {
    let dir = scratch_dir("tls-receivers");
    let (ca, ca_file) = TestCa::new(&dir, "ca");
    let (other_ca, other_ca_file) = TestCa::new(&dir, "other-ca");
    let server = ca.server(&dir, "server");
    let client = ca.client(&dir, "tenant-a");
    let stranger = other_ca.client(&dir, "stranger");
    let sink = OtlpSink::start().await;
    let tls = tls_table("grpc", &server, Some(&ca_file)) + &tls_table("http", &server, None);
    let toml = config_with("", sink.addr()).replace("[pipeline]", &format!("{tls}\n[pipeline]"));
    let weft = start(&dir, &toml).await;
    let grpc = weft.grpc_addr().unwrap();
    let http = weft.http_addr().unwrap();
    let endpoint = format!("https://127.0.0.1:{}", grpc.port());
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let (ca_arg, cert_arg, key_arg) = (s(&ca_file), s(&client.cert), s(&client.key));

    // Mutual TLS with a certificate the configured CA signed: accepted.
    let trusted = [
        "--endpoint",
        &endpoint,
        "--ca",
        &ca_arg,
        "--cert",
        &cert_arg,
        "--key",
        &key_arg,
    ];
    // Its certificate's subject names the tenant on every resource, whatever the client says.
    let spoof = [
        "--spans",
        "5",
        "--resource-attribute",
        "tenant=someone-else",
    ];
    let (ok, failed) = python_export(&[&trusted[..], &spoof].concat());
    assert_eq!((ok, failed), (5, 0));
    assert_eq!(sink.wait_for(5, Duration::from_secs(30)).await, 5);
    for request in sink.requests() {
        for resource_spans in &request.resource_spans {
            let attributes = &resource_spans.resource.as_ref().unwrap().attributes;
            let tenants: Vec<_> = attributes
                .iter()
                .filter(|kv| kv.key == "tenant")
                .map(|kv| format!("{:?}", kv.value))
                .collect();
            assert_eq!(tenants.len(), 1, "{attributes:?}");
            assert!(tenants[0].contains("CN=tenant-a"), "{tenants:?}");
        }
    }

    // No client certificate, or one another CA signed: the handshake is refused.
    let (stranger_cert, stranger_key) = (s(&stranger.cert), s(&stranger.key));
    let refused = [
        vec!["--endpoint", &endpoint, "--ca", &ca_arg, "--spans", "1"],
        vec![
            "--endpoint",
            &endpoint,
            "--ca",
            &ca_arg,
            "--cert",
            &stranger_cert,
            "--key",
            &stranger_key,
            "--spans",
            "1",
        ],
    ];
    for args in &refused {
        assert_eq!(python_export(args), (0, 1), "{args:?}");
    }
    // A client that does not trust the server's CA gives up on its own.
    let wrong_ca = s(&other_ca_file);
    let distrust = [
        "--endpoint",
        &endpoint,
        "--ca",
        &wrong_ca,
        "--cert",
        &cert_arg,
        "--key",
        &key_arg,
        "--spans",
        "1",
    ];
    assert_eq!(python_export(&distrust), (0, 1));
    let (_, scrape) = request(weft.admin_addr().unwrap(), Method::GET, "/metrics", &[]).await;
    let failures = metric_sample(
        &scrape,
        "weft_receiver_tls_handshakes_failed_total{protocol=\"grpc\"}",
    );
    assert!(
        failures >= 3,
        "every refused handshake is counted: {failures}"
    );

    // Rotation: a new certificate replaces the old files while the SDK keeps exporting.
    assert_eq!(presented_certificate(grpc, &ca_file).await, server.der);
    let exporting = {
        let args: Vec<String> = [&trusted[..], &["--spans", "60", "--interval-ms", "50"]]
            .concat()
            .iter()
            .map(|a| a.to_string())
            .collect();
        std::thread::spawn(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            python_export(&args)
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    let rotated = ca.server(&dir, "server");
    assert_ne!(rotated.der, server.der);
    let deadline = Instant::now() + Duration::from_secs(20);
    while presented_certificate(grpc, &ca_file).await != rotated.der {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ok, failed) = tokio::task::spawn_blocking(move || exporting.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (ok, failed),
        (60, 0),
        "no export failed across the rotation"
    );
    assert_eq!(sink.wait_for(65, Duration::from_secs(30)).await, 65);

    // OTLP/HTTP over TLS (no client certificate asked for there): the Python SDK's HTTP
    // exporter, then a Rust client.
    let http_endpoint = format!("https://127.0.0.1:{}", http.port());
    let over_http = [
        "--protocol",
        "http",
        "--endpoint",
        &http_endpoint,
        "--ca",
        &ca_arg,
    ];
    assert_eq!(
        python_export(&[&over_http[..], &["--spans", "3"]].concat()),
        (3, 0)
    );
    assert_eq!(sink.wait_for(68, Duration::from_secs(30)).await, 68);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(trusting(&ca_file))
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let post = http::Request::post(format!("https://127.0.0.1:{}/v1/traces", http.port()))
        .header("content-type", "application/x-protobuf")
        .body(Full::new(Bytes::from(spans_request(0, 2).encode_to_vec())))
        .unwrap();
    let response = client.request(post).await.unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.into_body().collect().await;
    assert_eq!(sink.wait_for(70, Duration::from_secs(30)).await, 70);
    // Plaintext on the TLS port gets no answer, and the failed handshake is counted.
    let mut plain = tokio::net::TcpStream::connect(http).await.unwrap();
    plain
        .write_all(b"POST /v1/traces HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), plain.read_to_end(&mut answer)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let (_, scrape) = request(weft.admin_addr().unwrap(), Method::GET, "/metrics", &[]).await;
    assert_eq!(
        metric_sample(
            &scrape,
            "weft_receiver_tls_handshakes_failed_total{protocol=\"http\"}"
        ),
        1
    );
    weft.shutdown().await;
    assert_eq!(sink.span_count(), 70);
}

/// A weft listening on loopback with `exporters` (TOML) and no processors.
fn forwarder(exporters: &str) -> String {
    format!(
        "[receivers.otlp.grpc]\nendpoint = \"127.0.0.1:0\"\n[pipeline]\ncomponent_cache = false\n\
         [admin]\nendpoint = \"127.0.0.1:0\"\n{exporters}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_exports_to_weft_over_tls_and_mtls_and_fails_without_its_certificate() {
    let dir = scratch_dir("tls-exporters");
    let (ca, ca_file) = TestCa::new(&dir, "ca");
    let server = ca.server(&dir, "backend");
    let client = ca.client(&dir, "gateway");
    let sink = OtlpSink::start().await;
    let tls =
        tls_table("grpc", &server, Some(&ca_file)) + &tls_table("http", &server, Some(&ca_file));
    let backend_toml =
        config_with("", sink.addr()).replace("[pipeline]", &format!("{tls}\n[pipeline]"));
    let backend_dir = dir.join("backend");
    std::fs::create_dir_all(&backend_dir).unwrap();
    let backend = start(&backend_dir, &backend_toml).await;
    let (grpc, http) = (backend.grpc_addr().unwrap(), backend.http_addr().unwrap());

    // The Python SDK's HTTP exporter with mutual TLS: with its certificate, and without.
    let (ca_arg, cert_arg, key_arg) = (
        ca_file.to_str().unwrap(),
        client.cert.to_str().unwrap(),
        client.key.to_str().unwrap(),
    );
    let endpoint = format!("https://127.0.0.1:{}", http.port());
    let over_http = [
        "--protocol",
        "http",
        "--endpoint",
        &endpoint,
        "--ca",
        ca_arg,
    ];
    let with_cert = ["--cert", cert_arg, "--key", key_arg, "--spans", "2"];
    assert_eq!(
        python_export(&[&over_http[..], &with_cert].concat()),
        (2, 0)
    );
    assert_eq!(
        python_export(&[&over_http[..], &["--spans", "1"]].concat()),
        (0, 1)
    );
    assert_eq!(sink.wait_for(2, Duration::from_secs(30)).await, 2);

    // The gateway: OTLP/gRPC and OTLP/HTTP with a client certificate, the gRPC backend's
    // name checked as `localhost` though the endpoint says 127.0.0.1.
    let gateway_toml = forwarder(&format!(
        "[exporters.grpc]\ntype = \"otlp\"\nendpoint = \"https://127.0.0.1:{}\"\n\
         [exporters.grpc.tls]\nca_file = {ca_file:?}\ncert_file = {:?}\nkey_file = {:?}\n\
         server_name = \"localhost\"\n\
         [exporters.grpc.batch]\ntimeout_ms = 20\n\
         [exporters.http]\ntype = \"otlphttp\"\nendpoint = \"https://127.0.0.1:{}\"\n\
         [exporters.http.tls]\nca_file = {ca_file:?}\ncert_file = {:?}\nkey_file = {:?}\n\
         [exporters.http.batch]\ntimeout_ms = 20\n",
        grpc.port(),
        client.cert,
        client.key,
        http.port(),
        client.cert,
        client.key,
    ));
    let gateway_dir = dir.join("gateway");
    std::fs::create_dir_all(&gateway_dir).unwrap();
    let gateway = start(&gateway_dir, &gateway_toml).await;
    let mut to_gateway = weft_tests::client::grpc_client(gateway.grpc_addr().unwrap()).await;
    to_gateway.export(spans_request(0, 10)).await.unwrap();
    assert_eq!(
        sink.wait_for(22, Duration::from_secs(30)).await,
        22,
        "each exporter delivered the 10 spans through the backend"
    );
    gateway.shutdown().await;

    // Without its client certificate the gateway's exports are refused at the handshake.
    let uncertified_toml = forwarder(&format!(
        "[exporters.grpc]\ntype = \"otlp\"\nendpoint = \"https://127.0.0.1:{}\"\n\
         [exporters.grpc.tls]\nca_file = {ca_file:?}\n\
         [exporters.grpc.batch]\ntimeout_ms = 20\n\
         [exporters.grpc.retry]\ninitial_backoff_ms = 10\nmax_backoff_ms = 50\nmax_elapsed_ms = 500\n",
        grpc.port()
    ));
    let uncertified = start(&gateway_dir, &uncertified_toml).await;
    let mut to_uncertified =
        weft_tests::client::grpc_client(uncertified.grpc_addr().unwrap()).await;
    to_uncertified.export(spans_request(0, 4)).await.unwrap();
    let admin = uncertified.admin_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, scrape) = request(admin, Method::GET, "/metrics", &[]).await;
        let failed = metric_sample(
            &scrape,
            "weft_exporter_spans_failed_total{exporter=\"grpc\"}",
        );
        if failed == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the refused spans were never counted: {failed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    uncertified.shutdown().await;
    backend.shutdown().await;
    assert_eq!(
        sink.span_count(),
        22,
        "nothing came through without a certificate"
    );
}
