//! The reload thread: decides what changed, builds the new chain, swaps it in.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::config::ChainSource;
use crate::config::LoadedConfig;
use crate::loader::{LoadedChain, fingerprint, load_chain, load_plugin, plugin_bytes};
use crate::pipeline::{ChainSpec, StageSpec};
use crate::sandbox::{ComponentCache, PluginEngine};
use crate::telemetry::{Metrics, PipelineStats};
use crate::topology::Addresses;
use crate::topology::Topology;

/// What asks for a reload.
#[derive(Debug)]
pub enum Trigger {
    /// Files changed (plugins, or the config file).
    Files(Vec<PathBuf>),
    /// SIGHUP or `POST /reload`: re-read the config file and every plugin.
    Everything,
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReloadReport {
    /// Processors now running a new version.
    pub updated: Vec<String>,
    /// Problems: each names the processor or file and why the old version keeps serving.
    pub refused: Vec<String>,
    /// Settings that changed but only take effect after a restart.
    pub needs_restart: Vec<String>,
    /// The chain generation after this reload.
    pub generation: u64,
}

/// A handle on the reload thread: trigger reloads, read the chain generation.
#[derive(Clone)]
pub struct ReloadHandle {
    sender: mpsc::Sender<(Trigger, Option<oneshot::Sender<ReloadReport>>)>,
    generation: Arc<AtomicU64>,
}

impl ReloadHandle {
    /// Asks for a reload without waiting.
    pub fn trigger(&self, trigger: Trigger) {
        let _ = self.sender.send((trigger, None));
    }

    /// Reloads everything and waits for the report.
    pub async fn reload_now(&self) -> Option<ReloadReport> {
        let (reply, report) = oneshot::channel();
        self.sender.send((Trigger::Everything, Some(reply))).ok()?;
        report.await.ok()
    }

    /// How many chains have been swapped in since start (0 = the first one).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// Owns the current configuration and chain, and applies reloads.
pub struct Reloader {
    engine: PluginEngine,
    cache: ComponentCache,
    config: LoadedConfig,
    chain: LoadedChain,
    chain_tx: watch::Sender<Arc<ChainSpec>>,
    stats: Arc<Metrics>,
    generation: Arc<AtomicU64>,
    debounce: Duration,
    live: LiveParts,
}

/// The running receivers and exporters, which a config reload may replace.
pub struct LiveParts {
    /// The runtime the receivers and exporters run on.
    pub runtime: tokio::runtime::Handle,
    /// Receivers and exporters.
    pub topology: Arc<tokio::sync::Mutex<Topology>>,
    /// Where the receivers listen, for the service to report.
    pub addresses: Arc<std::sync::Mutex<Addresses>>,
}

impl Reloader {
    /// A reloader for a service started from `config` with `chain`.
    pub fn new(
        engine: PluginEngine,
        cache: ComponentCache,
        config: LoadedConfig,
        chain: LoadedChain,
        chain_tx: watch::Sender<Arc<ChainSpec>>,
        stats: Arc<Metrics>,
        live: LiveParts,
    ) -> Self {
        let debounce = Duration::from_millis(config.config.reload.debounce_ms);
        Reloader {
            engine,
            cache,
            config,
            chain,
            chain_tx,
            stats,
            generation: Arc::new(AtomicU64::new(0)),
            debounce,
            live,
        }
    }

    /// Starts the reload thread. It stops when every handle is dropped.
    pub fn spawn(self) -> ReloadHandle {
        let (sender, receiver) = mpsc::channel();
        let handle = ReloadHandle {
            sender,
            generation: self.generation.clone(),
        };
        std::thread::Builder::new()
            .name("weft-reload".into())
            .spawn(move || self.run(receiver))
            .expect("spawning the reload thread");
        handle
    }

