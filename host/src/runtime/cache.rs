//! An on-disk cache of precompiled components.
//!
//! Compiling a 12–18 MB Python or JavaScript component takes seconds; loading its precompiled
//! form takes milliseconds. Entries are keyed by the SHA-256 of the component bytes and by the
//! engine's compatibility hash (wasmtime version, target and every setting that affects
//! generated code), so a changed plugin, a new Weft release or a different engine setting
//! never loads a stale entry.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Instant;

use wasmtime::component::Component;

use super::engine::PluginEngine;

/// Where precompiled components are kept, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

/// How a component was obtained, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from the cache.
    Hit,
    /// Compiled, and written to the cache.
    Compiled,
    /// Compiled; no cache is configured (or writing it failed).
    Uncached,
}

impl ComponentCache {
    /// A cache in `dir` (created on first write).
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        ComponentCache {
            dir: Some(dir.into()),
        }
    }

    /// No cache: every load compiles.
    pub fn disabled() -> Self {
        ComponentCache { dir: None }
    }

    /// The cache directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The component for `bytes` (whose SHA-256 is `sha256`), from the cache or compiled.
    pub fn load(
        &self,
        engine: &PluginEngine,
        bytes: &[u8],
        sha256: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(dir) = &self.dir else {
            return Ok((
                Component::new(engine.engine(), bytes)?,
                CacheOutcome::Uncached,
            ));
        };
        let path = dir.join(format!("{sha256}-{:016x}.cwasm", compatibility(engine)));
        if path.is_file() {
            match load_precompiled(engine, &path) {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Ignoring an unreadable cache entry.")
                }
            }
        }
        let started = Instant::now();
        let component = Component::new(engine.engine(), bytes)?;
        let compiled_ms = started.elapsed().as_millis() as u64;
        match store(dir, &path, &component) {
            Ok(()) => {
                tracing::debug!(path = %path.display(), compiled_ms, "Cached a precompiled component.");
                Ok((component, CacheOutcome::Compiled))
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "Could not write the component cache.");
                Ok((component, CacheOutcome::Uncached))
            }
        }
    }
}

/// Hash of everything about the engine that precompiled code depends on.
fn compatibility(engine: &PluginEngine) -> u64 {
    let mut hasher = DefaultHasher::new();
    engine
        .engine()
        .precompile_compatibility_hash()
        .hash(&mut hasher);
    hasher.finish()
}

fn store(dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    // Write then rename, so a concurrent reader never sees half a file.
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}

/// Loads a file this cache wrote.
#[allow(unsafe_code)]
fn load_precompiled(engine: &PluginEngine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be native code wasmtime produced. The cache
    // directory belongs to Weft: entries are only ever written by `store` above, from
    // `Component::serialize`, under a name that includes the engine's compatibility hash, and
    // wasmtime still checks the header's version and settings before using it. Operators must
    // not point `cache_dir` at a directory others can write.
    unsafe { Component::deserialize_file(engine.engine(), path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("weft-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn second_load_is_a_hit_and_a_corrupt_entry_is_recompiled() {
        let engine = PluginEngine::new().unwrap();
        let bytes = crate::builtin::plugin("enrich").unwrap();
        let sha = super::super::plugin::hex_sha256(bytes);
        let cache = ComponentCache::in_dir(scratch("hit"));
        assert_eq!(
            cache.load(&engine, bytes, &sha).unwrap().1,
            CacheOutcome::Compiled
        );
        assert_eq!(
            cache.load(&engine, bytes, &sha).unwrap().1,
            CacheOutcome::Hit
        );
        for entry in std::fs::read_dir(cache.dir().unwrap()).unwrap() {
            std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
        }
        assert_eq!(
            cache.load(&engine, bytes, &sha).unwrap().1,
            CacheOutcome::Compiled
        );
        assert_eq!(
            cache.load(&engine, bytes, &sha).unwrap().1,
            CacheOutcome::Hit
        );
        let _ = std::fs::remove_dir_all(cache.dir().unwrap());
    }
}
