//! Assembling a running Weft from a configuration, and shutting it down in data-flow order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{LoadedConfig, ShutdownConfig};
use crate::loader::load_chain;
use crate::persistent_queue::{Background, PersistentQueue};
use crate::pipeline::Submitter;
use crate::reload::{ReloadHandle, Reloader, watch_files};
use crate::sandbox::PluginEngine;
use crate::telemetry::{Metrics, PipelineStats};
pub use crate::topology::Addresses;
use crate::topology::Topology;
use crate::workers::{WorkerPool, WorkerSettings, start_workers};

/// A running pipeline: receivers, workers and exporters.
pub struct RunningService {
    metrics: Arc<Metrics>,
    topology: Arc<tokio::sync::Mutex<Topology>>,
    addresses: Arc<std::sync::Mutex<Addresses>>,
    stop_admin: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
    workers: WorkerPool,
    queue: Submitter,
    /// The persistent queue's background work, when there is one.
    persistence: Option<Background>,
    deadlines: ShutdownConfig,
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
        let cache = crate::sandbox::ComponentCache::at(
            config.config.pipeline.component_cache_dir(&config.base_dir),
        );
        // Loaded on a thread of its own, outside this runtime: a plugin whose `init` or smoke
        // batch blocks in a host call is abandoned at its deadline, and the host thread left
        // blocked must not belong to a runtime that waits for its threads when it stops.
        let chain = tokio::task::block_in_place(|| {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| load_chain(&engine, &cache, &config, None))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        })
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

        let pipeline = &config.config.pipeline;
        let persistent = match &pipeline.persistence {
            Some(persistence) => {
                let exporters: Vec<String> = config.config.exporters.keys().cloned().collect();
                let base_dir = &config.base_dir;
                Some(PersistentQueue::open(
                    persistence,
                    base_dir,
                    &exporters,
                    &metrics,
                )?)
            }
            None => None,
        };
        let (mut topology, fanout) = Topology::start_exporters(
            metrics.clone(),
            &config.config.exporters,
            &config.base_dir,
            persistent.as_ref().map(PersistentQueue::exports),
        )?;
        let settings = WorkerSettings {
            workers: pipeline.workers,
            capacity: pipeline.queue_capacity,
            memory_limit: pipeline.memory_limit_mb << 20,
            enqueue_timeout: pipeline.enqueue_timeout(),
            durable: persistent.as_ref().map(PersistentQueue::workers),
        };
        let (submitter, workers) = start_workers(settings, chain_rx, fanout, metrics.clone());
        let queue = submitter.clone();
        let persistence = persistent.map(|queue| queue.start(submitter.clone(), metrics.clone()));
        topology
            .set_receivers(
                &config.config.receivers.otlp,
                &config.base_dir,
                Some(submitter),
            )
            .await?;
        let addresses = Arc::new(std::sync::Mutex::new(Addresses {
            grpc: topology.grpc_addr(),
            http: topology.http_addr(),
        }));
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
            queue,
            persistence,
            deadlines: pipeline.shutdown.clone(),
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
            let max_connections = config.config.admin.limits.max_connections;
            let listener = crate::tls::accept(listener, None, max_connections, Arc::new(|_| {}))?;
            let (stop, stopped) = oneshot::channel::<()>();
            let serve = crate::admin::serve_admin(
                listener,
                config.config.admin.clone(),
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
        let addresses = *crate::sync::lock(&service.addresses);
        tracing::info!(
            grpc = ?addresses.grpc,
            http = ?addresses.http,
            admin = ?service.admin_addr,
            chain = %config
                .config
                .processors
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(" -> "),
            exporters = %config
                .config
                .exporters
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            workers = pipeline.workers,
            config = %config.origin,
            "Weft is running."
        );
        Ok(service)
    }

    /// The bound OTLP/gRPC address, if that receiver is on.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        crate::sync::lock(&self.addresses).grpc
    }

    /// The bound OTLP/HTTP address, if that receiver is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        crate::sync::lock(&self.addresses).http
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

    /// Stops in data-flow order, each stage within its deadline (`[pipeline.shutdown]`):
    /// receivers stop accepting and finish in-flight requests, the workers drain the queue
    /// (the tail-sampling stage decides what it holds), the exporters flush. When every stage
    /// finishes in time, every span accepted before this call is exported (or counted as
    /// failed) by the time it returns. Past a deadline, shutdown goes on to the next stage;
    /// what was not flushed is logged and returned.
    pub async fn shutdown(self) -> Unflushed {
        let started = Instant::now();
        let deadlines = self.deadlines.clone();
        // Open taps are endless responses: end them, so the admin server can stop.
        self.metrics.taps.close_all();
        if let Some((stop, task)) = self.stop_admin {
            let _ = stop.send(());
            if tokio::time::timeout(ms(deadlines.receivers_ms), task)
                .await
                .is_err()
            {
                tracing::warn!(
                    deadline_ms = deadlines.receivers_ms,
                    "The admin server did not finish its requests in time; going on."
                );
            }
        }
        let receivers = async { self.topology.lock().await.stop_receivers().await };
        let receivers_in_time = tokio::time::timeout(ms(deadlines.receivers_ms), receivers)
            .await
            .is_ok();
        if !receivers_in_time {
            tracing::warn!(
                deadline_ms = deadlines.receivers_ms,
                "Receivers did not finish their in-flight requests in time; refusing what is left (clients may retry)."
            );
        }
        self.queue.close();
        drop(self.queue);
        drop(self.reload);
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Receivers stopped; draining the pipeline."
        );
        let workers = self.workers;
        let drained = tokio::time::timeout(
            ms(deadlines.drain_ms),
            tokio::task::spawn_blocking(move || workers.join()),
        )
        .await
        .is_ok();
        let in_pipeline = self.metrics.pipeline.snapshot().spans_in_pipeline();
        if !drained {
            tracing::warn!(
                deadline_ms = deadlines.drain_ms,
                spans = in_pipeline,
                "The pipeline did not drain in time; these spans are still queued, in a processor or in the tail-sampling stage."
            );
        }
        let exporters = self.topology.lock().await.release_exporters();
        let flushed = tokio::time::timeout(ms(deadlines.flush_ms), async {
            for exporter in exporters {
                exporter.join().await;
            }
        })
        .await
        .is_ok();
        if let Some(persistence) = self.persistence {
            persistence.stop(&self.metrics).await;
        }
        let mut unflushed = Unflushed {
            in_pipeline: if drained { 0 } else { in_pipeline },
            by_exporter: Vec::new(),
        };
        for (name, counters) in self.metrics.exporters() {
            let unsent = counters.spans_unsent();
            if unsent > 0 {
                tracing::warn!(exporter = %name, spans = unsent, deadline_ms = deadlines.flush_ms, "Exporter did not flush in time; these spans were not sent.");
                unflushed.by_exporter.push((name, unsent));
            }
        }
        let stats = self.metrics.pipeline.snapshot();
        if flushed && unflushed.is_empty() {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                received = stats.spans_received,
                exported = stats.spans_exported,
                export_failed = stats.spans_export_failed,
                "Shutdown complete."
            );
        } else {
            tracing::error!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                received = stats.spans_received,
                exported = stats.spans_exported,
                export_failed = stats.spans_export_failed,
                not_flushed = unflushed.total(),
                "Shutdown finished past a deadline; spans were not flushed."
            );
        }
        unflushed
    }
}

/// What a shutdown left behind when a stage ran past its deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unflushed {
    /// Accepted spans that never reached the exporters.
    pub in_pipeline: u64,
    /// Per exporter, spans it held and did not send.
    pub by_exporter: Vec<(String, u64)>,
}

impl Unflushed {
    /// Whether everything was flushed.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// Span deliveries not made: spans left in the pipeline (once) plus each exporter's unsent
    /// spans.
    pub fn total(&self) -> u64 {
        self.in_pipeline + self.by_exporter.iter().map(|(_, n)| n).sum::<u64>()
    }
}

fn ms(millis: u64) -> std::time::Duration {
    std::time::Duration::from_millis(millis)
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
