//! Assembling a running Weft from a configuration, and shutting it down in data-flow order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{LoadedConfig, ProcessorConfig};
use crate::exporter::{ExportFanout, ExporterHandle, Sink, start_exporter};
use crate::pipeline::{ChainSpec, StageSpec, WorkerPool, start_workers};
use crate::runtime::{Limits, LoadedPlugin, PluginEngine, PluginError};
use crate::telemetry::PipelineStats;

/// A running pipeline: receivers, workers and exporters.
pub struct RunningService {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    stats: Arc<PipelineStats>,
    stop_receivers: Vec<oneshot::Sender<()>>,
    receivers: Vec<JoinHandle<()>>,
    workers: WorkerPool,
    exporters: Vec<ExporterHandle>,
    _chain: watch::Sender<Arc<ChainSpec>>,
    _engine: PluginEngine,
}

/// Loads every processor's plugin, in config order.
pub fn load_chain(
    engine: &PluginEngine,
    config: &LoadedConfig,
) -> Result<ChainSpec, Vec<PluginError>> {
    let mut stages = Vec::new();
    let mut errors = Vec::new();
    for processor in &config.config.processors {
        match load_plugin(engine, config, processor) {
            Ok(plugin) => stages.push(StageSpec {
                plugin: Arc::new(plugin),
                on_error: processor.on_error,
            }),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(ChainSpec { stages })
    } else {
        Err(errors)
    }
}

/// Reads, compiles and initialises one processor's plugin.
pub fn load_plugin(
    engine: &PluginEngine,
    config: &LoadedConfig,
    processor: &ProcessorConfig,
) -> Result<LoadedPlugin, PluginError> {
    let started = Instant::now();
    let bytes: std::borrow::Cow<'static, [u8]> = match processor.plugin.strip_prefix("builtin:") {
        Some(name) => crate::builtin::plugin(name)
            .ok_or_else(|| PluginError::Compile {
                plugin: processor.name.clone(),
                reason: format!("no built-in plugin {name:?}"),
            })?
            .into(),
        None => {
            let path =
                crate::config::plugin_path(&config.config, &config.base_dir, &processor.plugin);
            std::fs::read(&path)
                .map_err(|e| PluginError::Compile {
                    plugin: processor.name.clone(),
                    reason: format!("reading {}: {e}", path.display()),
                })?
                .into()
        }
    };
    let config_json = serde_json::to_string(&processor.config).expect("a TOML table is valid JSON");
    let limits = Limits {
        memory_bytes: (processor.memory_limit_mb as usize) << 20,
        timeout: Duration::from_millis(processor.timeout_ms),
    };
    let plugin = LoadedPlugin::load(engine, &processor.name, &bytes, config_json, limits)?;
    tracing::info!(
        processor = %processor.name,
        plugin = %processor.plugin,
        sha256 = &plugin.sha256()[..12],
        bytes = bytes.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Loaded processor."
    );
    Ok(plugin)
}

impl RunningService {
    /// Starts everything the configuration describes. Plugins are loaded and listeners bound
    /// before anything is served: a failure stops start-up with the reason.
    pub async fn start(config: LoadedConfig) -> anyhow::Result<Self> {
        let engine =
            PluginEngine::new().map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
        let chain =
            tokio::task::block_in_place(|| load_chain(&engine, &config)).map_err(|errors| {
                let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
                anyhow::anyhow!(
                    "{} processor(s) failed to load:\n{}",
                    errors.len(),
                    list.join("\n")
                )
            })?;
        let (chain_tx, chain_rx) = watch::channel(Arc::new(chain));
        let stats = Arc::new(PipelineStats::default());

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
                stats.clone(),
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
            stats.clone(),
        );

        let mut service = RunningService {
            grpc_addr: None,
            http_addr: None,
            stats,
            stop_receivers: Vec::new(),
            receivers: Vec::new(),
            workers,
            exporters,
            _chain: chain_tx,
            _engine: engine,
        };
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
        tracing::info!(
            grpc = ?service.grpc_addr,
            http = ?service.http_addr,
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
    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
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
        let stats = self.stats.snapshot();
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            received = stats.spans_received,
            exported = stats.spans_exported,
            export_failed = stats.spans_export_failed,
            "Shutdown complete."
        );
    }
}
