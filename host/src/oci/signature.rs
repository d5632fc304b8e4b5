//! Where cosign keeps an artifact's signatures, read and written: a manifest tagged
//! `sha256-HEX.sig` (HEX the signed manifest's digest) in the same repository, whose layers
//! are simple signing payloads carrying their signatures in an annotation. Reading falls back
//! to the cache when the registry cannot be reached, as pulling a component does.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Method;

use super::cache::OciCache;
use super::client::{Call, RegistryClient, RegistrySettings, SMALL_BODY};
use super::error::OciError;
use super::manifest::{Descriptor, MANIFEST_MEDIA_TYPE, Manifest};
use super::reference::{Digest, Reference};
use crate::trust::OciSignature;
use crate::trust::cosign::{PAYLOAD_MEDIA_TYPE, SIGNATURE_ANNOTATION};

/// The config media type of a signature manifest.
const IMAGE_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// The tag the signatures of manifest `digest` live under.
pub fn signature_tag(digest: &Digest) -> String {
    format!("sha256-{}.sig", digest.hex())
}

/// `reference`'s repository at the signature tag of `digest`.
fn signature_reference(reference: &Reference, digest: &Digest) -> Reference {
    Reference {
        tag: Some(signature_tag(digest)),
        digest: None,
        ..reference.clone()
    }
}

/// The signatures of `digest` (none when the registry has no signature manifest). When the
/// registry is unavailable, the ones cached at the last read, with a warning.
pub async fn pull_signatures(
    reference: &Reference,
    digest: &Digest,
    settings: RegistrySettings,
    cache: Option<&OciCache>,
) -> Result<Vec<OciSignature>, OciError> {
    let signatures = signature_reference(reference, digest);
    let key = signatures.tag_key().unwrap_or_default();
    match from_registry(&signatures, settings, cache).await {
        Ok(found) => Ok(found),
        Err(error) if error.is_unavailable() => {
            let cached = cache.and_then(|cache| {
                let manifest = Manifest::parse(&cache.blob(&cache.tag(&key)?)?).ok()?;
                payloads(&manifest, |digest| cache.blob(digest)).ok()
            });
            match cached {
                Some(found) => {
                    tracing::warn!(reference = %reference, %error, "Registry unavailable; using the signatures cached for this digest.");
                    Ok(found)
                }
                None => Err(error),
            }
        }
        Err(error) => Err(error),
    }
}

/// The signature layers of `manifest`, their payloads read with `blob` (checked against
/// their digests).
fn payloads(
    manifest: &Manifest,
    mut blob: impl FnMut(&Digest) -> Option<Vec<u8>>,
) -> Result<Vec<OciSignature>, OciError> {
    let mut found = Vec::new();
    for layer in &manifest.layers {
        let Some(signature) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
            continue;
        };
        let digest = Digest::parse(&layer.digest).map_err(OciError::Invalid)?;
        let payload = blob(&digest).ok_or_else(|| {
            OciError::Invalid(format!("the signature payload {digest} could not be read"))
        })?;
        if Digest::of(&payload) != digest {
            return Err(OciError::DigestMismatch {
                what: "layer",
                expected: digest.to_string(),
                actual: Digest::of(&payload).to_string(),
                note: " (a signature payload)".into(),
            });
        }
        found.push(OciSignature {
            payload,
            signature: signature.clone(),
        });
    }
    Ok(found)
}

/// Reads the signature manifest and its payloads from the registry, caching them.
async fn from_registry(
    signatures: &Reference,
    settings: RegistrySettings,
    cache: Option<&OciCache>,
) -> Result<Vec<OciSignature>, OciError> {
    let mut client = RegistryClient::new(&signatures.registry, settings)?;
    let Some((bytes, manifest)) = existing(&mut client, signatures).await? else {
        return Ok(Vec::new());
    };
    let mut blobs = BTreeMap::new();
    for layer in &manifest.layers {
        if layer.annotations.contains_key(SIGNATURE_ANNOTATION) {
            let url = client.url(&format!(
                "/v2/{}/blobs/{}",
                signatures.repository, layer.digest
            ));
            let answer = client.send(Method::GET, &url, &Call::default()).await?;
            let answer = client.check(answer, &format!("signature payload {}", layer.digest))?;
            blobs.insert(layer.digest.clone(), answer.body.to_vec());
        }
    }
    let found = payloads(&manifest, |digest| blobs.get(digest.as_str()).cloned())?;
    if let (Some(cache), Some(key)) = (cache, signatures.tag_key()) {
        let manifest_digest = Digest::of(&bytes);
        cache.put_blob(&manifest_digest, &bytes);
        for (digest, payload) in &blobs {
            if let Ok(digest) = Digest::parse(digest) {
                cache.put_blob(&digest, payload);
            }
        }
        cache.set_tag(&key, &manifest_digest);
    }
    Ok(found)
}

/// The signature manifest at `signatures`' tag, if there is one.
async fn existing(
    client: &mut RegistryClient,
    signatures: &Reference,
) -> Result<Option<(Bytes, Manifest)>, OciError> {
    let url = client.url(&format!(
        "/v2/{}/manifests/{}",
        signatures.repository,
        signatures.manifest_reference()
    ));
    let call = Call {
        headers: vec![("accept", MANIFEST_MEDIA_TYPE.to_owned())],
        limit: SMALL_BODY,
        ..Call::default()
    };
    let answer = client.send(Method::GET, &url, &call).await?;
    match client.check(
        answer,
        &format!("signatures {}", signatures.manifest_reference()),
    ) {
        Ok(answer) => {
            let manifest = Manifest::parse(&answer.body).map_err(OciError::Invalid)?;
            Ok(Some((answer.body, manifest)))
        }
        Err(OciError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Adds the signature `signature` of `payload` (which names `digest`) to the signatures of
/// `digest` in `reference`'s repository, as cosign does: one more layer in the manifest at
/// the signature tag (made when there is none). Returns that tag.
pub async fn push_signature(
    reference: &Reference,
    digest: &Digest,
    settings: RegistrySettings,
    payload: Vec<u8>,
    signature: String,
) -> Result<String, OciError> {
    let signatures = signature_reference(reference, digest);
    let mut client = RegistryClient::new(&signatures.registry, settings)?;
    let mut layers = match existing(&mut client, &signatures).await? {
        Some((_, manifest)) => manifest.layers,
        None => Vec::new(),
    };
    let mut layer = Descriptor::of(PAYLOAD_MEDIA_TYPE, &payload);
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.to_owned(), signature);
    if !layers.contains(&layer) {
        layers.push(layer);
    }
    super::push::upload(&mut client, &signatures.repository, Bytes::from(payload)).await?;
    // An image config listing the layers, as cosign writes it.
    let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
        "config": {},
    }))
    .expect("a JSON value serialises");
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
        config: Descriptor::of(IMAGE_CONFIG_MEDIA_TYPE, &config),
        layers,
        annotations: BTreeMap::new(),
    };
    super::push::upload(&mut client, &signatures.repository, Bytes::from(config)).await?;
    let tag = signature_tag(digest);
    let url = client.url(&format!("/v2/{}/manifests/{tag}", signatures.repository));
    let call = Call {
        headers: vec![("content-type", MANIFEST_MEDIA_TYPE.to_owned())],
        body: Bytes::from(serde_json::to_vec(&manifest).expect("a manifest serialises")),
        ..Call::default()
    };
    let answer = client.send(Method::PUT, &url, &call).await?;
    client.check(answer, &format!("signatures {tag}"))?;
    Ok(tag)
}
