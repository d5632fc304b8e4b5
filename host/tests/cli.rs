//! The `weft` binary as operators use it: `weft check`, and `weft run` stopped by SIGTERM
//! after accepting spans, which must all be flushed before it exits 0.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
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

/// Writes `weft.toml` into a fresh scratch directory `name`: an OTLP/HTTP receiver and the
/// admin server on ephemeral ports, then `rest` (processors, exporters, ...).
fn config_file(name: &str, rest: &str) -> PathBuf {
    let config = scratch_dir(name).join("weft.toml");
    let listeners =
        "[receivers.otlp.http]\nendpoint = \"127.0.0.1:0\"\n[admin]\nendpoint = \"127.0.0.1:0\"\n";
    std::fs::write(&config, format!("{listeners}{rest}")).unwrap();
    config
}

/// A `weft run` child process, started and listening.
struct Weft {
    child: Child,
    stderr: BufReader<ChildStderr>,
    http: String,
    admin: String,
}

/// Starts `weft run --config CONFIG` with JSON logs and waits for its start-up line (60 s at
/// most); the addresses come from that line. The caller waits for the child.
#[allow(clippy::zombie_processes)]
fn spawn_weft(config: &Path) -> Weft {
    let mut child = Command::new(WEFT)
        .args(["run", "--log-format", "json", "--config"])
        .arg(config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).unwrap_or(0);
        if read == 0 || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weft did not start (it exited, or took over 60 s)");
        }
        if line.contains("Weft is running.") {
            let log: serde_json::Value = serde_json::from_str(&line).unwrap();
            let address = |field: &str| {
                log["fields"][field]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("Some(")
                    .trim_end_matches(')')
                    .to_owned()
            };
            return Weft {
                http: address("http"),
                admin: address("admin"),
                child,
                stderr,
            };
        }
    }
}

