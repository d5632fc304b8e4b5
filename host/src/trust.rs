//! Plugin signatures: with `[pipeline.trust]`, a component is loaded only if it carries a
//! valid minisign signature from one of the trusted keys.
//!
//! The format is minisign's (Ed25519, a prehashed signature plus a signed trusted comment),
//! so keys and signatures can be made with the `minisign` tool as well as with
//! `weft plugin sign`. A file `NAME.wasm` is signed by `NAME.wasm.minisig` beside it.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use minisign::{PublicKey, SecretKey, SignatureBox};

use crate::config::LoadedConfig;

/// A public key plugins may be signed with, and where it came from (for messages).
#[derive(Clone)]
pub struct TrustedKey {
    /// The key file.
    pub path: PathBuf,
    /// Its key ID as minisign prints it (16 hex digits).
    pub id: String,
    key: PublicKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "key {} ({})", self.id, self.path.display())
    }
}

/// A minisign key ID (8 bytes, little-endian) as the minisign tool prints it.
fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    let n = keynum.len().min(8);
    bytes[..n].copy_from_slice(&keynum[..n]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// Reads a minisign public key file; the error names the file and what is wrong with it.
pub fn read_public_key(path: &Path) -> Result<TrustedKey, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the public key {}: {e}", path.display()))?;
    let key = PublicKey::from_box(text.into()).map_err(|e| {
        format!(
            "{} is not a minisign public key (as `minisign -G` writes): {e}",
            path.display()
        )
    })?;
    Ok(TrustedKey {
        path: path.to_path_buf(),
        id: key_id(key.keynum()),
        key,
    })
}

/// The keys of `[pipeline.trust]`, or `None` when plugins need no signature.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
}

impl TrustedKeys {
    /// The trusted keys `config` names, read now (a key file changed since the config was
    /// validated is read again, and a broken one refuses every plugin with its reason).
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
        self.verify(
            &component.display().to_string(),
            &signature_path,
            &text,
            bytes,
        )
    }

    /// Checks the minisign signature `signature` (the text of `signature_path`) of `bytes`,
    /// the contents of `what`.
    pub fn verify(
        &self,
        what: &str,
        signature_path: &Path,
        signature: &str,
        bytes: &[u8],
    ) -> Result<&TrustedKey, String> {
        let signature_box = SignatureBox::from_string(signature).map_err(|e| {
            format!(
                "{} is not a minisign signature: {e}",
                signature_path.display()
            )
        })?;
        let signer = key_id(signature_box.keynum());
        let Some(key) = self.keys.iter().find(|key| key.id == signer) else {
            return Err(format!(
                "{what} is signed by key {signer} ({}), which is not a trusted key; trusted: {}",
                signature_path.display(),
                self.describe()
            ));
        };
        minisign::verify(
            &key.key,
            &signature_box,
            Cursor::new(bytes),
            true,
            false,
            false,
        )
        .map_err(|e| {
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

    /// The trusted keys, for messages: `ID (FILE)`, comma-separated.
    pub fn describe(&self) -> String {
        self.keys
            .iter()
            .map(|key| format!("key {} ({})", key.id, key.path.display()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where the signature of the component file `component` lives: `NAME.wasm.minisig`.
pub fn signature_path(component: &Path) -> PathBuf {
    let mut name = component.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// Signs `bytes` with the minisign secret key in `secret_key` (prompting for its password
/// when it is encrypted and `password` is `None`); returns the signature file's text. The
/// trusted comment records `file:NAME` beside minisign's usual timestamp.
pub fn sign(
    bytes: &[u8],
    file_name: &str,
    secret_key: &Path,
    password: Option<String>,
) -> Result<String, String> {
    let text = std::fs::read_to_string(secret_key)
        .map_err(|e| format!("cannot read the secret key {}: {e}", secret_key.display()))?;
    // A key made without a password (`minisign -G -W`) is used as it is; an encrypted one
    // needs its password.
    let key = SecretKey::from_unencrypted_box(text.clone().into())
        .map_err(|e| e.to_string())
        .or_else(|first| match first.as_str() {
            "Key might be encrypted" => {
                SecretKey::from_box(text.into(), password).map_err(|e| e.to_string())
            }
            // minisign 0.11 writes no checksum into a key made with -W.
            "Corrupted key" => Err("it has no valid checksum (minisign 0.11 writes none into \
                 keys made with -W): make the key with a password and give it in \
                 WEFT_SIGNING_PASSWORD"
                .to_owned()),
            _ => Err(first),
        })
        .map_err(|e| {
            format!(
                "{} is not a usable minisign secret key: {e}",
                secret_key.display()
            )
        })?;
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let trusted = format!("timestamp:{timestamp}\tfile:{file_name}");
    let signature = minisign::sign(None, &key, Cursor::new(bytes), Some(&trusted), None)
        .map_err(|e| format!("signing with {}: {e}", secret_key.display()))?;
    Ok(signature.into_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use minisign::KeyPair;

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
            error.contains("team.pub is not a minisign public key"),
            "{error}"
        );
        let error = read_public_key(&dir.join("missing.pub")).unwrap_err();
        assert!(error.contains("cannot read the public key"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
