//! TLS for the receivers (rustls, ring provider): certificates from PEM files, read again
//! when they change; optional client certificates (mutual TLS); handshakes off the accept
//! loop. Exporters' TLS is in `client.rs`.

mod accept;
mod client;
mod files;
mod server;
mod settings;
mod subject;

pub use accept::{Accepted, Conn, ConnInfo, Refused, accept};
pub use client::{Alpn, HttpsConnector, https_connector};
pub use files::TlsError;
pub use server::ServerTls;
pub use settings::{ClientTlsConfig, ServerTlsConfig, TlsVersion};
pub use subject::subject;
