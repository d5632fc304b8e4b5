//! Accepting connections on a listener, with or without TLS, for both receivers.
//!
//! A task accepts TCP connections and hands them to the server through a channel. With TLS,
//! each handshake runs on a task of its own within a deadline, so a client that connects and
//! sends nothing (or a slow handshake) never holds up the next connection; a failed handshake
//! (an unknown CA, no client certificate when one is required, plaintext on a TLS port) is
//! logged and counted, and the server never sees it.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use super::ServerTls;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections accepted, not yet served.
const BACKLOG: usize = 64;

/// A connection a receiver serves: plain TCP, or TLS over it.
#[derive(Debug)]
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS, handshake done.
    Tls(Box<TlsStream<TcpStream>>),
}

/// The connections of one listener, as they are accepted (and handshaken).
#[derive(Debug)]
pub struct Accepted {
    connections: mpsc::Receiver<Conn>,
    local: SocketAddr,
}

/// Starts accepting on `listener`, with `tls` when given; `on_handshake_failure` runs for each
/// failed handshake. The accepting stops when the [`Accepted`] is dropped.
pub fn accept(
    listener: TcpListener,
    tls: Option<Arc<ServerTls>>,
    on_handshake_failure: Arc<dyn Fn() + Send + Sync>,
) -> io::Result<Accepted> {
    let local = listener.local_addr()?;
    let (sender, connections) = mpsc::channel(BACKLOG);
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
            let _ = stream.set_nodelay(true);
            match &tls {
                None => {
                    if sender.send(Conn::Plain(stream)).await.is_err() {
                        return;
                    }
                }
                Some(tls) => {
                    let acceptor = TlsAcceptor::from(tls.config());
                    let sender = sender.clone();
                    let on_failure = on_handshake_failure.clone();
                    tokio::spawn(async move {
                        let handshake = acceptor.accept(stream);
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                            Ok(Ok(stream)) => {
                                let _ = sender.send(Conn::Tls(Box::new(stream))).await;
                            }
                            Ok(Err(error)) => {
                                on_failure();
                                tracing::info!(%peer, %error, "Refused a TLS handshake.");
                            }
                            Err(_) => {
                                on_failure();
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
        match self {
            Conn::Plain(stream) => stream,
            Conn::Tls(stream) => stream.get_ref().0,
        }
    }

    /// The client's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.tcp().connect_info()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(stream) => stream.is_write_vectored(),
            Conn::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}
