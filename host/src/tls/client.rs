//! TLS for exporters: the connector an `https://` OTLP exporter connects through.
//!
//! The backend's certificate is checked against the system's roots, or the configured CA
//! file; a client certificate is presented for mutual TLS when configured; the name checked
//! can be set apart from the endpoint's host. Verification is skipped only when the config
//! says `insecure_skip_verify = true`, and the exporter then logs a warning at start.

use std::path::Path;
use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::files::{TlsError, certificates, private_key};
use super::server::{provider, root_store, versions};
use super::settings::{ClientTlsConfig, TlsVersion};

/// A connector for `http://` and `https://` endpoints.
pub type HttpsConnector = hyper_rustls::HttpsConnector<HttpConnector>;

/// The HTTP versions an exporter speaks, offered by ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// HTTP/1.1 (OTLP/HTTP).
    Http1,
    /// HTTP/2 (OTLP/gRPC).
    Http2,
}

/// A connector verifying backends as `config` says (system roots when `None`); relative
/// paths are read from `base_dir`.
pub fn https_connector(
    config: Option<&ClientTlsConfig>,
    base_dir: &Path,
    alpn: Alpn,
) -> Result<HttpsConnector, TlsError> {
    let default = ClientTlsConfig::default();
    let config = config.unwrap_or(&default);
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(TlsVersion::V1_2))
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = if config.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
    } else {
        let roots = match &config.ca_file {
            Some(path) => root_store(&base_dir.join(path))?,
            None => system_roots()?,
        };
        builder.with_root_certificates(roots)
    };
    let tls = match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            let (cert, key) = (base_dir.join(cert), base_dir.join(key));
            builder
                .with_client_auth_cert(certificates(&cert)?, private_key(&key)?)
                .map_err(|e| {
                    TlsError::Config(format!(
                        "{} and {} do not make a usable client certificate and key: {e}",
                        cert.display(),
                        key.display()
                    ))
                })?
        }
        _ => builder.with_no_client_auth(),
    };
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let builder = match &config.server_name {
        Some(name) => {
            let name = ServerName::try_from(name.clone())
                .map_err(|e| TlsError::Config(format!("server_name {name:?}: {e}")))?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(match alpn {
        Alpn::Http1 => builder.enable_http1().build(),
        Alpn::Http2 => builder.enable_http2().build(),
    })
}

/// The system's trust roots.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsError::Config(format!(
            "no system CA certificates found ({}); set tls.ca_file",
            found
                .errors
                .first()
                .map_or("none installed".to_owned(), ToString::to_string)
        )));
    }
    Ok(roots)
}

/// Accepts any certificate (`insecure_skip_verify`), still checking that the handshake is
/// signed by the key of the certificate presented.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
