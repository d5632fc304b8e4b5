//! Plugin files that changed but that no processor names: compiled anyway, so a typo shows
//! up in the log now and the component cache is warm when the config starts using them.

use std::path::PathBuf;

use crate::config::LoadedConfig;
use crate::sandbox::{ComponentCache, PluginEngine};

/// Compiles the `.wasm` files among `changed` that no processor of `config` names, logging
/// whether each compiles.
pub(super) fn report_unwired(
    config: &LoadedConfig,
    engine: &PluginEngine,
    cache: &ComponentCache,
    changed: &[PathBuf],
) {
    let wired: Vec<PathBuf> = config
        .config
        .processors
        .iter()
        .filter(|p| !p.plugin.starts_with("builtin:") && !crate::oci::is_oci(&p.plugin))
        .map(|p| crate::config::plugin_path(&config.config, &config.base_dir, &p.plugin))
        .collect();
    let mut seen = Vec::new();
    for path in changed {
        if path.extension().is_none_or(|e| e != "wasm")
            || wired.contains(path)
            || seen.contains(path)
            || !path.is_file()
        {
            continue;
        }
        seen.push(path.clone());
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let sha = crate::sandbox::sha256_hex(&bytes);
        match cache.load(engine, &bytes, &sha) {
            Ok(_) => {
                tracing::info!(file = %path.display(), "Compiled a new plugin file; no processor uses it yet.")
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %format!("{e:#}"), "A new plugin file does not compile.")
            }
        }
    }
}