    fn run(mut self, receiver: mpsc::Receiver<(Trigger, Option<oneshot::Sender<ReloadReport>>)>) {
        while let Ok((trigger, reply)) = receiver.recv() {
            let mut files = Vec::new();
            let mut everything = false;
            let mut replies = Vec::new();
            let mut add = |trigger: Trigger, reply: Option<oneshot::Sender<ReloadReport>>| {
                match trigger {
                    Trigger::Files(paths) => files.extend(paths),
                    Trigger::Everything => everything = true,
                }
                replies.extend(reply);
            };
            let explicit = reply.is_some();
            add(trigger, reply);
            // Debounce file events: wait for a quiet period so a file written in several
            // steps is read once, whole. Explicit requests are answered at once.
            if !explicit {
                while let Ok((trigger, reply)) = receiver.recv_timeout(self.debounce) {
                    add(trigger, reply);
                }
            }
            let started = Instant::now();
            // A drop-in directory's files are the chain itself: any change there is read like
            // a change of the config.
            let drop_in = self.config.config.pipeline.chain == ChainSource::Directory;
            let config_changed = everything
                || drop_in
                || self
                    .config
                    .path
                    .as_ref()
                    .is_some_and(|p| files.iter().any(|f| f == p));
            let report = if config_changed {
                self.reload_config()
            } else {
                self.reload_plugins(&files)
            };
            tracing::info!(
                updated = ?report.updated,
                refused = report.refused.len(),
                generation = report.generation,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "Reload finished."
            );
            for reply in replies {
                let _ = reply.send(report.clone());
            }
        }
    }

    /// Re-reads every plugin of the current config. A processor whose file fails to load
    /// keeps its running version; the others update.
    fn reload_plugins(&mut self, changed: &[PathBuf]) -> ReloadReport {
        let mut report = ReloadReport::default();
        let mut stages = Vec::with_capacity(self.chain.spec.stages.len());
        let mut fingerprints = Vec::with_capacity(self.chain.fingerprints.len());
        for (i, processor) in self.config.config.processors.iter().enumerate() {
            let current = &self.chain.spec.stages[i];
            let keep = |stages: &mut Vec<StageSpec>, fingerprints: &mut Vec<_>| {
                stages.push(current.clone());
                fingerprints.push(self.chain.fingerprints[i].clone());
            };
            let bytes = match plugin_bytes(&self.config, processor) {
                Ok(bytes) if !bytes.is_empty() => bytes,
                Ok(_) => {
                    keep(&mut stages, &mut fingerprints);
                    continue;
                }
                Err(
                    e @ (crate::sandbox::PluginError::Untrusted { .. }
                    | crate::sandbox::PluginError::Fetch { .. }),
                ) => {
                    // A file swapped for one without a valid signature, or a reference that
                    // cannot be fetched, is a refused reload, reported with the reason.
                    tracing::warn!(processor = %processor.name, error = %e, "Plugin reload refused; keeping the previous version.");
                    PipelineStats::add(&self.stats.pipeline.reloads_refused, 1);
                    report.refused.push(e.to_string());
                    self.stats
                        .plugin_reload_failed(&processor.name, e.to_string());
                    keep(&mut stages, &mut fingerprints);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(processor = %processor.name, error = %e, "Plugin file unreadable or removed; keeping the loaded version.");
                    keep(&mut stages, &mut fingerprints);
                    continue;
                }
            };
            let print = fingerprint(processor, &bytes);
            if print == self.chain.fingerprints[i] {
                // The file matches what serves: any earlier failed reload is over.
                self.stats.plugin_recovered(&processor.name);
                keep(&mut stages, &mut fingerprints);
                continue;
            }
            match load_plugin(&self.engine, &self.cache, &self.config, processor, &bytes) {
                Ok(plugin) => {
                    report.updated.push(processor.name.clone());
                    let generation = self.generation.load(Ordering::SeqCst) + 1;
                    self.stats
                        .plugin_loaded(super::serving_status(processor, &plugin, generation));
                    stages.push(StageSpec::new(Arc::new(plugin), processor));
                    fingerprints.push(print);
                }
                Err(e) => {
                    let path = match crate::oci::is_oci(&processor.plugin) {
                        true => PathBuf::from(&processor.plugin),
                        false => crate::config::plugin_path(
                            &self.config.config,
                            &self.config.base_dir,
                            &processor.plugin,
                        ),
                    };
                    tracing::warn!(processor = %processor.name, file = %path.display(), error = %e, "Plugin reload refused; keeping the previous version.");
                    PipelineStats::add(&self.stats.pipeline.reloads_refused, 1);
                    report.refused.push(format!("{}: {e}", path.display()));
                    self.stats
                        .plugin_reload_failed(&processor.name, format!("{}: {e}", path.display()));
                    keep(&mut stages, &mut fingerprints);
                }
            }
        }
        super::unwired::report_unwired(&self.config, &self.engine, &self.cache, changed);
        if !report.updated.is_empty() {
            self.swap(LoadedChain {
                spec: ChainSpec { stages },
                fingerprints,
            });
        }
        report.generation = self.generation.load(Ordering::SeqCst);
        report
    }

