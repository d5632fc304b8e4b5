//! Helpers for Weft's end-to-end tests: an OTLP sink, span generators, OTLP clients, and a
//! way to start `weft` on 127.0.0.1 with ephemeral ports.

pub mod app;
pub mod certs;
pub mod client;
pub mod process;
pub mod sink;
pub mod spans;

use weft::config::LoadedConfig;
use weft::service::RunningService;

/// Path of a fixture plugin built from `tests/fixtures/NAME` by the build script.
pub fn fixture(name: &str) -> &'static str {
    match name {
        "passthrough" => env!("WEFT_FIXTURE_PASSTHROUGH"),
        "faulty" => env!("WEFT_FIXTURE_FAULTY"),
        "contract-bench" => env!("WEFT_FIXTURE_CONTRACT_BENCH"),
        "stamp-v1" => env!("WEFT_FIXTURE_STAMP_V1"),
        "stamp-v2" => env!("WEFT_FIXTURE_STAMP_V2"),
        "wrong-world" => env!("WEFT_FIXTURE_WRONG_WORLD"),
        "python-redact" => env!("WEFT_FIXTURE_PYTHON_REDACT"),
        "python-checkout-policy" => env!("WEFT_FIXTURE_PYTHON_CHECKOUT_POLICY"),
        "hostile" => env!("WEFT_FIXTURE_HOSTILE"),
        "hostile-policy" => env!("WEFT_FIXTURE_HOSTILE_POLICY"),
        "contract-v0-2" => env!("WEFT_FIXTURE_CONTRACT_V0_2"),
        "contract-future" => env!("WEFT_FIXTURE_CONTRACT_FUTURE"),
        "javascript-enrich" => env!("WEFT_FIXTURE_JAVASCRIPT_ENRICH"),
        "c-sample" => env!("WEFT_FIXTURE_C_SAMPLE"),
        other => panic!("no fixture {other:?}"),
    }
}

/// Receivers on ephemeral ports (1 MiB request limit) and an OTLP/gRPC exporter to `sink`, with `processors`
/// (TOML `[[processors]]` entries) in between.
pub fn config_with(processors: &str, sink: std::net::SocketAddr) -> String {
    format!(
        r#"
[receivers.otlp.grpc]
endpoint = "127.0.0.1:0"
max_request_bytes = 1048576
[receivers.otlp.http]
endpoint = "127.0.0.1:0"
max_request_bytes = 1048576

[pipeline]
component_cache = false
[admin]
endpoint = "127.0.0.1:0"

{processors}

[exporters.sink]
type = "otlp"
endpoint = "http://{sink}"
[exporters.sink.batch]
timeout_ms = 20
[exporters.sink.retry]
initial_backoff_ms = 10
max_backoff_ms = 100
"#
    )
}

/// [`config_with`] with `settings` (TOML lines) added to its `[pipeline]` table.
pub fn config_with_pipeline(
    processors: &str,
    sink: std::net::SocketAddr,
    settings: &str,
) -> String {
    config_with(processors, sink).replace("[pipeline]\n", &format!("[pipeline]\n{settings}\n"))
}

/// A port free on 127.0.0.1 now, for a receiver that must keep its address across restarts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `weft` from a TOML configuration text.
pub async fn start_weft(config: &str) -> RunningService {
    let loaded =
        LoadedConfig::from_str(config, std::path::PathBuf::from("."), "test config".into())
            .unwrap_or_else(|e| panic!("test config is invalid: {e}\n{config}"));
    RunningService::start(loaded).await.expect("weft starts")
}
