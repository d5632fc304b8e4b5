//! Cosign signatures of OCI artifacts, as cosign's signature specification lays them out: a
//! "simple signing" JSON payload naming the signed manifest digest, signed with ECDSA P-256
//! and SHA-256 (the signature DER-encoded, then base64), keys as PEM (SPKI public keys,
//! PKCS#8 private keys). Where the payload and signature live in a registry is
//! `crate::oci::signature`'s business.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, UnparsedPublicKey,
};
use serde_json::json;

/// The layer annotation that carries a signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The media type of a signature layer (the payload).
pub const PAYLOAD_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The payload's `critical.type`.
const PAYLOAD_TYPE: &str = "cosign container image signature";
/// The DER prefix of an ECDSA P-256 SubjectPublicKeyInfo, before its 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The body of a PEM block with `label` in `text`, decoded; `None` when there is none.
fn pem(text: &str, label: &str) -> Option<Result<Vec<u8>, String>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = text[start..].find(&end)? + start;
    let body: String = text[start..stop].split_whitespace().collect();
    Some(
        BASE64
            .decode(body)
            .map_err(|e| format!("its {label} block is not base64: {e}")),
    )
}

/// Whether `text` looks like a PEM public key (what cosign's `cosign.pub` holds).
pub fn is_pem_public_key(text: &str) -> bool {
    text.contains("-----BEGIN PUBLIC KEY-----")
}

/// The uncompressed P-256 point of the PEM public key in `text`.
pub fn read_public_key(text: &str) -> Result<Vec<u8>, String> {
    let der = pem(text, "PUBLIC KEY").ok_or("no PUBLIC KEY block")??;
    match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 && point[0] == 4 => Ok(point.to_vec()),
        _ => Err("not an ECDSA P-256 public key (the kind cosign generate-key-pair makes)".into()),
    }
}

/// The simple signing payload for the manifest `digest` of `docker_reference`
/// (`HOST/REPOSITORY`).
pub fn payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    let value = json!({
        "critical": {
            "identity": { "docker-reference": docker_reference },
            "image": { "docker-manifest-digest": digest },
            "type": PAYLOAD_TYPE,
        },
        "optional": null,
    });
    serde_json::to_vec(&value).expect("a JSON value serialises")
}

/// The manifest digest a payload vouches for; the reason says what is wrong with it.
pub fn signed_digest(payload: &[u8]) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("the payload is not JSON: {e}"))?;
    let critical = &value["critical"];
    if critical["type"] != PAYLOAD_TYPE {
        return Err(format!(
            "the payload's critical.type is {}, not {PAYLOAD_TYPE:?}",
            critical["type"]
        ));
    }
    critical["image"]["docker-manifest-digest"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "the payload names no critical.image.docker-manifest-digest".to_owned())
}

/// Whether `signature` (base64 of a DER ECDSA signature) signs `payload` with the key
/// `point`.
pub fn verify(point: &[u8], payload: &[u8], signature: &str) -> bool {
    let Ok(signature) = BASE64.decode(signature.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, point)
        .verify(payload, &signature)
        .is_ok()
}

/// Signs `payload` with the PEM PKCS#8 ECDSA P-256 private key in `key_pem`; returns the
/// base64 signature.
pub fn sign(key_pem: &str, payload: &[u8]) -> Result<String, String> {
    if key_pem.contains("ENCRYPTED SIGSTORE PRIVATE KEY")
        || key_pem.contains("ENCRYPTED COSIGN PRIVATE KEY")
    {
        return Err(
            "this is cosign's encrypted key format, which Weft does not read: sign \
                    with `cosign sign --key`, or use an unencrypted PKCS#8 P-256 key (openssl \
                    genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
                .into(),
        );
    }
    let der = pem(key_pem, "PRIVATE KEY").ok_or("no PRIVATE KEY block (PKCS#8 PEM)")??;
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der, &rng)
        .map_err(|e| format!("not a PKCS#8 ECDSA P-256 private key: {e}"))?;
    let signature = pair
        .sign(&rng, payload)
        .map_err(|e| format!("signing failed: {e}"))?;
    Ok(BASE64.encode(signature.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-256 key pair as PEM: (private PKCS#8, public SPKI).
    fn key_pair() -> (String, String) {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        (pair.serialize_pem(), pair.public_key_pem())
    }

    #[test]
    fn a_signed_payload_verifies_with_its_key_only() {
        let (private, public) = key_pair();
        let (_, other) = key_pair();
        let payload = payload("127.0.0.1:5000/team/redact", "sha256:abc");
        let signature = sign(&private, &payload).unwrap();
        assert!(verify(
            &read_public_key(&public).unwrap(),
            &payload,
            &signature
        ));
        assert!(!verify(
            &read_public_key(&other).unwrap(),
            &payload,
            &signature
        ));
        let mut changed = payload.clone();
        changed[3] ^= 1;
        assert!(!verify(
            &read_public_key(&public).unwrap(),
            &changed,
            &signature
        ));
        assert_eq!(signed_digest(&payload).unwrap(), "sha256:abc");
    }

    #[test]
    fn foreign_payloads_and_keys_are_named() {
        let error = signed_digest(br#"{"critical":{"type":"other"}}"#).unwrap_err();
        assert!(error.contains("critical.type"), "{error}");
        let rsa = "-----BEGIN PUBLIC KEY-----\nMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIBAQ==\n-----END PUBLIC KEY-----\n";
        assert!(read_public_key(rsa).unwrap_err().contains("P-256"));
        let encrypted = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAA==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n";
        assert!(sign(encrypted, b"x").unwrap_err().contains("cosign sign"));
    }
}
