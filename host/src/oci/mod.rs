//! Delivery by reference: `plugin = "oci://HOST/REPO:TAG"` (or `@sha256:DIGEST`) pulls the
//! component from an OCI registry, in the Wasm OCI artifact layout, checks its digests and
//! keeps it in a cache on disk; `weft plugin push` publishes one. See `docs/plugins/oci.md`.
//!
//! Loading is synchronous (the loader runs on threads of its own); each pull runs on a
//! short-lived thread with a current-thread runtime, so it never blocks, nor needs, the
//! pipeline's runtime.

pub mod auth;
pub mod cache;
pub mod client;
mod error;
pub mod manifest;
pub mod pull;
pub mod push;
pub mod reference;
pub mod signature;
mod transport;

#[cfg(test)]
mod test_registry;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use client::RegistrySettings;
pub use error::OciError;
pub use pull::{Pulled, Source};
pub use reference::{Digest, Reference, is_oci};

use crate::config::{LoadedConfig, PipelineConfig, RegistryConfig};

/// The largest component pulled or pushed.
pub const MAX_COMPONENT_BYTES: usize = 256 << 20;

/// The manifest digest each reference last resolved to in this process, for `weft check`.
static RESOLVED: Mutex<Option<HashMap<String, Digest>>> = Mutex::new(None);

/// Where pulled artifacts are cached: `oci/` under `pipeline.cache_dir` when it is set, else
/// `$XDG_CACHE_HOME/weft/oci` or `~/.cache/weft/oci`. Independent of `component_cache`
/// (which is about compiled code): without this cache a pipeline cannot start offline.
pub fn cache_dir(pipeline: &PipelineConfig, base_dir: &Path) -> Option<PathBuf> {
    match &pipeline.cache_dir {
        Some(dir) if dir.is_absolute() => Some(dir.join("oci")),
        Some(dir) => Some(base_dir.join(dir).join("oci")),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
            .map(|cache| cache.join("weft").join("oci")),
    }
}

/// How to reach `registry`: its `[pipeline.registries]` table if any (credentials there
/// first), else the docker config file's credentials; plain HTTP when `insecure = true`, or
/// for a loopback host unless `insecure = false`.
pub fn registry_settings(
    registry: &str,
    config: Option<&RegistryConfig>,
    base_dir: &Path,
) -> Result<RegistrySettings, OciError> {
    let plain_http = config
        .and_then(|c| c.insecure)
        .unwrap_or_else(|| reference::is_loopback(registry));
    let configured = config.and_then(|c| {
        Some(auth::Credentials {
            username: c.username.clone()?,
            password: c.password.as_ref()?.expose().to_owned(),
        })
    });
    let (credentials, credentials_from) = match configured {
        Some(credentials) => (
            Some(credentials),
            Some(format!("[pipeline.registries.\"{registry}\"]")),
        ),
        None => match auth::docker_credentials(registry).map_err(OciError::Local)? {
            Some(credentials) => (
                Some(credentials),
                auth::docker_config_path().map(|p| p.display().to_string()),
            ),
            None => (None, None),
        },
    };
    Ok(RegistrySettings {
        plain_http,
        credentials,
        credentials_from,
        tls: config.and_then(|c| c.tls.clone()),
        base_dir: base_dir.to_path_buf(),
    })
}

/// Pulls the component `text` (an `oci://` reference) names, as `config` says, blocking the
/// calling thread until done.
pub fn fetch(config: &LoadedConfig, text: &str) -> Result<Pulled, OciError> {
    let reference = Reference::parse(text)?;
    let pipeline = &config.config.pipeline;
    let settings = registry_settings(
        &reference.registry,
        pipeline.registries.get(&reference.registry),
        &config.base_dir,
    )?;
    let cache = cache_dir(pipeline, &config.base_dir).map(cache::OciCache::new);
    let pulled = run_blocking(pull::pull(&reference, settings, cache.as_ref()))??;
    tracing::info!(reference = %reference, digest = %pulled.digest, source = ?pulled.source, bytes = pulled.bytes.len(), "Fetched plugin by reference.");
    if let Ok(mut resolved) = RESOLVED.lock() {
        resolved
            .get_or_insert_with(HashMap::new)
            .insert(text.to_owned(), pulled.digest.clone());
    }
    Ok(pulled)
}

/// The cosign signatures the registry of `text` (an `oci://` reference) holds for the
/// manifest `digest` it resolved to, blocking the calling thread until done.
pub fn fetch_signatures(
    config: &LoadedConfig,
    text: &str,
    digest: &Digest,
) -> Result<Vec<crate::trust::OciSignature>, OciError> {
    let reference = Reference::parse(text)?;
    let pipeline = &config.config.pipeline;
    let settings = registry_settings(
        &reference.registry,
        pipeline.registries.get(&reference.registry),
        &config.base_dir,
    )?;
    let cache = cache_dir(pipeline, &config.base_dir).map(cache::OciCache::new);
    run_blocking(signature::pull_signatures(
        &reference,
        digest,
        settings,
        cache.as_ref(),
    ))?
}

/// The manifest digest `text` last resolved to in this process.
pub fn resolved(text: &str) -> Option<Digest> {
    RESOLVED.lock().ok()?.as_ref()?.get(text).cloned()
}

/// Runs `future` to completion on a thread of its own with a current-thread runtime, and
/// waits for it. Called from a multi-thread runtime's worker, the wait is marked blocking
/// (`block_in_place`) so the runtime moves its other tasks elsewhere.
pub fn run_blocking<F>(future: F) -> Result<F::Output, OciError>
where
    F: Future + Send,
    F::Output: Send,
{
    let run = || {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("weft-oci".into())
                .spawn_scoped(scope, || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map(|runtime| runtime.block_on(future))
                        .map_err(|e| OciError::Local(format!("starting the fetch runtime: {e}")))
                })
                .map_err(|e| OciError::Local(format!("starting the fetch thread: {e}")))?
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    };
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    }
}
