//! Plugin signatures with `[pipeline.trust]`, with keys and signatures made by the minisign
//! tool (Debian's `minisign`) as a platform team would: a signed plugin loads and runs; an
//! unsigned, a changed, or a foreign-signed one is refused with the reason, in `weft check`
//! and in a live reload's report, and the running chain stays. `weft plugin sign` writes
//! signatures the minisign tool verifies.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use weft::config::LoadedConfig;
use weft::service::RunningService;
use weft_tests::client::{grpc_client, post};
use weft_tests::process::weft_binary;
use weft_tests::sink::OtlpSink;
use weft_tests::spans::{request, string_attribute};
use weft_tests::{config_with, scratch_dir};

/// The password of the test's secret keys.
const PASSWORD: &str = "correct horse";

/// Runs the minisign tool, answering its password prompts; panics with its output when it
/// fails.
fn minisign(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running minisign (Debian package `minisign`; .ci/run installs it)");
    let answers = format!("{PASSWORD}\n{PASSWORD}\n");
    let _ = child.stdin.take().unwrap().write_all(answers.as_bytes());
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "minisign {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A key pair with a password, as `NAME.pub` and `NAME.key` in `dir`.
fn key_pair(dir: &Path, name: &str) {
    let (public, secret) = (format!("{name}.pub"), format!("{name}.key"));
    minisign(dir, &["-G", "-f", "-p", &public, "-s", &secret]);
}

/// An enrich component at `dir/NAME.wasm` that stamps `stamp = VALUE` (through its config).
fn component(dir: &Path, name: &str) -> Vec<u8> {
    let bytes = weft::builtin::plugin("enrich").unwrap().to_vec();
    std::fs::write(dir.join(format!("{name}.wasm")), &bytes).unwrap();
    bytes
}

fn config(dir: &Path, sink: std::net::SocketAddr, plugin: &str) -> String {
    let processors = format!(
        "[[processors]]\nname = \"stamp\"\nplugin = \"{plugin}.wasm\"\n\
         config = {{ actions = [{{ action = \"upsert\", key = \"stamp\", value = \"{plugin}\" }}] }}\n"
    );
    format!(
        "{}\n[pipeline.trust]\nkeys = [\"team.pub\"]\n",
        config_with(&processors, sink).replace(
            "[pipeline]\n",
            &format!("[pipeline]\nplugin_dir = \"{}\"\n", dir.display())
        )
    )
}

/// `weft check` on `config` written to `dir/weft.toml`: (success, output).
fn check(dir: &Path, config: &str) -> (bool, String) {
    let path = dir.join("weft.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(weft_binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_plugins_signed_by_a_trusted_key_load_and_the_reasons_are_named() {
    let dir = scratch_dir("signatures");
    key_pair(&dir, "team");
    key_pair(&dir, "stranger");
    let sink = OtlpSink::start().await;

    // Signed with the minisign tool by the trusted key: loads.
    component(&dir, "signed");
    minisign(&dir, &["-S", "-s", "team.key", "-m", "signed.wasm"]);
    let (ok, out) = check(&dir, &config(&dir, sink.addr(), "signed"));
    assert!(ok, "{out}");
    assert!(
        out.contains("trust   plugins must be signed by minisign key"),
        "{out}"
    );

    // Unsigned: refused, naming the missing signature file.
    component(&dir, "unsigned");
    let (ok, out) = check(&dir, &config(&dir, sink.addr(), "unsigned"));
    assert!(!ok, "{out}");
    assert!(out.contains("is not trusted"), "{out}");
    assert!(out.contains("unsigned.wasm.minisig"), "{out}");

    // Changed after signing: refused, naming the key it was signed with.
    let mut bytes = component(&dir, "tampered");
    minisign(&dir, &["-S", "-s", "team.key", "-m", "tampered.wasm"]);
    bytes.push(0);
    std::fs::write(dir.join("tampered.wasm"), &bytes).unwrap();
    let (ok, out) = check(&dir, &config(&dir, sink.addr(), "tampered"));
    assert!(!ok, "{out}");
    assert!(out.contains("does not match its signature"), "{out}");
    assert!(out.contains("team.pub"), "{out}");

    // Signed by a key the config does not trust: refused, naming both.
    component(&dir, "foreign");
    minisign(&dir, &["-S", "-s", "stranger.key", "-m", "foreign.wasm"]);
    let (ok, out) = check(&dir, &config(&dir, sink.addr(), "foreign"));
    assert!(!ok, "{out}");
    assert!(out.contains("which is not a trusted key"), "{out}");
    assert!(out.contains("team.pub"), "{out}");

    // `weft plugin sign` writes what the minisign tool verifies, and what weft accepts.
    component(&dir, "weft-signed");
    let signed = Command::new(weft_binary())
        .args(["plugin", "sign", "weft-signed.wasm", "--key", "team.key"])
        .env("WEFT_SIGNING_PASSWORD", PASSWORD)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(signed.status.success(), "{signed:?}");
    minisign(&dir, &["-V", "-p", "team.pub", "-m", "weft-signed.wasm"]);
    let (ok, out) = check(&dir, &config(&dir, sink.addr(), "weft-signed"));
    assert!(ok, "{out}");

    // Live: the signed plugin runs; a changed file is refused by the reload with its reason,
    // and the signed one keeps running.
    let path = dir.join("weft.toml");
    std::fs::write(&path, config(&dir, sink.addr(), "signed")).unwrap();
    let weft = RunningService::start(LoadedConfig::from_file(&path).unwrap())
        .await
        .unwrap();
    let admin = weft.admin_addr().unwrap();
    let mut client = grpc_client(weft.grpc_addr().unwrap()).await;
    client.export(request(0, 10)).await.unwrap();
    let mut changed = std::fs::read(dir.join("signed.wasm")).unwrap();
    changed.extend_from_slice(b"\0");
    std::fs::write(dir.join("signed.wasm"), &changed).unwrap();
    let (status, body) = post(admin, "/reload").await;
    assert!(body.contains("is not trusted"), "{status} {body}");
    assert!(
        body.contains("does not match its signature"),
        "{status} {body}"
    );
    client.export(request(100, 10)).await.unwrap();
    assert_eq!(sink.wait_for(20, Duration::from_secs(20)).await, 20);
    weft.shutdown().await;
    for span in sink.spans() {
        assert_eq!(string_attribute(&span, "stamp"), Some("signed"));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
