//! Minisign signatures of component files: `NAME.wasm.minisig` beside the component, made by
//! `weft plugin sign` or the minisign tool (Ed25519, a prehashed signature plus a signed
//! trusted comment).

use std::io::Cursor;
use std::path::{Path, PathBuf};

use minisign::{PublicKey, SecretKey, SignatureBox};

/// A minisign key ID (8 bytes, little-endian) as the minisign tool prints it.
pub fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    let n = keynum.len().min(8);
    bytes[..n].copy_from_slice(&keynum[..n]);
    format!("{:016X}", u64::from_le_bytes(bytes))
}

/// Reads a minisign public key; returns it with its key ID.
pub fn read_public_key(text: &str) -> Result<(PublicKey, String), String> {
    let key = PublicKey::from_box(text.to_owned().into())
        .map_err(|e| format!("not a minisign public key (as `minisign -G` writes): {e}"))?;
    let id = key_id(key.keynum());
    Ok((key, id))
}

/// The key ID a minisign signature names, and the parsed signature.
pub fn read_signature(text: &str) -> Result<(SignatureBox, String), String> {
    let signature = SignatureBox::from_string(text).map_err(|e| e.to_string())?;
    let id = key_id(signature.keynum());
    Ok((signature, id))
}

/// Whether `signature` signs `bytes` with `key`; the error is minisign's reason.
pub fn verify(key: &PublicKey, signature: &SignatureBox, bytes: &[u8]) -> Result<(), String> {
    minisign::verify(key, signature, Cursor::new(bytes), true, false, false)
        .map_err(|e| e.to_string())
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
