//! Serving an axum app over accepted connections as HTTP/1.1: each connection on a task of its
//! own, the request headers within a deadline (slowloris), and a graceful stop that lets
//! requests in flight finish. Used by the OTLP/HTTP receiver and the admin server.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;

use crate::tls::Accepted;

/// Serves `app` on the connections of `listener` until `shutdown` completes, then waits for
/// the connections' requests in flight. A connection whose request headers do not arrive
/// within `header_timeout` is closed, and `on_header_timeout` runs.
pub async fn serve_http1(
    mut listener: Accepted,
    app: Router,
    header_timeout: Duration,
    on_header_timeout: impl Fn() + Send + Sync + Clone + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let conn = tokio::select! {
            () = &mut shutdown => break,
            conn = listener.next() => match conn {
                Some(conn) => conn,
                None => break,
            },
        };
        // Every request carries what the server knows of its connection (the subject of
        // a client certificate, ...).
        let info = conn.info();
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(info.clone());
            tower_service::Service::call(&mut app.clone(), request)
        });
        let connection = builder.serve_connection(TokioIo::new(conn), service);
        let connection = graceful.watch(connection);
        let on_header_timeout = on_header_timeout.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                if error.is_timeout() {
                    on_header_timeout();
                }
                tracing::debug!(%error, "An HTTP connection ended with an error.");
            }
        });
    }
    graceful.shutdown().await;
    Ok(())
}
