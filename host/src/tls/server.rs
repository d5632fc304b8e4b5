//! The TLS configuration of one listener, read again when its files change.
//!
//! Every handshake asks for the current configuration. At most once a second that looks at
//! the files' modification times; when one changed, the configuration is built again from the
//! files. Connections already open keep their session, new ones get the new certificate: a
//! certificate rotates with no restart and no dropped connection. A changed file that does
//! not load (a half-written key, a certificate without its key) is logged and the previous
//! configuration keeps serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use super::files::{TlsError, certificates, private_key, stamps};
use super::settings::{ServerTlsConfig, TlsVersion};

/// How often the files are looked at, at most.
const RECHECK: Duration = Duration::from_secs(1);

/// One listener's TLS, current with its files.
#[derive(Debug)]
pub struct ServerTls {
    files: Files,
    current: RwLock<Arc<ServerConfig>>,
    /// When the files were last looked at, and their modification times then.
    checked: Mutex<(Instant, Vec<Option<SystemTime>>)>,
}

/// Where a listener's TLS configuration comes from.
#[derive(Debug)]
struct Files {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_ca_file: Option<PathBuf>,
    min_version: TlsVersion,
    /// The ALPN protocols offered (`h2` for gRPC, `http/1.1` for OTLP/HTTP).
    alpn: Vec<Vec<u8>>,
}

impl ServerTls {
    /// Loads `config`'s files (relative to `base_dir`); errors name the file at fault.
    pub fn new(
        config: &ServerTlsConfig,
        base_dir: &Path,
        alpn: &[&[u8]],
    ) -> Result<Arc<Self>, TlsError> {
        let files = Files {
            cert_file: base_dir.join(&config.cert_file),
            key_file: base_dir.join(&config.key_file),
            client_ca_file: config.client_ca_file.as_ref().map(|f| base_dir.join(f)),
            min_version: config.min_version,
            alpn: alpn.iter().map(|p| p.to_vec()).collect(),
        };
        let stamps = stamps(&files.paths());
        let built = files.build()?;
        Ok(Arc::new(ServerTls {
            files,
            current: RwLock::new(Arc::new(built)),
            checked: Mutex::new((Instant::now(), stamps)),
        }))
    }

    /// The configuration for the next handshake.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.reload_if_changed();
        crate::sync::read(&self.current).clone()
    }

    fn reload_if_changed(&self) {
        let mut checked = crate::sync::lock(&self.checked);
        if checked.0.elapsed() < RECHECK {
            return;
        }
        let now = stamps(&self.files.paths());
        checked.0 = Instant::now();
        if now == checked.1 {
            return;
        }
        checked.1 = now;
        match self.files.build() {
            Ok(config) => {
                *crate::sync::write(&self.current) = Arc::new(config);
                tracing::info!(
                    cert_file = %self.files.cert_file.display(),
                    "Reloaded the TLS certificate."
                );
            }
            Err(error) => tracing::error!(
                %error,
                "A TLS file changed and does not load; the previous certificate keeps serving."
            ),
        }
    }
}

impl Files {
    fn paths(&self) -> Vec<&Path> {
        let mut files = vec![self.cert_file.as_path(), self.key_file.as_path()];
        files.extend(self.client_ca_file.as_deref());
        files
    }

    fn build(&self) -> Result<ServerConfig, TlsError> {
        let provider = provider();
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions(self.min_version))
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &self.client_ca_file {
            Some(path) => {
                let roots = Arc::new(root_store(path)?);
                let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| TlsError::Config(format!("{}: {e}", path.display())))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let chain = certificates(&self.cert_file)?;
        let key = private_key(&self.key_file)?;
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            TlsError::Config(format!(
                "{} and {} do not make a usable certificate and key: {e}",
                self.cert_file.display(),
                self.key_file.display()
            ))
        })?;
        config.alpn_protocols = self.alpn.clone();
        Ok(config)
    }
}

/// The certificates of the CA file at `path`, as trust roots.
pub fn root_store(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates(path)? {
        roots.add(certificate).map_err(|e| TlsError::Invalid {
            path: path.to_owned(),
            what: "a CA certificate",
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// The one cryptography provider Weft uses: ring (no C toolchain beyond a compiler, no
/// cmake). rustls marks it deprecated for lacking post-quantum key exchange (X25519MLKEM768);
/// its classical suites are what TLS 1.2 and 1.3 peers negotiate today. Moving to aws-lc-rs
/// would bring the hybrid exchange at the price of a heavier build.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// TLS 1.3 and 1.2.
static FROM_1_2: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];
/// TLS 1.3 alone.
static FROM_1_3: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

/// The versions from `min` up.
pub fn versions(min: TlsVersion) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match min {
        TlsVersion::V1_2 => &FROM_1_2,
        TlsVersion::V1_3 => &FROM_1_3,
    }
}
