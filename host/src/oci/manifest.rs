//! The Wasm OCI artifact layout (the CNCF TAG Runtime one Spin, wasm-pkg tools and
//! wasmCloud use): an OCI image manifest whose config has the media type
//! `application/vnd.wasm.config.v0+json` and whose one layer, `application/wasm`, is the
//! component.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::reference::Digest;

/// The manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config blob's media type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The component layer's media type.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// An image index (several manifests, one per platform): not what a plugin reference names.
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";

/// An OCI image manifest (the fields Weft reads and writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST_MEDIA_TYPE`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers; a Wasm artifact has one, the component.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A blob the manifest points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the blob is.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// Free-form annotations (a cosign signature layer carries its signature in one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    /// The descriptor of `bytes` as a blob of `media_type`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(bytes).to_string(),
            size: bytes.len() as u64,
            annotations: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// Parses a manifest the registry served; the reason says what is not a Wasm artifact.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("the manifest is not JSON: {e}"))?;
        if value["mediaType"] == INDEX_MEDIA_TYPE || value.get("manifests").is_some() {
            return Err(
                "the reference names an image index (several manifests); a plugin reference \
                 names one manifest with one application/wasm layer"
                    .to_owned(),
            );
        }
        serde_json::from_value(value)
            .map_err(|e| format!("the manifest is not an OCI image manifest: {e}"))
    }

    /// The component layer: the one `application/wasm` layer, with its parsed digest.
    pub fn wasm_layer(&self) -> Result<(&Descriptor, Digest), String> {
        let mut wasm = self
            .layers
            .iter()
            .filter(|layer| layer.media_type == LAYER_MEDIA_TYPE);
        let (Some(layer), None) = (wasm.next(), wasm.next()) else {
            let types: Vec<&str> = self.layers.iter().map(|l| l.media_type.as_str()).collect();
            return Err(format!(
                "a Wasm artifact has exactly one {LAYER_MEDIA_TYPE} layer; this manifest's \
                 layers are {types:?} (config {})",
                self.config.media_type
            ));
        };
        let digest = Digest::parse(&layer.digest).map_err(|e| format!("the layer's {e}"))?;
        Ok((layer, digest))
    }

    /// The manifest of a Wasm artifact with `config` and the component `layer`.
    pub fn for_component(config: &[u8], layer: &[u8]) -> Manifest {
        Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.to_owned()),
            config: Descriptor::of(CONFIG_MEDIA_TYPE, config),
            layers: vec![Descriptor::of(LAYER_MEDIA_TYPE, layer)],
            annotations: BTreeMap::new(),
        }
    }
}

/// The config blob for a component whose layer has `layer_digest`: `architecture` `wasm`,
/// `os` `wasip2`, the layer digests, and `created` (from `SOURCE_DATE_EPOCH` when set, so a
/// reproducible build pushes the same manifest digest twice; else now).
pub fn component_config(layer_digest: &Digest) -> Vec<u8> {
    let created = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
    let config = serde_json::json!({
        "created": rfc3339(created),
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest.as_str()],
    });
    serde_json::to_vec(&config).expect("a JSON value serialises")
}

/// `secs` after the Unix epoch as an RFC 3339 UTC time (`2024-05-01T12:00:00Z`).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800 + 3_661), "2024-05-01T13:01:01Z");
    }

    #[test]
    fn a_component_manifest_round_trips_and_names_its_layer() {
        let layer = b"\0asm\x0d\0\x01\0";
        let config = component_config(&Digest::of(layer));
        let manifest = Manifest::for_component(&config, layer);
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(MANIFEST_MEDIA_TYPE) && text.contains(CONFIG_MEDIA_TYPE));
        let parsed = Manifest::parse(&bytes).unwrap();
        let (descriptor, digest) = parsed.wasm_layer().unwrap();
        assert_eq!(digest, Digest::of(layer));
        assert_eq!(descriptor.size, layer.len() as u64);
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["layerDigests"][0], digest.as_str());
        assert_eq!(config["os"], "wasip2");
    }

    #[test]
    fn an_index_or_a_manifest_without_one_wasm_layer_is_refused() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(Manifest::parse(index).unwrap_err().contains("image index"));
        let mut manifest = Manifest::for_component(b"{}", b"x");
        manifest.layers[0].media_type = "application/vnd.oci.image.layer.v1.tar+gzip".into();
        let error = manifest.wasm_layer().unwrap_err();
        assert!(
            error.contains("exactly one application/wasm layer"),
            "{error}"
        );
        manifest.layers.clear();
        assert!(manifest.wasm_layer().is_err());
        assert!(
            Manifest::parse(b"not json")
                .unwrap_err()
                .contains("not JSON")
        );
    }
}
