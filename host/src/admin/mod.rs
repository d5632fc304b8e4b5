//! The admin HTTP server. Binds 127.0.0.1:8888 by default.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /healthz` | 200 while the process is up |
//! | `GET /readyz` | 200 when receivers are bound, every processor serves its configured version and no exporter is failing; else 503 with the reasons |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /api/plugins` | JSON: each processor's plugin, hash, size, load time, generation, state, last error, limits |
//! | `GET /api/tap?processor=NAME` | a live tap: spans before or after a processor, or what it changed, as JSON lines (query below) |
//! | `POST /reload` | re-read the config and plugins; the reload report as JSON (200 applied, 422 refused) |
//!
//! The tap's query: `processor=NAME`, `point=before|after|diff` (default `diff`),
//! `filter=KEY=VALUE` (repeatable), `rate=N` spans a second (default 10, at most 1000).
//!
//! Every request passes the guard first (`guard.rs`): the `Host` and `Origin` checks, and
//! with `admin.token` a bearer token on everything but `/healthz` and `/readyz`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

mod guard;
mod tap;

use crate::auth::BearerTokens;
use crate::config::{AdminConfig, AdminTapConfig};
use crate::reload::ReloadHandle;
use crate::telemetry::Metrics;
use crate::tls::Accepted;

#[derive(Clone)]
struct Admin {
    reload: ReloadHandle,
    metrics: Arc<Metrics>,
    /// What taps may show, and how many may be open.
    tap: AdminTapConfig,
}

/// Serves the admin endpoints on `listener` until `shutdown` completes, as `config` allows.
pub async fn serve_admin(
    listener: Accepted,
    config: AdminConfig,
    reload: ReloadHandle,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Arc::new(guard::Guard {
        tokens: config.token.as_ref().map(|token| {
            Arc::new(BearerTokens::new(
                token
                    .expose()
                    .lines()
                    .map(str::trim)
                    .filter(|t| !t.is_empty()),
            ))
        }),
        allowed_hosts: config.allowed_hosts,
    });
    let limits = config.limits;
    let state = Admin {
        reload,
        metrics,
        tap: config.tap,
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/plugins", get(plugins))
        .route("/api/tap", get(tap::tap))
        .route("/reload", post(reload_now))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
        .with_state(state);
    let header_timeout = std::time::Duration::from_millis(limits.header_read_timeout_ms);
    crate::serve::serve_http1(listener, app, header_timeout, || {}, shutdown).await
}

async fn readyz(State(admin): State<Admin>) -> Response {
    let mut problems = Vec::new();
    if !admin.metrics.receivers_bound.load(Ordering::SeqCst) {
        problems.push("receivers are not listening yet".to_owned());
    }
    for processor in admin.metrics.plugins_failing() {
        problems.push(format!("processor {processor:?} failed to load its configured version (an older version serves)"));
    }
    for component in admin.metrics.panics.failing() {
        problems.push(format!(
            "{component}: caught {} panics within {} s (a bug in Weft; it carries on, see the log)",
            crate::telemetry::FAILING_PANICS,
            crate::telemetry::FAILING_WINDOW.as_secs()
        ));
    }
    if let Some(exporter) = admin.metrics.exporter_failing() {
        problems.push(format!("exporter {exporter:?} failed its last exports"));
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n- {}\n", problems.join("\n- ")),
        )
            .into_response()
    }
}

async fn metrics_text(State(admin): State<Admin>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        admin.metrics.render(),
    )
        .into_response()
}

async fn plugins(State(admin): State<Admin>) -> Response {
    let body =
        serde_json::to_string_pretty(&admin.metrics.plugin_statuses()).expect("statuses serialise");
    ([("content-type", "application/json")], body).into_response()
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
