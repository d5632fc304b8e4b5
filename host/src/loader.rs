//! Turning `[[processors]]` entries into loaded plugins, at start-up and on reload.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{LoadedConfig, ProcessorConfig};
use crate::pipeline::{ChainSpec, StageSpec};
use crate::sandbox::{
    ComponentCache, Grants, Limits, LoadedPlugin, PluginEngine, PluginError, World,
};

/// Everything that decides whether a loaded stage can be reused: same name, same component
/// bytes, same config, same limits, same policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageFingerprint {
    /// The processor's name.
    pub name: String,
    /// SHA-256 of the component bytes.
    pub sha256: String,
    /// The processor's config, as JSON.
    pub config_json: String,
    /// The processor's limits.
    pub limits: Limits,
    /// The processor's `on_error`.
    pub on_error: crate::config::OnError,
    /// The processor's quarantine settings (failures in a row, first period in ms).
    pub quarantine: (u32, u64),
    /// The tail-sampling settings, for the tail-sampling stage.
    pub tail: Option<crate::config::TailSamplingConfig>,
    /// The capabilities granted.
    pub grants: crate::config::GrantsConfig,
}

/// A chain and the fingerprints of its stages, in order.
pub struct LoadedChain {
    /// The chain workers run.
    pub spec: ChainSpec,
    /// One per stage.
    pub fingerprints: Vec<StageFingerprint>,
}

/// The component bytes a processor names: a built-in, a file, or an `oci://` reference
/// (pulled from its registry or the cache; see [`crate::oci`]).
pub fn plugin_bytes(
    config: &LoadedConfig,
    processor: &ProcessorConfig,
) -> Result<Cow<'static, [u8]>, PluginError> {
    if crate::oci::is_oci(&processor.plugin) {
        let fetch_error = |error: crate::oci::OciError| PluginError::Fetch {
            plugin: processor.name.clone(),
            reason: format!("{}: {error}", processor.plugin),
        };
        let pulled = crate::oci::fetch(config, &processor.plugin).map_err(fetch_error)?;
        check_oci_signature(config, processor, &pulled.digest)?;
        return Ok(Cow::Owned(pulled.bytes));
    }
    match processor.plugin.strip_prefix("builtin:") {
        Some(name) => crate::builtin::plugin(name)
            .map(Cow::Borrowed)
            .ok_or_else(|| PluginError::Compile {
                plugin: processor.name.clone(),
                reason: format!("no built-in plugin {name:?}"),
            }),
        None => {
            let path =
                crate::config::plugin_path(&config.config, &config.base_dir, &processor.plugin);
            let bytes = std::fs::read(&path).map_err(|e| PluginError::Compile {
                plugin: processor.name.clone(),
                reason: format!("reading {}: {e}", path.display()),
            })?;
            check_file_signature(config, processor, &path, &bytes)?;
            Ok(Cow::Owned(bytes))
        }
    }
}

/// A refusal of `processor`'s plugin by `[pipeline.trust]`.
fn untrusted(processor: &ProcessorConfig, reason: String) -> PluginError {
    PluginError::Untrusted {
        plugin: processor.name.clone(),
        reason,
    }
}

/// The trusted keys, read now; `None` when any plugin loads.
fn trusted_keys(
    config: &LoadedConfig,
    processor: &ProcessorConfig,
) -> Result<Option<crate::trust::TrustedKeys>, PluginError> {
    crate::trust::TrustedKeys::from_config(config).map_err(|reason| untrusted(processor, reason))
}

/// With `[pipeline.trust]`, a component by reference must carry a cosign signature of its
/// manifest `digest`, from a trusted key, in its registry.
fn check_oci_signature(
    config: &LoadedConfig,
    processor: &ProcessorConfig,
    digest: &crate::oci::Digest,
) -> Result<(), PluginError> {
    let untrusted = |reason: String| untrusted(processor, reason);
    let Some(keys) = trusted_keys(config, processor)? else {
        return Ok(());
    };
    let signatures = crate::oci::fetch_signatures(config, &processor.plugin, digest)
        .map_err(|e| untrusted(format!("{}: reading its signatures: {e}", processor.plugin)))?;
    let signer = keys
        .verify_oci(&processor.plugin, digest.as_str(), &signatures)
        .map_err(untrusted)?;
    tracing::debug!(processor = %processor.name, key = %signer.id, "Plugin signature verified.");
    Ok(())
}

