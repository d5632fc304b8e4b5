//! The `weft` binary as operators use it: `weft check`, and `weft run` stopped by SIGTERM
//! after accepting spans, which must all be flushed before it exits 0.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_accepts_the_example_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/weft.toml");
    let output = Command::new(WEFT)
        .args(["check", "--config", example])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("ok      processor \"environment\""),
        "{stdout}"
    );
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn check_lists_every_error_with_its_path_and_exits_1() {
    let dir = scratch_dir("check");
    let config = dir.join("weft.toml");
    std::fs::write(
        &config,
        "[receivers.otlp.grpc]\nendpoint = \"nowhere\"\n[[processors]]\nname = \"a\"\nplugin = \"missing.wasm\"\nretries = 3\n",
    )
    .unwrap();
    let output = Command::new(WEFT)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("3 configuration errors"), "{stderr}");
    assert!(
        stderr.contains("receivers.otlp.grpc.endpoint: \"nowhere\" is not an IP:port address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("processors[0] (\"a\").retries: unknown field `retries`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("exporters: no exporter is configured"),
        "{stderr}"
    );
}

#[test]
fn sigterm_flushes_every_accepted_span_and_exits_0() {
    let dir = scratch_dir("sigterm");
    let output = dir.join("spans.jsonl");
    let config = dir.join("weft.toml");
    // A batch timeout far longer than the test: only the shutdown flush can write the file.
    std::fs::write(
        &config,
        r#"
[receivers.otlp.http]
endpoint = "127.0.0.1:0"
[admin]
endpoint = "127.0.0.1:0"
[[processors]]
name = "enrich"
plugin = "builtin:enrich"
config = { actions = [{ action = "upsert", key = "flushed", value = true }] }
[exporters.file]
type = "file"
path = "spans.jsonl"
[exporters.file.batch]
timeout_ms = 3600000
max_spans = 1000000
"#,
    )
    .unwrap();
    let mut child = Command::new(WEFT)
        .args(["run", "--log-format", "json", "--config"])
        .arg(&config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        assert!(Instant::now() < deadline, "weft did not start");
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "weft exited before it started"
        );
        if line.contains("Weft is running.") {
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            let http = log["fields"]["http"].as_str().unwrap().to_owned();
            break http
                .trim_start_matches("Some(")
                .trim_end_matches(')')
                .to_owned();
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let requests = 20;
    runtime.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        for r in 0..requests {
            let spans: Vec<serde_json::Value> = (0..50)
                .map(|s| {
                    serde_json::json!({
                        "traceId": format!("{:032x}", r * 1000 + s + 1),
                        "spanId": format!("{:016x}", r * 1000 + s + 1),
                        "name": "GET /",
                    })
                })
                .collect();
            let body = serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})
                .to_string();
            let request = http::Request::post(format!("http://{addr}/v1/traces"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), 200);
            let _ = response.into_body().collect().await;
        }
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "weft exited with {exit:?}");
    let written = std::fs::read_to_string(&output).unwrap();
    let mut spans = 0;
    for line in written.lines() {
        let request: serde_json::Value = serde_json::from_str(line).unwrap();
        for rs in request["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for span in ss["spans"].as_array().unwrap() {
                    assert!(
                        span["attributes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|a| a["key"] == "flushed")
                    );
                    spans += 1;
                }
            }
        }
    }
    assert_eq!(
        spans,
        requests * 50,
        "every accepted span is in the file after SIGTERM"
    );
}

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/plugin-test/enrich"
);

#[test]
fn plugin_test_passes_when_the_output_matches_the_expected_file() {
    let output = Command::new(WEFT)
        .args(["plugin", "test", "builtin:enrich"])
        .args(["--config", &format!("{GOLDEN}/config.toml")])
        .args(["--input", &format!("{GOLDEN}/input.json")])
        .args(["--expect", &format!("{GOLDEN}/expected.json")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok: output matches"), "{stdout}");
}

#[test]
fn plugin_test_prints_a_diff_and_exits_1_on_mismatch() {
    // Expecting the input unchanged: the enrich plugin's edits show up as the diff.
    let output = Command::new(WEFT)
        .args(["plugin", "test", "builtin:enrich"])
        .args(["--config", &format!("{GOLDEN}/config.toml")])
        .args(["--input", &format!("{GOLDEN}/input.json")])
        .args(["--expect", &format!("{GOLDEN}/input.json")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("+                   \"key\": \"deployment.environment\","),
        "{stdout}"
    );
    assert!(
        stdout.contains("-                   \"key\": \"enduser.id\","),
        "{stdout}"
    );
}

#[test]
fn plugin_test_without_expect_prints_the_processed_spans() {
    let output = Command::new(WEFT)
        .args(["plugin", "test", "builtin:enrich"])
        .args(["--config", &format!("{GOLDEN}/config.toml")])
        .args(["--input", &format!("{GOLDEN}/input.json")])
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{GOLDEN}/expected.json")).unwrap())
            .unwrap();
    assert_eq!(printed, expected);
}

#[test]
fn plugin_test_dry_runs_a_tail_sampling_policy() {
    let golden = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/plugin-test/tail-policy"
    );
    let output = Command::new(WEFT)
        .args(["plugin", "test", "builtin:tail-policy"])
        .args(["--config", &format!("{golden}/config.toml")])
        .args(["--input", &format!("{golden}/input.json")])
        .args(["--expect", &format!("{golden}/expected.json")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("ok: output matches"), "{stdout}");
    for line in [
        "trace 0af7651916cd43dd8448eb211c80319c: keep (2 span(s)), reason \"error\"",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736: keep (2 span(s)), reason \"slow\"",
        "trace 5b8efff798038103d269b633813fc60c: drop (1 span(s)), reason \"ordinary\"",
    ] {
        assert!(stderr.contains(line), "{line}\n{stderr}");
    }
}
