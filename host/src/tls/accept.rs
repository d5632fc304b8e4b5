//! Accepting connections on a listener, with or without TLS, for both receivers.
//!
//! A task accepts TCP connections and hands them to the server through a channel. With TLS,
//! each handshake runs on a task of its own within a deadline, so a client that connects and
//! sends nothing (or a slow handshake) never holds up the next connection; a failed handshake
//! (an unknown CA, no client certificate when one is required, plaintext on a TLS port) is
//! logged and counted, and the server never sees it. Past the listener's connection cap a
//! new connection is closed as it arrives, and counted.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::ServerTls;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections accepted, not yet served.
const BACKLOG: usize = 64;

/// A connection a server serves: plain TCP, or TLS over it. It holds one of the listener's
/// connection slots until it is dropped.
#[derive(Debug)]
pub struct Conn {
    io: Io,
    /// The subject of the client's certificate, with mutual TLS.
    client_subject: Option<Arc<str>>,
    _slot: OwnedSemaphorePermit,
}

/// What a server knows of a connection, attached to each of its requests.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// The client's address.
    pub remote: Option<SocketAddr>,
    /// The subject of the client's certificate (`CN=tenant-a,O=Acme`), with mutual TLS.
    pub client_subject: Option<Arc<str>>,
}

#[derive(Debug)]
enum Io {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, handshake done.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Why a connection was closed before a server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Its TLS handshake failed or did not finish in time.
    Handshake,
    /// The listener had as many connections as it allows.
    ConnectionLimit,
}

impl Refused {
    /// The reason as metrics label it.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Handshake => "tls_handshake",
            Refused::ConnectionLimit => "connection_limit",
        }
    }
}

/// The connections of one listener, as they are accepted (and handshaken).
#[derive(Debug)]
pub struct Accepted {
    connections: mpsc::Receiver<Conn>,
    local: SocketAddr,
}

/// Starts accepting on `listener`, with `tls` when given, at most `max_connections` at once;
/// `on_refused` runs for each connection closed before a server saw it. The accepting stops
/// when the [`Accepted`] is dropped.
pub fn accept(
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    max_connections: usize,
    on_refused: Arc<dyn Fn(Refused) + Send + Sync>,
) -> io::Result<Accepted> {
    let local = listener.local_addr()?;
    let (sender, connections) = mpsc::channel(BACKLOG);
    let slots = Arc::new(Semaphore::new(max_connections));
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = sender.closed() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "Accepting a connection failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                on_refused(Refused::ConnectionLimit);
                tracing::debug!(%peer, "Closed a connection past the listener's limit.");
                continue;
            };
            let _ = stream.set_nodelay(true);
            match &tls {
                None => {
                    let conn = Conn {
                        io: Io::Plain(stream),
                        client_subject: None,
                        _slot: slot,
                    };
                    if sender.send(conn).await.is_err() {
                        return;
                    }
                }
                Some(tls) => {
                    let acceptor = TlsAcceptor::from(tls.config());
                    let sender = sender.clone();
                    let on_refused = on_refused.clone();
                    tokio::spawn(async move {
                        let handshake = acceptor.accept(stream);
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                            Ok(Ok(stream)) => {
                                let client_subject = stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .and_then(|chain| chain.first())
                                    .and_then(|certificate| super::subject(certificate))
                                    .map(Arc::from);
                                let conn = Conn {
                                    io: Io::Tls(Box::new(stream)),
                                    client_subject,
                                    _slot: slot,
                                };
                                let _ = sender.send(conn).await;
                            }
                            Ok(Err(error)) => {
                                on_refused(Refused::Handshake);
                                tracing::info!(%peer, %error, "Refused a TLS handshake.");
                            }
                            Err(_) => {
                                on_refused(Refused::Handshake);
                                tracing::info!(%peer, "A TLS handshake did not finish in time.");
                            }
                        }
                    });
                }
            }
        }
    });
    Ok(Accepted { connections, local })
}

impl Accepted {
    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The next connection; `None` once the accepting task has ended.
    pub async fn next(&mut self) -> Option<Conn> {
        self.connections.recv().await
    }

    /// The connections as a stream, for tonic.
    pub fn into_stream(self) -> impl tokio_stream::Stream<Item = io::Result<Conn>> {
        let connections = tokio_stream::wrappers::ReceiverStream::new(self.connections);
        tokio_stream::StreamExt::map(connections, Ok::<Conn, io::Error>)
    }
}

impl axum::serve::Listener for Accepted {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self.next().await {
            Some(conn) => {
                let peer = conn.peer_addr().unwrap_or(self.local);
                (conn, peer)
            }
            // The accepting task is gone: no more connections; the server stops on shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match &self.io {
            Io::Plain(stream) => stream,
            Io::Tls(stream) => stream.get_ref().0,
        }
    }

    /// The client's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }

    /// What requests on this connection carry of it.
    pub fn info(&self) -> ConnInfo {
        ConnInfo {
            remote: self.peer_addr().ok(),
            client_subject: self.client_subject.clone(),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(stream) => stream.is_write_vectored(),
            Io::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Io::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