    /// Re-reads the config file and every plugin. An invalid config, or one whose chain fails
    /// to load, is refused whole; the running one stays.
    fn reload_config(&mut self) -> ReloadReport {
        let mut report = ReloadReport::default();
        let new_config = match &self.config.path {
            Some(path) => match LoadedConfig::from_file(path) {
                Ok(config) => config,
                Err(errors) => {
                    tracing::warn!(config = %path.display(), errors = %errors, "New configuration refused; keeping the running one.");
                    PipelineStats::add(&self.stats.pipeline.reloads_refused, 1);
                    report
                        .refused
                        .extend(errors.0.iter().map(|e| e.to_string()));
                    report.generation = self.generation.load(Ordering::SeqCst);
                    return report;
                }
            },
            None => self.config.clone(),
        };
        match load_chain(&self.engine, &self.cache, &new_config, Some(&self.chain)) {
            Ok(chain) => {
                let changed = chain.fingerprints != self.chain.fingerprints;
                if changed {
                    report.updated = chain
                        .fingerprints
                        .iter()
                        .filter(|f| !self.chain.fingerprints.contains(f))
                        .map(|f| f.name.clone())
                        .collect();
                    if report.updated.is_empty() {
                        report.updated.push("(chain order)".into());
                    }
                    let generation = self.generation.load(Ordering::SeqCst) + 1;
                    for (processor, (stage, print)) in new_config
                        .config
                        .processors
                        .iter()
                        .zip(chain.spec.stages.iter().zip(&chain.fingerprints))
                    {
                        if !self.chain.fingerprints.contains(print) {
                            self.stats.plugin_loaded(super::serving_status(
                                processor,
                                &stage.plugin,
                                generation,
                            ));
                        } else {
                            self.stats.plugin_recovered(&processor.name);
                        }
                    }
                    let names: Vec<String> = new_config
                        .config
                        .processors
                        .iter()
                        .map(|p| p.name.clone())
                        .collect();
                    self.stats.retain_plugins(&names);
                    self.swap(chain);
                }
                self.apply_topology(&new_config, &mut report);
                self.config = new_config;
            }
            Err(errors) => {
                for e in &errors {
                    tracing::warn!(error = %e, "New configuration refused; keeping the running one.");
                    report.refused.push(e.to_string());
                    self.stats.plugin_reload_failed(e.plugin(), e.to_string());
                }
                PipelineStats::add(&self.stats.pipeline.reloads_refused, 1);
            }
        }
        report.generation = self.generation.load(Ordering::SeqCst);
        report
    }

    /// Replaces receivers and exporters whose settings changed; reports what needs a restart.
    fn apply_topology(&self, new_config: &LoadedConfig, report: &mut ReloadReport) {
        let (old, new) = (&self.config.config, &new_config.config);
        let live = &self.live;
        let outcome: anyhow::Result<Vec<String>> = live.runtime.block_on(async {
            let mut topology = live.topology.lock().await;
            let mut changed = Vec::new();
            if old.exporters != new.exporters {
                changed.extend(topology.set_exporters(&new.exporters, &new_config.base_dir)?);
            }
            if old.receivers != new.receivers {
                let base_dir = &new_config.base_dir;
                let otlp = &new.receivers.otlp;
                changed.extend(topology.set_receivers(otlp, base_dir, None).await?);
                *crate::sync::lock(&live.addresses) = Addresses {
                    grpc: topology.grpc_addr(),
                    http: topology.http_addr(),
                };
            }
            Ok(changed)
        });
        match outcome {
            Ok(changed) => {
                if !changed.is_empty() {
                    tracing::info!(changed = ?changed, "Receivers and exporters updated.");
                }
                report.updated.extend(changed);
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "Receiver or exporter change refused; the running ones stay.");
                PipelineStats::add(&self.stats.pipeline.reloads_refused, 1);
                report.refused.push(format!("{e:#}"));
            }
        }
        for (section, differs) in [
            ("pipeline", old.pipeline != new.pipeline),
            ("admin", old.admin != new.admin),
        ] {
            if differs {
                tracing::warn!(
                    section,
                    "Configuration section changed; it takes effect after a restart."
                );
                report.needs_restart.push(section.to_owned());
            }
        }
    }

    fn swap(&mut self, chain: LoadedChain) {
        let spec = Arc::new(chain.spec.share());
        self.chain = chain;
        self.chain_tx.send_replace(spec);
        self.generation.fetch_add(1, Ordering::SeqCst);
        PipelineStats::add(&self.stats.pipeline.reloads_applied, 1);
    }
}
