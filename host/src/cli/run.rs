//! `weft run`.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::service::RunningService;

/// Runs the pipeline until SIGINT or SIGTERM, then shuts down gracefully. A second signal
/// exits at once.
pub fn run(config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weft-io")
        .build()?;
    let outcome = runtime.block_on(async {
        let service = RunningService::start(config).await?;
        let signal = loop {
            match wait_for_signal().await {
                "SIGHUP" => {
                    tracing::info!("SIGHUP: reloading the configuration and plugins.");
                    service.reload().trigger(crate::reload::Trigger::Everything);
                }
                other => break other,
            }
        };
        tracing::info!(
            signal,
            "Shutting down: stopping receivers, draining the pipeline, flushing exporters."
        );
        tokio::select! {
            unflushed = service.shutdown() => {
                if !unflushed.is_empty() {
                    return Ok(ExitCode::FAILURE);
                }
            }
            signal = wait_for_stop_signal() => {
                tracing::warn!(signal, "Second signal: exiting without finishing the flush.");
                return Ok(ExitCode::from(130));
            }
        }
        Ok(ExitCode::SUCCESS)
    });
    // Don't wait on a blocking thread a plugin left stuck in a host call (its call was
    // abandoned at its deadline; the thread may never return).
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    outcome
}

/// Waits for SIGINT or SIGTERM (SIGHUP is ignored here).
pub(super) async fn wait_for_stop_signal() -> &'static str {
    loop {
        let signal = wait_for_signal().await;
        if signal != "SIGHUP" {
            return signal;
        }
    }
}

async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
        let mut hup = signal(SignalKind::hangup()).expect("installing the SIGHUP handler");
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => "SIGHUP",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "ctrl-c"
    }
}
