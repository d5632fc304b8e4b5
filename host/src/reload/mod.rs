//! Live reload: plugin files and the config file change, the chain changes, no span is lost.
//!
//! Reload means build, check, swap: the new chain is compiled (or taken from the component
//! cache), initialised and run on a smoke batch off the hot path, then handed to the workers
//! in one step. A worker finishes the batch it holds with the old chain and takes the new one
//! before its next batch. Any failure keeps the old version serving and says why.
//!
//! The file watcher only gathers events and forwards them; the reload thread owns every
//! decision.

mod controller;
mod unwired;
mod watcher;

pub use controller::{LiveParts, ReloadHandle, ReloadReport, Reloader, Trigger};
pub use watcher::watch_files;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{LoadedConfig, OnError, ProcessorConfig};
use crate::loader::LoadedChain;
use crate::sandbox::{CacheOutcome, LoadedPlugin};
use crate::telemetry::{Metrics, PluginState, PluginStatus};

/// The status of a processor that now serves `plugin`.
pub fn serving_status(
    processor: &ProcessorConfig,
    plugin: &LoadedPlugin,
    generation: u64,
) -> PluginStatus {
    PluginStatus {
        processor: processor.name.clone(),
        plugin: processor.plugin.clone(),
        sha256: plugin.sha256().to_owned(),
        size: plugin.size(),
        contract: plugin.contract_version().to_owned(),
        loaded_at: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        generation,
        state: PluginState::Serving,
        last_error: None,
        memory_limit_mb: processor.memory_limit_mb,
        timeout_ms: processor.timeout_ms,
        on_error: match processor.on_error() {
            OnError::Pass => "pass",
            OnError::Drop => "drop",
        }
        .to_owned(),
        from_cache: plugin.cache_outcome() == CacheOutcome::Hit,
    }
}

/// Records every stage of `chain` as serving (at start-up).
pub fn record_chain(
    metrics: &Metrics,
    config: &LoadedConfig,
    chain: &LoadedChain,
    generation: u64,
) {
    for (processor, stage) in config.config.processors.iter().zip(&chain.spec.stages) {
        metrics.plugin_loaded(serving_status(processor, &stage.plugin, generation));
    }
}
