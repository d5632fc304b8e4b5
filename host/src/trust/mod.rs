//! Plugin signatures: with `[pipeline.trust]`, a component is loaded only if it carries a
//! valid signature from one of the trusted keys, in a well-kept format:
//!
//! - a component **file** by a minisign signature beside it, `NAME.wasm.minisig`, from a
//!   minisign public key ([`minisign`]);
//! - a component **by reference** (`oci://`) by a cosign signature stored in its registry,
//!   from an ECDSA P-256 public key in PEM, as `cosign generate-key-pair` writes
//!   ([`cosign`], and `crate::oci::signature` for where it lives).

pub mod cosign;
pub mod minisign;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::LoadedConfig;

pub use self::minisign::{sign, signature_path};

/// A public key plugins may be signed with, and where it came from (for messages).
#[derive(Clone)]
pub struct TrustedKey {
    /// The key file.
    pub path: PathBuf,
    /// Its ID: a minisign key ID (16 hex digits, as the tool prints it), or the first 16 hex
    /// digits of a PEM key's SHA-256.
    pub id: String,
    kind: KeyKind,
}

#[derive(Clone)]
enum KeyKind {
    /// Signs component files.
    Minisign(::minisign::PublicKey),
    /// Signs OCI artifacts (the uncompressed P-256 point).
    Cosign(Vec<u8>),
}

impl TrustedKey {
    fn describe(&self) -> String {
        let kind = match self.kind {
            KeyKind::Minisign(_) => "minisign key",
            KeyKind::Cosign(_) => "cosign key",
        };
        format!("{kind} {} ({})", self.id, self.path.display())
    }
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Reads a public key file: a minisign public key, or a PEM ECDSA P-256 public key (cosign's
/// `cosign.pub`). The error names the file and what is wrong with it.
pub fn read_public_key(path: &Path) -> Result<TrustedKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the public key {}: {e}", path.display()))?;
    let (id, kind) = if cosign::is_pem_public_key(&text) {
        let point = cosign::read_public_key(&text)
            .map_err(|e| format!("{} is a PEM public key but {e}", path.display()))?;
        let id = crate::codec::hex(&Sha256::digest(&point)[..8]).to_uppercase();
        (id, KeyKind::Cosign(point))
    } else {
        let (key, id) = minisign::read_public_key(&text).map_err(|e| {
            format!(
                "{} is neither a minisign public key nor a PEM ECDSA P-256 public key: {e}",
                path.display()
            )
        })?;
        (id, KeyKind::Minisign(key))
    };
    Ok(TrustedKey {
        path: path.to_path_buf(),
        id,
        kind,
    })
}

/// The keys of `[pipeline.trust]`.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

/// One signature found for an OCI artifact: its payload and base64 signature.
#[derive(Debug, Clone)]
pub struct OciSignature {
    /// The simple signing payload.
    pub payload: Vec<u8>,
    /// The base64 signature of the payload.
    pub signature: String,
}

impl TrustedKeys {
    /// The trusted keys `config` names, read now, or `None` when plugins need no signature
    /// (a key file changed since the config was validated is read again, and a broken one
    /// refuses every plugin with its reason).
    pub fn from_config(config: &LoadedConfig) -> Result<Option<TrustedKeys>, String> {
        let Some(trust) = &config.config.pipeline.trust else {
            return Ok(None);
        };
        let keys = trust
            .key_paths(&config.base_dir)
            .iter()
            .map(|path| read_public_key(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(TrustedKeys { keys }))
    }

    fn minisign_keys(&self) -> impl Iterator<Item = (&TrustedKey, &::minisign::PublicKey)> {
        self.keys.iter().filter_map(|key| match &key.kind {
            KeyKind::Minisign(public) => Some((key, public)),
            KeyKind::Cosign(_) => None,
        })
    }

    fn cosign_keys(&self) -> impl Iterator<Item = (&TrustedKey, &[u8])> {
        self.keys.iter().filter_map(|key| match &key.kind {
            KeyKind::Cosign(point) => Some((key, point.as_slice())),
            KeyKind::Minisign(_) => None,
        })
    }

    /// Checks the signature of the component file `component` whose contents are `bytes`
    /// (what will be loaded, not the file read again); returns the key that signed it.
    pub fn verify_file(&self, component: &Path, bytes: &[u8]) -> Result<&TrustedKey, String> {
        let signature_path = signature_path(component);
        let text = match std::fs::read_to_string(&signature_path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "{} is not signed: there is no {} beside it, and [pipeline.trust] requires a \
                     signature from {} (sign it with `weft plugin sign {} --key SECRET_KEY`)",
                    component.display(),
                    signature_path.display(),
                    self.describe(),
                    component.display()
                ));
            }
            Err(e) => return Err(format!("cannot read {}: {e}", signature_path.display())),
        };
        let what = component.display();
        let (signature, signer) = minisign::read_signature(&text).map_err(|e| {
            format!(
                "{} is not a minisign signature: {e}",
                signature_path.display()
            )
        })?;
        let Some((key, public)) = self.minisign_keys().find(|(key, _)| key.id == signer) else {
            return Err(format!(
                "{what} is signed by key {signer} ({}), which is not a trusted key; trusted: {}",
                signature_path.display(),
                self.describe()
            ));
        };
        minisign::verify(public, &signature, bytes).map_err(|e| {
            format!(
                "{what} does not match its signature {} by key {} ({}): the file changed after \
                 it was signed, or the signature is another file's ({e})",
                signature_path.display(),
                key.id,
                key.path.display()
            )
        })?;
        Ok(key)
    }

    /// Checks that one of `signatures` (found in the registry for the manifest `digest` of
    /// `reference`) vouches for that digest and is made by a trusted cosign key; returns the
    /// key.
    pub fn verify_oci(
        &self,
        reference: &str,
        digest: &str,
        signatures: &[OciSignature],
    ) -> Result<&TrustedKey, String> {
        if self.cosign_keys().next().is_none() {
            return Err(format!(
                "{reference} is a plugin by reference, which needs a cosign signature, and \
                 [pipeline.trust] names no cosign (PEM) public key; trusted: {}",
                self.describe()
            ));
        }
        if signatures.is_empty() {
            return Err(format!(
                "{reference} ({digest}) is not signed: its registry has no cosign signature for \
                 it (sign it with `weft plugin sign {reference} --key KEY.pem`, or `cosign sign`)"
            ));
        }
        let mut reasons = Vec::new();
        for found in signatures {
            match cosign::signed_digest(&found.payload) {
                Ok(signed) if signed == digest => {}
                Ok(signed) => {
                    reasons.push(format!("one signs {signed}, another manifest"));
                    continue;
                }
                Err(reason) => {
                    reasons.push(reason);
                    continue;
                }
            }
            if let Some((key, _)) = self
                .cosign_keys()
                .find(|(_, point)| cosign::verify(point, &found.payload, &found.signature))
            {
                return Ok(key);
            }
            reasons.push("one is by a key that is not trusted (or does not verify)".into());
        }
        Err(format!(
            "{reference} ({digest}) has {} cosign signature(s), none valid from a trusted key: \
             {}; trusted: {}",
            signatures.len(),
            reasons.join("; "),
            self.describe()
        ))
    }

    /// The trusted keys, for messages.
    pub fn describe(&self) -> String {
        self.keys
            .iter()
            .map(TrustedKey::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
