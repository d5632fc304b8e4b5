//! Assembling a running Weft from a configuration, and shutting it down in data-flow order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::LoadedConfig;
use crate::loader::load_chain;
use crate::pipeline::{WorkerPool, start_workers};
use crate::reload::{ReloadHandle, Reloader, watch_files};
use crate::runtime::PluginEngine;
use crate::telemetry::{Metrics, PipelineStats};
use crate::topology::Topology;

/// A running pipeline: receivers, workers and exporters.
pub struct RunningService {
    metrics: Arc<Metrics>,
    topology: Arc<tokio::sync::Mutex<Topology>>,
    addresses: Arc<std::sync::Mutex<Addresses>>,
    stop_admin: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    workers: WorkerPool,
    reload: ReloadHandle,
    admin_addr: Option<SocketAddr>,
    _watcher: Option<notify::RecommendedWatcher>,
}

/// Where the receivers listen now (they can move on reload).
#[derive(Debug, Clone, Copy, Default)]
pub struct Addresses {
    /// OTLP/gRPC.
    pub grpc: Option<SocketAddr>,
    /// OTLP/HTTP.
    pub http: Option<SocketAddr>,
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

        let (mut topology, fanout) =
            Topology::start_exporters(metrics.clone(), &config.config.exporters, &config.base_dir)?;
        let pipeline = &config.config.pipeline;
        let (submitter, workers) = start_workers(
            pipeline.workers,
            pipeline.queue_capacity,
            pipeline.enqueue_timeout(),
            chain_rx,
            fanout,
            metrics.clone(),
        );
        topology
            .set_receivers(&config.config.receivers.otlp, Some(submitter))
            .await?;
        let addresses = Arc::new(std::sync::Mutex::new(Addresses {
            grpc: topology.grpc_addr(),
            http: topology.http_addr(),
        }));
        let exporters = topology.exporter_count();
        let topology = Arc::new(tokio::sync::Mutex::new(topology));

        let (watch_list, plugin_dirs) = watched_paths(&config);
        let live = crate::reload::LiveParts {
            runtime: tokio::runtime::Handle::current(),
            topology: topology.clone(),
            addresses: addresses.clone(),
        };
        let reload = Reloader::new(
            engine,
            cache,
            config.clone(),
            chain,
            chain_tx,
            metrics.clone(),
            live,
        )
        .spawn();
        let watcher =
            if config.config.reload.watch && !(watch_list.is_empty() && plugin_dirs.is_empty()) {
                Some(
                    watch_files(&watch_list, &plugin_dirs, reload.clone())
                        .context("watching plugin and config files")?,
                )
            } else {
                None
            };
        let mut service = RunningService {
            metrics,
            topology,
            addresses,
            stop_admin: None,
            workers,
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
            let serve = crate::admin::serve_admin(
                listener,
                service.reload.clone(),
                service.metrics.clone(),
                async {
                    let _ = stopped.await;
                },
            );
            let task = tokio::spawn(async move {
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "Admin server failed.");
                }
            });
            service.stop_admin = Some((stop, task));
        }
        service
            .metrics
            .receivers_bound
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let addresses = *service.addresses.lock().unwrap();
        tracing::info!(
            grpc = ?addresses.grpc,
            http = ?addresses.http,
            admin = ?service.admin_addr,
            processors = config.config.processors.len(),
            exporters,
            workers = pipeline.workers,
            config = %config.origin,
            "Weft is running."
        );
        Ok(service)
    }

    /// The bound OTLP/gRPC address, if that receiver is on.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.addresses.lock().unwrap().grpc
    }

    /// The bound OTLP/HTTP address, if that receiver is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.addresses.lock().unwrap().http
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
        if let Some((stop, task)) = self.stop_admin {
            let _ = stop.send(());
            let _ = task.await;
        }
        self.topology.lock().await.stop_receivers().await;
        drop(self.reload);
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Receivers stopped; draining the pipeline."
        );
        let workers = self.workers;
        let _ = tokio::task::spawn_blocking(move || workers.join()).await;
        let exporters = self.topology.lock().await.release_exporters();
        for exporter in exporters {
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
