//! Certificates made for a test: a CA, server certificates for 127.0.0.1 and `localhost`,
//! client certificates, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A certificate authority that signs the test's certificates.
pub struct TestCa {
    key: KeyPair,
    certificate: Certificate,
}

/// PEM files of one certificate and its key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The certificate, DER (to recognise it on the wire).
    pub der: Vec<u8>,
}

impl TestCa {
    /// A new CA named `name`, its certificate written to `dir/{name}.pem`.
    pub fn new(dir: &Path, name: &str) -> (Self, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let certificate = params.self_signed(&key).unwrap();
        let path = dir.join(format!("{name}.pem"));
        std::fs::write(&path, certificate.pem()).unwrap();
        (TestCa { key, certificate }, path)
    }

    /// A server certificate for 127.0.0.1 and `localhost`, as `dir/{name}.pem` and
    /// `dir/{name}-key.pem`.
    pub fn server(&self, dir: &Path, name: &str) -> Issued {
        self.issue(dir, name, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate whose subject is `CN={name}`.
    pub fn client(&self, dir: &Path, name: &str) -> Issued {
        self.issue(dir, name, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, dir: &Path, name: &str, usage: ExtendedKeyUsagePurpose) -> Issued {
        let key = KeyPair::generate().unwrap();
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let mut params = CertificateParams::new(names).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        let certificate = params
            .signed_by(&key, &self.certificate, &self.key)
            .unwrap();
        let cert = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}-key.pem"));
        write_replacing(&cert, certificate.pem().as_bytes());
        write_replacing(&key_path, key.serialize_pem().as_bytes());
        Issued {
            cert,
            key: key_path,
            der: certificate.der().to_vec(),
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, as a certificate manager
/// replaces a certificate: a reader sees the old file or the new one, never half of one.
pub fn write_replacing(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}
