//! Assembling a running Weft from a configuration, and shutting it down in data-flow order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::LoadedConfig;
use crate::exporter::{ExportFanout, ExporterHandle, Sink, start_exporter};
use crate::loader::load_chain;
use crate::pipeline::{WorkerPool, start_workers};
use crate::reload::{ReloadHandle, Reloader, watch_files};
use crate::runtime::PluginEngine;
use crate::telemetry::{Metrics, PipelineStats};

/// A running pipeline: receivers, workers and exporters.
pub struct RunningService {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    stop_receivers: Vec<oneshot::Sender<()>>,
    receivers: Vec<JoinHandle<()>>,
    workers: WorkerPool,
    exporters: Vec<ExporterHandle>,
    reload: ReloadHandle,
    admin_addr: Option<SocketAddr>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl RunningService {
    /// Starts everything the configuration describes. Plugins are loaded and listeners bound
    /// before anything is served: a failure stops start-up with the reason.
    pub async fn start(config: LoadedConfig) -> anyhow::Result<Self> {
        let engine =
            PluginEngine::new().map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
        let cache = config.config.pipeline.component_cache(&config.base_dir);
        let chain = tokio::task::block_in_place(|| load_chain(&engine, &cache, &config, None))
            .map_err(|errors| {
                let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
                anyhow::anyhow!(
                    "{} processor(s) failed to load:\n{}",
                    errors.len(),
                    list.join("\n")
                )
            })?;
        let (chain_tx, chain_rx) = watch::channel(Arc::new(chain.spec.share()));
        let metrics = Arc::new(Metrics::default());
        crate::reload::record_chain(&metrics, &config, &chain, 0);

        let mut fanout = ExportFanout::default();
        let mut exporters = Vec::new();
        for (name, exporter) in &config.config.exporters {
            let sink = Sink::from_config(exporter, &config.base_dir)
                .with_context(|| format!("starting exporter {name:?}"))?;
            let (sender, handle) = start_exporter(
                name.clone(),
                sink,
                exporter.batch().clone(),
                exporter.retry().clone(),
                metrics.clone(),
            );
            fanout.push(sender);
            exporters.push(handle);
        }

        let pipeline = &config.config.pipeline;
        let (submitter, workers) = start_workers(
            pipeline.workers,
            pipeline.queue_capacity,
            pipeline.enqueue_timeout(),
            chain_rx,
            fanout,
            metrics.clone(),
        );

        let watcher = match config.config.reload.watch {
            true => Some(()),
            false => None,
        };
        let (watch_list, plugin_dirs) = watched_paths(&config);
        let reload = Reloader::new(
            engine,
            cache,
            config.clone(),
            chain,
            chain_tx,
            metrics.clone(),
        )
        .spawn();
        let watcher = match watcher {
            Some(()) if !(watch_list.is_empty() && plugin_dirs.is_empty()) => Some(
                watch_files(&watch_list, &plugin_dirs, reload.clone())
                    .context("watching plugin and config files")?,
            ),
            _ => None,
        };
        let mut service = RunningService {
            grpc_addr: None,
            http_addr: None,
            metrics,
            stop_receivers: Vec::new(),
            receivers: Vec::new(),
            workers,
            exporters,
            reload,
            admin_addr: None,
            _watcher: watcher,
        };
        if config.config.admin.enabled {
            let endpoint = &config.config.admin.endpoint;
            let listener = TcpListener::bind(endpoint)
                .await
                .with_context(|| format!("binding the admin server on {endpoint}"))?;
            service.admin_addr = Some(listener.local_addr()?);
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(crate::admin::serve_admin(
                listener,
                service.reload.clone(),
                service.metrics.clone(),
                async {
                    let _ = stopped.await;
                },
            ));
            service.stop_receivers.push(stop);
            service.receivers.push(tokio::spawn(async move {
                if let Ok(Err(e)) = task.await {
                    tracing::error!(error = %e, "Admin server failed.");
                }
            }));
        }
        let otlp = &config.config.receivers.otlp;
        if let Some(grpc) = &otlp.grpc {
            let listener = TcpListener::bind(&grpc.endpoint)
                .await
                .with_context(|| format!("binding OTLP/gRPC on {}", grpc.endpoint))?;
            service.grpc_addr = Some(listener.local_addr()?);
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(crate::receiver::serve_grpc(
                listener,
                submitter.clone(),
                grpc.max_request_bytes,
                async {
                    let _ = stopped.await;
                },
            ));
            service.stop_receivers.push(stop);
            service.receivers.push(tokio::spawn(async move {
                if let Ok(Err(e)) = task.await {
                    tracing::error!(error = %e, "OTLP/gRPC receiver failed.");
                }
            }));
        }
        if let Some(http) = &otlp.http {
            let listener = TcpListener::bind(&http.endpoint)
                .await
                .with_context(|| format!("binding OTLP/HTTP on {}", http.endpoint))?;
            service.http_addr = Some(listener.local_addr()?);
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(crate::receiver::serve_http(
                listener,
                submitter.clone(),
                http.max_request_bytes,
                async {
                    let _ = stopped.await;
                },
            ));
            service.stop_receivers.push(stop);
            service.receivers.push(tokio::spawn(async move {
                if let Ok(Err(e)) = task.await {
                    tracing::error!(error = %e, "OTLP/HTTP receiver failed.");
                }
            }));
        }
        drop(submitter);
        service
            .metrics
            .receivers_bound
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(
            grpc = ?service.grpc_addr,
            http = ?service.http_addr,
            admin = ?service.admin_addr,
            processors = config.config.processors.len(),
            exporters = service.exporters.len(),
            workers = pipeline.workers,
            config = %config.origin,
            "Weft is running."
        );
        Ok(service)
    }

    /// The bound OTLP/gRPC address, if that receiver is on.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The bound OTLP/HTTP address, if that receiver is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> &PipelineStats {
        &self.metrics.pipeline
    }

    /// Every metric, per processor, exporter and receiver.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The bound admin address, if the admin server is on.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The reload thread: trigger a reload, read the chain generation.
    pub fn reload(&self) -> &ReloadHandle {
        &self.reload
    }

    /// Stops in data-flow order: receivers stop accepting and finish in-flight requests, the
    /// workers drain the queue, the exporters flush. Every span accepted before this call is
    /// exported (or counted as failed) by the time it returns.
    pub async fn shutdown(self) {
        let started = Instant::now();
        for stop in self.stop_receivers {
            let _ = stop.send(());
        }
        for receiver in self.receivers {
            let _ = receiver.await;
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Receivers stopped; draining the pipeline."
        );
        let workers = self.workers;
        let _ = tokio::task::spawn_blocking(move || workers.join()).await;
        for exporter in self.exporters {
            exporter.join().await;
        }
        let stats = self.metrics.pipeline.snapshot();
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            received = stats.spans_received,
            exported = stats.spans_exported,
            export_failed = stats.spans_export_failed,
            "Shutdown complete."
        );
    }
}

/// The files to watch (file-based plugins and the config file) and the plugin directory.
fn watched_paths(config: &LoadedConfig) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let mut files: Vec<std::path::PathBuf> = config
        .config
        .processors
        .iter()
        .filter(|p| !p.plugin.starts_with("builtin:"))
        .map(|p| crate::config::plugin_path(&config.config, &config.base_dir, &p.plugin))
        .collect();
    files.extend(config.path.clone());
    let dirs = match &config.config.pipeline.plugin_dir {
        Some(dir) if dir.is_absolute() => vec![dir.clone()],
        Some(dir) => vec![config.base_dir.join(dir)],
        None => Vec::new(),
    };
    (files, dirs)
}