/// POSTs one OTLP JSON request of `spans` spans (ids from `first`), each with `attributes`.
async fn post_spans(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    addr: &str,
    first: u64,
    spans: u64,
    attributes: serde_json::Value,
) {
    let spans: Vec<serde_json::Value> = (first..first + spans)
        .map(|n| {
            serde_json::json!({
                "traceId": format!("{:032x}", n + 1),
                "spanId": format!("{:016x}", n + 1),
                "name": "GET /",
                "attributes": attributes,
            })
        })
        .collect();
    let body =
        serde_json::json!({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).to_string();
    let request = http::Request::post(format!("http://{addr}/v1/traces"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let _ = response.into_body().collect().await;
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
fn the_tls_example_checks_with_the_certificates_make_certs_writes() {
    let dir = scratch_dir("tls-example");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/tls");
    std::fs::copy(format!("{examples}/weft.toml"), dir.join("weft.toml")).unwrap();
    let config = dir.join("weft.toml");
    let check = |token: Option<&str>| weft_check(&config, &[("WEFT_RECEIVER_TOKEN", token)]);
    let (ok, said) = check(Some("t0k3n-from-the-environment"));
    assert!(!ok, "no certificates yet: {said}");
    assert!(
        said.contains("receivers.otlp.grpc.tls: cannot read"),
        "{said}"
    );
    assert!(said.contains("certs/ca.pem"), "the file is named: {said}");

    let made = Command::new("bash")
        .arg(format!("{examples}/make-certs.sh"))
        .arg(dir.join("certs"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let (ok, said) = check(Some("t0k3n-from-the-environment"));
    assert!(ok, "{said}");
    assert!(!said.contains("t0k3n-from-the-environment"), "{said}");
    let (ok, said) = check(None);
    assert!(!ok);
    assert!(
        said.contains("receivers.otlp.auth.bearer_tokens[0]") && said.contains("is not set"),
        "{said}"
    );
}

#[test]
fn check_never_prints_a_value_a_reference_produced() {
    let dir = scratch_dir("secret-in-error");
    // A plugin refusing its config quotes it: here the redactor quotes a pattern that does not
    // compile, read from a file.
    std::fs::write(dir.join("pattern"), "(unclosed-s3cret-pattern\n").unwrap();
    let config = dir.join("weft.toml");
    std::fs::write(
        &config,
        "[receivers.otlp.grpc]\nendpoint = \"127.0.0.1:0\"\n[exporters.out]\ntype = \"stdout\"\n\
         [[processors]]\nname = \"redact\"\nplugin = \"builtin:pii-redact\"\n\
         [[processors.config.patterns]]\nname = \"internal\"\nregex = \"${file:pattern}\"\n",
    )
    .unwrap();
    let (ok, said) = weft_check(&config, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("patterns[0].regex"),
        "the error still says where: {said}"
    );
    assert!(said.contains("[secret]"), "{said}");
    assert!(!said.contains("s3cret-pattern"), "{said}");
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
    // A batch timeout far longer than the test: only the shutdown flush can write the file.
    let config = config_file(
        "sigterm",
        r#"
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
    );
    let output = config.with_file_name("spans.jsonl");
    // Keep its log pipe open: weft logs while it shuts down.
    let Weft {
        mut child,
        http: addr,
        stderr: _log,
        ..
    } = spawn_weft(&config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let requests = 20;
    runtime.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        for r in 0..requests {
            post_spans(&client, &addr, r * 1000, 50, serde_json::json!([])).await;
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

/// `weft plugin test PLUGIN` on the config, input and expected output in `dir`.
fn plugin_test_against(plugin: &str, dir: &str) -> std::process::Output {
    Command::new(WEFT)
        .args(["plugin", "test", plugin])
        .args(["--config", &format!("{dir}/config.toml")])
        .args(["--input", &format!("{dir}/input.json")])
        .args(["--expect", &format!("{dir}/expected.json")])
        .output()
        .unwrap()
}

/// `weft check --config CONFIG` with environment variables set (or removed, for `None`):
/// whether it passed, and everything it printed.
fn weft_check(config: &Path, env: &[(&str, Option<&str>)]) -> (bool, String) {
    let mut command = Command::new(WEFT);
    command.args(["check", "--config"]).arg(config);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let output = command.output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), said)
}

#[test]
fn plugin_test_passes_when_the_output_matches_the_expected_file() {
    let output = plugin_test_against("builtin:enrich", GOLDEN);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok: output matches"), "{stdout}");
}

#[test]
fn the_redactor_examples_give_their_expected_output() {
    for example in ["pii-redact-url", "pii-redact-sql", "pii-redact-nested"] {
        let dir = format!(
            "{}/../examples/plugin-test/{example}",
            env!("CARGO_MANIFEST_DIR")
        );
        let output = plugin_test_against("builtin:pii-redact", &dir);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("ok: output matches"),
            "{example}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
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

#[test]
fn tap_diff_on_the_redaction_processor_shows_the_masked_values() {
    let config = config_file(
        "tap",
        r#"
[[processors]]
name = "redact"
plugin = "builtin:pii-redact"
[exporters.file]
type = "file"
path = "spans.jsonl"
[admin.tap]
allow_raw = true
"#,
    );
    let mut weft = spawn_weft(&config);
    let unknown = Command::new(WEFT)
        .args(["tap", "--processor", "nope", "--admin", &weft.admin])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        said.contains("no processor named \"nope\"") && said.contains("redact"),
        "{said}"
    );

    let mut tap = Command::new(WEFT)
        .args(["tap", "--processor", "redact", "--diff", "--limit", "3"])
        .args(["--filter", "tenant=acme", "--admin", &weft.admin])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tap_stderr = BufReader::new(tap.stderr.take().unwrap());
    let mut line = String::new();
    tap_stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Tapping processor \"redact\""), "{line}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    runtime.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let attribute = |key: &str, value: &str| {
            serde_json::json!({"key": key, "value": {"stringValue": value}})
        };
        let mut first = 0;
        while tap.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the tap showed fewer than 3 spans");
            // Spans of another tenant do not pass the filter; acme's do.
            let other = serde_json::json!([attribute("tenant", "globex"), attribute("user.email", "bob@example.com")]);
            post_spans(&client, &weft.http, first, 2, other).await;
            let acme = serde_json::json!([
                attribute("tenant", "acme"),
                attribute("user.email", "alice@example.com"),
                attribute("order.id", "ORD-2024-000123"),
            ]);
            post_spans(&client, &weft.http, first + 2, 1, acme).await;
            first += 3;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let output = tap.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    assert_eq!(shown.matches("diff redact").count(), 3, "{shown}");
    assert_eq!(
        shown
            .matches("~ attributes.user.email: \"alice@example.com\" -> \"[REDACTED:email]\"")
            .count(),
        3,
        "{shown}"
    );
    assert!(
        !shown.contains("bob@example.com"),
        "the filter lets only acme through: {shown}"
    );
    assert!(
        !shown.contains("order.id"),
        "unchanged fields are not listed: {shown}"
    );

    // A tap still open when weft stops is closed by the shutdown, not waited for.
    let mut open_tap = Command::new(WEFT)
        .args(["tap", "--processor", "redact", "--admin", &weft.admin])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut open_stderr = BufReader::new(open_tap.stderr.take().unwrap());
    let mut line = String::new();
    open_stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("Tapping processor"), "{line}");
    let stopping = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &weft.child.id().to_string()])
        .status();
    assert!(weft.child.wait().unwrap().success());
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "an open tap does not hold the shutdown up: {:?}",
        stopping.elapsed()
    );
    assert!(open_tap.wait().unwrap().success());
    let mut said = String::new();
    let _ = std::io::Read::read_to_string(&mut open_stderr, &mut said);
    assert!(said.contains("weft closed the tap"), "{said}");
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut weft.stderr, &mut rest);
    assert!(rest.contains("Tap opened."), "{rest}");
}

#[test]
fn shutdown_past_its_flush_deadline_counts_what_was_not_sent_and_exits_1() {
    // An OTLP endpoint that accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = silent.local_addr().unwrap();
    let config = config_file(
        "deadline",
        &format!(
            r#"
[pipeline.shutdown]
flush_ms = 1000
[exporters.stuck]
type = "otlp"
endpoint = "http://{endpoint}"
timeout_ms = 600000
[exporters.stuck.batch]
timeout_ms = 3600000
"#
        ),
    );
    let mut weft = spawn_weft(&config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        for r in 0..4 {
            post_spans(&client, &weft.http, r * 100, 25, serde_json::json!([])).await;
        }
    });
    let stopping = Instant::now();
    let _ = Command::new("kill")
        .args(["-TERM", &weft.child.id().to_string()])
        .status();
    let exit = weft.child.wait().unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(30),
        "the flush deadline bounds the shutdown"
    );
    assert_eq!(exit.code(), Some(1), "spans were not flushed");
    let mut log = String::new();
    let _ = std::io::Read::read_to_string(&mut weft.stderr, &mut log);
    let unsent = log
        .lines()
        .find(|line| line.contains("Exporter did not flush in time"))
        .unwrap_or_else(|| panic!("no unflushed line: {log}"));
    let unsent: serde_json::Value = serde_json::from_str(unsent).unwrap();
    assert_eq!(unsent["fields"]["spans"], 100, "{unsent}");
    assert_eq!(unsent["fields"]["exporter"], "stuck", "{unsent}");
    assert!(log.contains("not_flushed\":100"), "{log}");
    drop(silent);
}

