//! Signed plugins by reference: `weft plugin sign` stores a cosign signature (cosign's
//! layout: a `sha256-DIGEST.sig` manifest of simple signing payloads) in a real registry;
//! with `[pipeline.trust]` naming the PEM public key, the signed artifact loads by tag and by
//! digest, one signed by another key or not signed at all is refused with the reason, and a
//! pinned digest still verifies from the cache once the registry is gone.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::oci::Registry;
use weft_tests::process::weft_binary;
use weft_tests::{config_with_pipeline, fixture, scratch_dir};

fn weft(args: &[&str]) -> Output {
    Command::new(weft_binary())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// Pushes `component` to `reference`; returns the manifest digest printed.
fn push(component: &str, reference: &str) -> String {
    let output = weft(&["plugin", "push", component, reference]);
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("Digest: "))
        .unwrap()
        .to_owned()
}

/// `weft check` of a config trusting `trust.pub` and running `plugin`: (success, output).
fn check(dir: &Path, plugin: &str) -> (bool, String) {
    let processors = format!("[[processors]]\nname = \"redact\"\nplugin = \"{plugin}\"\n");
    let sink = "127.0.0.1:9".parse().unwrap();
    let cache = format!("cache_dir = {:?}", dir.join("cache").display().to_string());
    let config = format!(
        "{}\n[pipeline.trust]\nkeys = [\"trust.pub\"]\n",
        config_with_pipeline(&processors, sink, &cache)
    );
    let path = dir.join("weft.toml");
    std::fs::write(&path, config).unwrap();
    let output = weft(&["check", "--config", path.to_str().unwrap()]);
    (output.status.success(), text(&output))
}

#[test]
fn only_references_signed_by_a_trusted_cosign_key_load() {
    let dir = scratch_dir("oci-signatures");
    let registry = Registry::start(&dir, None);
    // The trusted key pair, and a stranger's.
    for name in ["trust", "stranger"] {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), pair.serialize_pem()).unwrap();
        std::fs::write(dir.join(format!("{name}.pub")), pair.public_key_pem()).unwrap();
    }
    let signed = registry.reference(":1.0");
    let digest = push(fixture("stamp-v1"), &signed);
    let foreign = registry.reference(":2.0");
    push(fixture("stamp-v2"), &foreign);
    let unsigned = registry.reference(":3.0");
    push(fixture("passthrough"), &unsigned);
    for (reference, key) in [(&signed, "trust.pem"), (&foreign, "stranger.pem")] {
        let key = dir.join(key);
        let output = weft(&["plugin", "sign", reference, "--key", key.to_str().unwrap()]);
        assert!(output.status.success(), "{}", text(&output));
        assert!(text(&output).contains(".sig"), "{}", text(&output));
    }

    // Signed by the trusted key: loads by tag and by digest.
    let pinned = registry.reference(&format!("@{digest}"));
    for plugin in [&signed, &pinned] {
        let (ok, out) = check(&dir, plugin);
        assert!(ok, "{plugin}: {out}");
    }
    // Signed by another key, or not at all: refused with the reason.
    let (ok, out) = check(&dir, &foreign);
    assert!(!ok, "{out}");
    assert!(out.contains("is not trusted"), "{out}");
    assert!(out.contains("none valid from a trusted key"), "{out}");
    let (ok, out) = check(&dir, &unsigned);
    assert!(!ok, "{out}");
    assert!(out.contains("is not signed"), "{out}");

    // The registry gone, the pinned digest still starts, its signature read from the cache.
    drop(registry);
    let (ok, out) = check(&dir, &pinned);
    assert!(ok, "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
