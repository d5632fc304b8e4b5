//! Reading certificates and keys from PEM files, with errors that name the file.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file holds no usable PEM item of the kind needed.
    #[error("{path} holds no {what} (expected PEM: {hint})")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
        /// What the file should look like.
        hint: &'static str,
    },
    /// A PEM item did not parse.
    #[error("{path}: {what} does not parse: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was being read.
        what: &'static str,
        /// The parser's reason.
        reason: String,
    },
    /// rustls refused the combination (a key that does not match its certificate, ...).
    #[error("{0}")]
    Config(String),
}

/// Every certificate in the PEM file at `path`.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid {
            path: path.to_owned(),
            what: "a certificate",
            reason: e.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::Empty {
            path: path.to_owned(),
            what: "certificate",
            hint: "-----BEGIN CERTIFICATE-----",
        });
    }
    Ok(certificates)
}

/// The private key in the PEM file at `path`.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            path: path.to_owned(),
            what: "private key",
            hint: "-----BEGIN PRIVATE KEY----- (or RSA / EC PRIVATE KEY)",
        },
        other => TlsError::Invalid {
            path: path.to_owned(),
            what: "the private key",
            reason: other.to_string(),
        },
    })
}

/// When each of `paths` was last changed (`None` for one that cannot be read now).
pub fn stamps(paths: &[&Path]) -> Vec<Option<SystemTime>> {
    paths
        .iter()
        .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
        .collect()
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}