#[test]
fn perf_map_names_plugin_functions_only_when_asked() {
    let run = |perf_map: Option<&str>| {
        let mut command = Command::new(WEFT);
        command
            .args(["plugin", "test", "builtin:enrich"])
            .args(["--config", &format!("{GOLDEN}/config.toml")])
            .args(["--input", &format!("{GOLDEN}/input.json")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env_remove(weft::sandbox::PERF_MAP_ENV);
        if let Some(value) = perf_map {
            command.env(weft::sandbox::PERF_MAP_ENV, value);
        }
        let mut child = command.spawn().unwrap();
        let map = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
        assert!(child.wait().unwrap().success());
        let contents = std::fs::read_to_string(&map).ok();
        let _ = std::fs::remove_file(&map);
        contents
    };
    let map = run(Some("1")).expect("WEFT_PERF_MAP=1 writes /tmp/perf-<pid>.map");
    // perf's format: start address, size, name. The built-in plugins are stripped, so their
    // functions are named by index (`wasm[0]::function[12]`).
    assert!(
        map.lines()
            .any(|line| line.starts_with("0x") && line.contains(" wasm[0]::function[")),
        "no plugin function in the perf map:\n{}",
        &map[..map.len().min(2000)]
    );
    assert_eq!(run(None), None, "no perf map unless asked");
    assert_eq!(run(Some("0")), None, "no perf map unless asked");
}