/// With `[pipeline.trust]`, the component file must carry a valid signature from a trusted
/// key (its `.minisig` beside it); without, anything loads.
fn check_file_signature(
    config: &LoadedConfig,
    processor: &ProcessorConfig,
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(), PluginError> {
    let Some(keys) = trusted_keys(config, processor)? else {
        return Ok(());
    };
    let signer = keys
        .verify_file(path, bytes)
        .map_err(|reason| untrusted(processor, reason))?;
    tracing::debug!(processor = %processor.name, key = %signer.id, "Plugin signature verified.");
    Ok(())
}

/// The config JSON and limits a processor entry gives its plugin.
pub fn plugin_settings(processor: &ProcessorConfig) -> (String, Limits) {
    let config_json = serde_json::to_string(&processor.config).expect("a TOML table is valid JSON");
    let limits = Limits {
        memory_bytes: (processor.memory_limit_mb as usize) << 20,
        timeout: Duration::from_millis(processor.timeout_ms),
        max_resources: processor.max_resources,
    };
    (config_json, limits)
}

/// The fingerprint a processor entry would have with these component bytes.
pub fn fingerprint(processor: &ProcessorConfig, bytes: &[u8]) -> StageFingerprint {
    let (config_json, limits) = plugin_settings(processor);
    StageFingerprint {
        name: processor.name.clone(),
        sha256: crate::sandbox::sha256_hex(bytes),
        config_json,
        limits,
        on_error: processor.on_error(),
        quarantine: (processor.quarantine_after, processor.quarantine_ms),
        tail: processor.tail_sampling.clone(),
        grants: processor.grants.clone(),
    }
}

/// The capabilities `processor` grants its plugin, with host paths resolved against the
/// config's directory and environment values read now.
pub fn plugin_grants(config: &LoadedConfig, processor: &ProcessorConfig) -> Grants {
    Grants {
        read_only_dirs: processor
            .grants
            .read_only_dirs
            .iter()
            .map(|(guest, host)| (config.base_dir.join(host), guest.clone()))
            .collect(),
        env: processor
            .grants
            .env
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| (name.clone(), value)))
            .collect(),
    }
}

/// Compiles (or takes from the cache), links, initialises and smoke-tests one processor.
pub fn load_plugin(
    engine: &PluginEngine,
    cache: &ComponentCache,
    config: &LoadedConfig,
    processor: &ProcessorConfig,
    bytes: &[u8],
) -> Result<LoadedPlugin, PluginError> {
    let started = Instant::now();
    let (config_json, limits) = plugin_settings(processor);
    if bytes.len() > 4 << 20 {
        tracing::info!(processor = %processor.name, bytes = bytes.len(), "Loading a large plugin; compiling it can take seconds.");
    }
    let world = match processor.tail_sampling {
        Some(_) => World::TraceSampler,
        None => World::Processor,
    };
    let plugin = LoadedPlugin::load_world(
        engine,
        cache,
        world,
        &processor.name,
        bytes,
        config_json,
        (limits, plugin_grants(config, processor)),
    )
    .map_err(|error| match error {
        // A plugin refusing its config may quote it: not a value a reference produced.
        PluginError::Init { plugin, reason } => PluginError::Init {
            plugin,
            reason: config.secrets.scrub(&reason),
        },
        other => other,
    })?;
    tracing::info!(
        processor = %processor.name,
        plugin = %processor.plugin,
        sha256 = &plugin.sha256()[..12],
        contract = plugin.contract_version(),
        bytes = bytes.len(),
        cache = ?plugin.cache_outcome(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        timeout_ms = processor.timeout_ms,
        memory_limit_mb = processor.memory_limit_mb,
        on_error = ?processor.on_error(),
        "Loaded processor."
    );
    Ok(plugin)
}

/// Loads every processor of `config`, reusing stages of `previous` whose fingerprint is
/// unchanged. Returns every error if any processor fails.
pub fn load_chain(
    engine: &PluginEngine,
    cache: &ComponentCache,
    config: &LoadedConfig,
    previous: Option<&LoadedChain>,
) -> Result<LoadedChain, Vec<PluginError>> {
    let mut stages = Vec::new();
    let mut fingerprints = Vec::new();
    let mut errors = Vec::new();
    for processor in &config.config.processors {
        let bytes = match plugin_bytes(config, processor) {
            Ok(bytes) => bytes,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let print = fingerprint(processor, &bytes);
        // An unchanged stage is reused whole: the same compiled plugin and the same breaker.
        if let Some(stage) = previous.and_then(|p| {
            p.fingerprints
                .iter()
                .position(|f| *f == print)
                .map(|i| p.spec.stages[i].clone())
        }) {
            stages.push(stage);
            fingerprints.push(print);
            continue;
        }
        let plugin = match load_plugin(engine, cache, config, processor, &bytes) {
            Ok(plugin) => Arc::new(plugin),
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        stages.push(StageSpec::new(plugin, processor));
        fingerprints.push(print);
    }
    if errors.is_empty() {
        Ok(LoadedChain {
            spec: ChainSpec { stages },
            fingerprints,
        })
    } else {
        Err(errors)
    }
}
