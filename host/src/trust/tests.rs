//! Unit tests of the trust checks: minisign files and cosign payloads.

use super::*;
use ::minisign::KeyPair;

struct Keys {
    dir: PathBuf,
    trusted: TrustedKeys,
    secret: PathBuf,
    stranger: PathBuf,
}

/// A scratch folder with a trusted key pair and an untrusted one (secret keys
/// unencrypted, as `minisign -G -W` writes them).
fn keys(label: &str) -> Keys {
    let dir = std::env::temp_dir().join(format!("weft-trust-{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str| {
        let pair = KeyPair::generate_unencrypted_keypair().unwrap();
        let public = dir.join(format!("{name}.pub"));
        std::fs::write(&public, pair.pk.to_box().unwrap().into_string()).unwrap();
        let secret = dir.join(format!("{name}.key"));
        let secret_box = pair.sk.to_box(None).unwrap().into_string();
        std::fs::write(&secret, secret_box).unwrap();
        (public, secret)
    };
    let (public, secret) = write("team");
    let (_, stranger) = write("stranger");
    let trusted = TrustedKeys {
        keys: vec![read_public_key(&public).unwrap()],
    };
    Keys {
        dir,
        trusted,
        secret,
        stranger,
    }
}

#[test]
fn a_signed_component_verifies_and_a_changed_one_does_not() {
    let keys = keys("tamper");
    let component = keys.dir.join("plugin.wasm");
    let bytes = b"\0asm component bytes".to_vec();
    std::fs::write(&component, &bytes).unwrap();
    let signature = sign(&bytes, "plugin.wasm", &keys.secret, None).unwrap();
    std::fs::write(signature_path(&component), &signature).unwrap();
    let signer = keys.trusted.verify_file(&component, &bytes).unwrap();
    assert!(signer.path.ends_with("team.pub"));
    let mut changed = bytes.clone();
    changed[0] ^= 1;
    let error = keys.trusted.verify_file(&component, &changed).unwrap_err();
    assert!(error.contains("does not match its signature"), "{error}");
    assert!(error.contains("team.pub"), "{error}");
    std::fs::remove_dir_all(&keys.dir).unwrap();
}

#[test]
fn unsigned_unknown_key_and_garbage_are_refused_with_reasons() {
    let keys = keys("refusals");
    let component = keys.dir.join("plugin.wasm");
    let bytes = b"component".to_vec();
    std::fs::write(&component, &bytes).unwrap();
    let error = keys.trusted.verify_file(&component, &bytes).unwrap_err();
    assert!(error.contains("is not signed"), "{error}");
    assert!(error.contains("plugin.wasm.minisig"), "{error}");
    let foreign = sign(&bytes, "plugin.wasm", &keys.stranger, None).unwrap();
    std::fs::write(signature_path(&component), foreign).unwrap();
    let error = keys.trusted.verify_file(&component, &bytes).unwrap_err();
    assert!(error.contains("not a trusted key"), "{error}");
    assert!(error.contains(&keys.trusted.keys[0].id), "{error}");
    std::fs::write(signature_path(&component), "not a signature").unwrap();
    let error = keys.trusted.verify_file(&component, &bytes).unwrap_err();
    assert!(error.contains("is not a minisign signature"), "{error}");
    std::fs::remove_dir_all(&keys.dir).unwrap();
}

#[test]
fn a_broken_public_key_file_is_named() {
    let dir = std::env::temp_dir().join(format!("weft-trust-badkey-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("team.pub");
    std::fs::write(&path, "untrusted comment: x\nnot base64 at all\n").unwrap();
    let error = read_public_key(&path).unwrap_err();
    assert!(
        error.contains("team.pub is neither a minisign public key"),
        "{error}"
    );
    let error = read_public_key(&dir.join("missing.pub")).unwrap_err();
    assert!(error.contains("cannot read the public key"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_oci_signature_counts_only_for_its_digest_and_a_trusted_cosign_key() {
    let dir = std::env::temp_dir().join(format!("weft-trust-cosign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let stranger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    std::fs::write(dir.join("cosign.pub"), pair.public_key_pem()).unwrap();
    let trusted = TrustedKeys {
        keys: vec![read_public_key(&dir.join("cosign.pub")).unwrap()],
    };
    let signed = |key: &rcgen::KeyPair, digest: &str| {
        let payload = cosign::payload("127.0.0.1:5000/team/redact", digest);
        let signature = cosign::sign(&key.serialize_pem(), &payload).unwrap();
        OciSignature { payload, signature }
    };
    let reference = "oci://127.0.0.1:5000/team/redact:1.0";
    let key = trusted
        .verify_oci(
            reference,
            "sha256:aa",
            &[signed(&stranger, "sha256:aa"), signed(&pair, "sha256:aa")],
        )
        .unwrap();
    assert!(key.path.ends_with("cosign.pub"));
    let error = trusted.verify_oci(reference, "sha256:aa", &[]).unwrap_err();
    assert!(error.contains("is not signed"), "{error}");
    let error = trusted
        .verify_oci(reference, "sha256:aa", &[signed(&pair, "sha256:bb")])
        .unwrap_err();
    assert!(
        error.contains("signs sha256:bb, another manifest"),
        "{error}"
    );
    let error = trusted
        .verify_oci(reference, "sha256:aa", &[signed(&stranger, "sha256:aa")])
        .unwrap_err();
    assert!(error.contains("not trusted"), "{error}");
    std::fs::remove_dir_all(&dir).unwrap();
}
