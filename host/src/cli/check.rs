//! `weft check`: validate a configuration and load every plugin, without serving.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::loader::{load_plugin, plugin_bytes};
use crate::sandbox::PluginEngine;

/// Prints what is wrong, or a summary of what would run. Exit code 1 on any problem.
pub fn check(config: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = super::load_config(config.as_deref())?;
    let engine =
        PluginEngine::new().map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
    let mut failures = 0;
    match crate::trust::TrustedKeys::from_config(&config) {
        Ok(Some(keys)) => println!("trust   plugins must be signed by {}", keys.describe()),
        Ok(None) => {}
        Err(reason) => {
            failures += 1;
            println!("FAILED  [pipeline.trust]: {reason}");
        }
    }
    for processor in &config.config.processors {
        let cache = crate::sandbox::ComponentCache::at(
            config.config.pipeline.component_cache_dir(&config.base_dir),
        );
        let loaded = plugin_bytes(&config, processor)
            .and_then(|bytes| load_plugin(&engine, &cache, &config, processor, &bytes));
        match loaded {
            Ok(plugin) => println!(
                "ok      processor {:?} ({}{}, sha256 {}, contract {})",
                processor.name,
                processor.plugin,
                // What a tag resolved to: the digest to pin it by.
                crate::oci::resolved(&processor.plugin)
                    .filter(|_| !processor.plugin.contains('@'))
                    .map(|digest| format!(" = {digest}"))
                    .unwrap_or_default(),
                &plugin.sha256()[..12],
                plugin.contract_version()
            ),
            Err(error) => {
                failures += 1;
                println!("FAILED  {error}");
            }
        }
    }
    for name in config.config.exporters.keys() {
        println!("ok      exporter {name:?}");
    }
    if failures > 0 {
        println!("{}: {failures} processor(s) failed to load", config.origin);
        Ok(ExitCode::FAILURE)
    } else {
        println!("{}: configuration is valid", config.origin);
        Ok(ExitCode::SUCCESS)
    }
}
