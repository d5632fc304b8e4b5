//! Publishing a component as a Wasm OCI artifact: the config blob and the component blob
//! (each skipped when the registry has it, else uploaded in one `POST` then `PUT`), then the
//! manifest under the tag. The manifest digest returned is what a pinned reference names.

use bytes::Bytes;
use http::Method;

use super::MAX_COMPONENT_BYTES;
use super::client::{BLOB_TIMEOUT, Call, RegistryClient, RegistrySettings};
use super::error::OciError;
use super::manifest::{MANIFEST_MEDIA_TYPE, Manifest, component_config};
use super::reference::{Digest, Reference};

/// Pushes `component` to `reference` (which names a tag and no digest); returns the
/// manifest digest.
pub async fn push(
    reference: &Reference,
    settings: RegistrySettings,
    component: &[u8],
) -> Result<Digest, OciError> {
    let tag = match (&reference.tag, &reference.digest) {
        (Some(tag), None) => tag,
        _ => {
            return Err(OciError::Invalid(
                "push to a tag, oci://HOST/REPOSITORY:TAG (without @sha256:...): the manifest \
                 digest is printed after the push"
                    .to_owned(),
            ));
        }
    };
    check_component(component)?;
    let layer_digest = Digest::of(component);
    let config = component_config(&layer_digest);
    let manifest = Manifest::for_component(&config, component);
    let manifest = serde_json::to_vec(&manifest).expect("a manifest serialises");
    let mut client = RegistryClient::new(&reference.registry, settings)?;
    let repository = &reference.repository;
    upload(&mut client, repository, Bytes::from(config)).await?;
    upload(&mut client, repository, Bytes::copy_from_slice(component)).await?;

    let digest = Digest::of(&manifest);
    let url = client.url(&format!("/v2/{repository}/manifests/{tag}"));
    let call = Call {
        headers: vec![("content-type", MANIFEST_MEDIA_TYPE.to_owned())],
        body: Bytes::from(manifest),
        ..Call::default()
    };
    let answer = client.send(Method::PUT, &url, &call).await?;
    let answer = client.check(answer, &format!("manifest {tag}"))?;
    if let Some(stored) = answer.header("docker-content-digest")
        && stored != digest.as_str()
    {
        return Err(OciError::DigestMismatch {
            what: "manifest",
            expected: digest.to_string(),
            actual: stored.to_owned(),
            note: " (the registry stored the manifest under another digest)".to_owned(),
        });
    }
    Ok(digest)
}

/// Uploads one blob unless the registry has it.
pub(super) async fn upload(
    client: &mut RegistryClient,
    repository: &str,
    blob: Bytes,
) -> Result<(), OciError> {
    let digest = Digest::of(&blob);
    let url = client.url(&format!("/v2/{repository}/blobs/{digest}"));
    let answer = client.send(Method::HEAD, &url, &Call::default()).await?;
    if answer.status.is_success() {
        return Ok(());
    }
    let url = client.url(&format!("/v2/{repository}/blobs/uploads/"));
    let answer = client.send(Method::POST, &url, &Call::default()).await?;
    let answer = client.check(answer, "a blob upload")?;
    let location = answer.header("location").ok_or_else(|| {
        OciError::Invalid(format!(
            "registry {} started an upload without a Location",
            client.registry()
        ))
    })?;
    let location = super::client::resolve(&url, location);
    let separator = if location.contains('?') { '&' } else { '?' };
    let url = format!("{location}{separator}digest={digest}");
    let call = Call {
        headers: vec![("content-type", "application/octet-stream".to_owned())],
        body: blob,
        deadline: BLOB_TIMEOUT,
        ..Call::default()
    };
    let answer = client.send(Method::PUT, &url, &call).await?;
    client.check(answer, &format!("blob {digest}"))?;
    Ok(())
}

/// Refuses what is not a WebAssembly component of a loadable size.
pub fn check_component(bytes: &[u8]) -> Result<(), OciError> {
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(OciError::TooLarge {
            what: "component".into(),
            limit: MAX_COMPONENT_BYTES,
        });
    }
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 0x01, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 0x01, 0, 0, 0]) => Err(OciError::Invalid(
            "this is a core WebAssembly module, not a component (build for wasm32-wasip2, or \
             wrap it with `wasm-tools component new`)"
                .to_owned(),
        )),
        _ => Err(OciError::Invalid(
            "this is not a WebAssembly component (no \\0asm component header)".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_components_are_pushed() {
        assert!(check_component(b"\0asm\x0d\0\x01\0rest").is_ok());
        let module = check_component(b"\0asm\x01\0\0\0").unwrap_err().to_string();
        assert!(module.contains("core WebAssembly module"), "{module}");
        let text = check_component(b"hello world").unwrap_err().to_string();
        assert!(text.contains("not a WebAssembly component"), "{text}");
    }
}
