//! Pulling a component by reference: the manifest (checked against a pinned digest), its one
//! `application/wasm` layer (checked against the manifest's digest for it), both kept in the
//! cache; and the cache standing in for a registry that cannot be reached.

use http::Method;

use super::MAX_COMPONENT_BYTES;
use super::cache::OciCache;
use super::client::{BLOB_TIMEOUT, Call, RegistryClient, RegistrySettings, SMALL_BODY};
use super::error::OciError;
use super::manifest::{MANIFEST_MEDIA_TYPE, Manifest};
use super::reference::{Digest, Reference};

/// Where a pulled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The registry answered.
    Registry,
    /// A pinned digest found in the cache; the registry was not asked.
    Cache,
    /// The registry could not be reached; the tag's last cached digest was used.
    StaleCache,
}

/// A pulled component.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The component's bytes (their digest checked).
    pub bytes: Vec<u8>,
    /// The manifest digest they came from.
    pub digest: Digest,
    /// Where they came from.
    pub source: Source,
}

/// Pulls `reference`'s component. A pinned digest in the cache is served without asking the
/// registry; a tag whose registry is unavailable falls back to its last cached digest, with
/// a warning naming it.
pub async fn pull(
    reference: &Reference,
    settings: RegistrySettings,
    cache: Option<&OciCache>,
) -> Result<Pulled, OciError> {
    if let (Some(digest), Some(cache)) = (&reference.digest, cache)
        && let Some(bytes) = cached(cache, digest)
    {
        return Ok(Pulled {
            bytes,
            digest: digest.clone(),
            source: Source::Cache,
        });
    }
    let error = match from_registry(reference, settings, cache).await {
        Ok(pulled) => return Ok(pulled),
        Err(error) => error,
    };
    let fallback = (reference.digest.is_none() && error.is_unavailable())
        .then(|| Some((cache?, reference.tag_key()?)))
        .flatten()
        .and_then(|(cache, key)| {
            let digest = cache.tag(&key)?;
            Some((cached(cache, &digest)?, digest))
        });
    match fallback {
        Some((bytes, digest)) => {
            tracing::warn!(reference = %reference, digest = %digest, %error, "Registry unavailable; using the digest this tag last resolved to, from the cache.");
            Ok(Pulled {
                bytes,
                digest,
                source: Source::StaleCache,
            })
        }
        None => Err(error),
    }
}

/// The component of the cached manifest `digest`, if the manifest and its layer are cached.
fn cached(cache: &OciCache, digest: &Digest) -> Option<Vec<u8>> {
    let manifest = Manifest::parse(&cache.blob(digest)?).ok()?;
    let (_, layer) = manifest.wasm_layer().ok()?;
    cache.blob(&layer)
}

/// Pulls from the registry and fills the cache.
async fn from_registry(
    reference: &Reference,
    settings: RegistrySettings,
    cache: Option<&OciCache>,
) -> Result<Pulled, OciError> {
    let mut client = RegistryClient::new(&reference.registry, settings)?;
    let repository = &reference.repository;
    let (manifest_bytes, digest) = manifest(&mut client, reference).await?;
    let manifest = Manifest::parse(&manifest_bytes).map_err(OciError::Invalid)?;
    let (layer, layer_digest) = manifest.wasm_layer().map_err(OciError::Invalid)?;
    if layer.size > MAX_COMPONENT_BYTES as u64 {
        return Err(OciError::TooLarge {
            what: format!("component layer ({} bytes)", layer.size),
            limit: MAX_COMPONENT_BYTES,
        });
    }
    let bytes = match cache.and_then(|c| c.blob(&layer_digest)) {
        Some(bytes) => bytes,
        None => {
            let url = client.url(&format!("/v2/{repository}/blobs/{layer_digest}"));
            let call = Call {
                limit: MAX_COMPONENT_BYTES,
                deadline: BLOB_TIMEOUT,
                ..Call::default()
            };
            let answer = client.send(Method::GET, &url, &call).await?;
            let answer = client.check(answer, &format!("layer {layer_digest}"))?;
            let actual = Digest::of(&answer.body);
            if actual != layer_digest {
                return Err(OciError::DigestMismatch {
                    what: "layer",
                    expected: layer_digest.to_string(),
                    actual: actual.to_string(),
                    note: String::new(),
                });
            }
            answer.body.to_vec()
        }
    };
    if let Some(cache) = cache {
        cache.put_blob(&digest, &manifest_bytes);
        cache.put_blob(&layer_digest, &bytes);
        if let Some(key) = reference.tag_key().filter(|_| reference.digest.is_none()) {
            cache.set_tag(&key, &digest);
        }
    }
    Ok(Pulled {
        bytes,
        digest,
        source: Source::Registry,
    })
}

/// The manifest's bytes and digest, checked against a pinned digest (or the registry's
/// `Docker-Content-Digest` for a tag). A pinned digest the registry does not have is
/// reported against what the reference's tag points at, when it has one.
async fn manifest(
    client: &mut RegistryClient,
    reference: &Reference,
) -> Result<(bytes::Bytes, Digest), OciError> {
    let base = client.url(&format!("/v2/{}/manifests/", reference.repository));
    let get = |name: &str| {
        let url = format!("{base}{name}");
        let call = Call {
            headers: vec![("accept", MANIFEST_MEDIA_TYPE.to_owned())],
            limit: SMALL_BODY,
            ..Call::default()
        };
        (url, call)
    };
    let (url, call) = get(reference.manifest_reference());
    let answer = client.send(Method::GET, &url, &call).await?;
    let what = format!("manifest {}", reference.manifest_reference());
    let answer = match (
        client.check(answer, &what),
        &reference.digest,
        &reference.tag,
    ) {
        (Err(OciError::NotFound { .. }), Some(expected), Some(tag)) => {
            let (url, call) = get(tag);
            let answer = client.send(Method::GET, &url, &call).await?;
            let answer = client.check(answer, &format!("manifest {tag}"))?;
            return Err(OciError::DigestMismatch {
                what: "manifest",
                expected: expected.to_string(),
                actual: Digest::of(&answer.body).to_string(),
                note: format!(
                    " (the registry has no manifest {expected}; tag {tag} points at the actual one)"
                ),
            });
        }
        (answer, _, _) => answer?,
    };
    let actual = Digest::of(&answer.body);
    let announced = answer
        .header("docker-content-digest")
        .and_then(|d| Digest::parse(d).ok());
    let expected = reference.digest.clone().or(announced);
    if let Some(expected) = expected
        && expected != actual
    {
        return Err(OciError::DigestMismatch {
            what: "manifest",
            expected: expected.to_string(),
            actual: actual.to_string(),
            note: String::new(),
        });
    }
    Ok((answer.body, actual))
}
