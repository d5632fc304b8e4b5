//! `[pipeline] chain = "directory"`: the processors are the components in `plugin_dir`, in
//! file-name order (`10-redact.wasm`, `20-enrich.wasm`), each named after its file and set up
//! by a sidecar `NAME.toml` beside it (the keys of a `[[processors]]` entry but `name` and
//! `plugin`), or with the defaults when there is none.

use std::path::Path;

use super::error::ConfigError;
use super::secrets::SecretValues;
use super::types::{ChainSource, Config};

/// Fills `config.processors` from the plugin directory when the chain comes from it.
pub(super) fn expand(
    config: &mut Config,
    base_dir: &Path,
    secrets: &mut SecretValues,
    errors: &mut Vec<ConfigError>,
) {
    if config.pipeline.chain != ChainSource::Directory {
        return;
    }
    if !config.processors.is_empty() {
        errors.push(ConfigError::new(
            "processors",
            "with pipeline.chain = \"directory\" the chain is the components in \
             pipeline.plugin_dir; remove the [[processors]] entries (or set their settings in \
             a NAME.toml beside each component)",
        ));
        return;
    }
    let Some(dir) = &config.pipeline.plugin_dir else {
        errors.push(ConfigError::new(
            "pipeline.plugin_dir",
            "pipeline.chain = \"directory\" needs the directory to take the chain from",
        ));
        return;
    };
    let dir = if dir.is_absolute() {
        dir.clone()
    } else {
        base_dir.join(dir)
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(ConfigError::new(
                "pipeline.plugin_dir",
                format!("cannot read {}: {e}", dir.display()),
            ));
            return;
        }
    };
    let mut components: Vec<String> = entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".wasm") && !name.starts_with('.'))
        .collect();
    components.sort();
    for file in components {
        let name = file.trim_end_matches(".wasm").to_owned();
        let sidecar = dir.join(format!("{name}.toml"));
        let origin = format!("{}", sidecar.display());
        let mut table = match std::fs::read_to_string(&sidecar) {
            Ok(text) => match text.parse::<toml::Table>() {
                Ok(table) => table,
                Err(e) => {
                    errors.push(ConfigError::new(origin, format!("invalid TOML: {e}")));
                    continue;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
            Err(e) => {
                errors.push(ConfigError::new(origin, format!("cannot read it: {e}")));
                continue;
            }
        };
        if let Some(key) = ["name", "plugin"].iter().find(|k| table.contains_key(**k)) {
            errors.push(ConfigError::new(
                format!("{origin}: {key}"),
                "is the component's file name; remove it",
            ));
            continue;
        }
        secrets.extend(super::secrets::expand(&mut table, &dir, errors));
        table.insert("name".into(), toml::Value::String(name));
        table.insert("plugin".into(), toml::Value::String(file));
        if let Some(processor) = super::validate::section(errors, &origin, table.into()) {
            config.processors.push(processor);
        }
    }
}
