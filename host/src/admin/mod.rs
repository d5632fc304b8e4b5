//! The admin HTTP server: liveness and on-demand reload. Binds 127.0.0.1:8888 by default.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::reload::ReloadHandle;
use crate::telemetry::PipelineStats;

#[derive(Clone)]
struct Admin {
    reload: ReloadHandle,
    _stats: Arc<PipelineStats>,
}

/// Serves the admin endpoints on `listener` until `shutdown` completes:
/// - `GET /healthz`: 200 while the process is up.
/// - `POST /reload`: re-reads the config file and every plugin; answers the reload report as
///   JSON, with 200 when it applied (or nothing changed) and 422 when something was refused.
pub async fn serve_admin(
    listener: TcpListener,
    reload: ReloadHandle,
    stats: Arc<PipelineStats>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/reload", post(reload_now))
        .with_state(Admin {
            reload,
            _stats: stats,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn reload_now(State(admin): State<Admin>) -> Response {
    match admin.reload.reload_now().await {
        Some(report) => {
            let status = if report.refused.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let body = serde_json::to_string_pretty(&report).expect("a report serialises");
            (status, [("content-type", "application/json")], body).into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the reload thread has stopped\n",
        )
            .into_response(),
    }
}
