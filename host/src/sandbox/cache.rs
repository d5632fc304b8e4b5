//! An on-disk cache of precompiled components.
//!
//! Compiling a 12–18 MB Python or JavaScript component takes seconds; loading its precompiled
//! form takes milliseconds. Entries are keyed by the SHA-256 of the component bytes and by the
//! engine's compatibility hash (wasmtime version, target and every setting that affects
//! generated code), so a changed plugin, a new Weft release or a different engine setting
//! never loads a stale entry.
//!
//! An entry is native code the host will run, so it is checked before wasmtime reads it: each
//! file starts with an HMAC-SHA256 of the rest under a key kept in the cache directory
//! (`.key`, created 0600 with the directory 0700). A truncated, corrupted or substituted entry
//! (one written by anyone who cannot read the key) fails the check and is compiled again.
//! Entries are written through a temporary file of unpredictable name, created exclusively
//! (never through a symlink planted in its place), then renamed; a symlink is never read as
//! an entry.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use hmac::{Hmac, Mac};
use sha2::Sha256;
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

    /// A cache in `dir`, or none.
    pub fn at(dir: Option<PathBuf>) -> Self {
        match dir {
            Some(dir) => Self::in_dir(dir),
            None => Self::disabled(),
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
        let is_entry = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_file());
        if is_entry {
            match load_precompiled(engine, dir, &path) {
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

/// Bytes of the MAC before an entry's code.
const MAC_LEN: usize = 32;

fn store(dir: &Path, path: &Path, component: &Component) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let code = component.serialize().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mac = mac(&key(dir)?, &code);
    // Write then rename, so a concurrent reader never sees half a file; the temporary name
    // is unpredictable and created exclusively, so nothing planted there is written through.
    let partial = path.with_extension(format!("partial-{:016x}", unpredictable()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)?;
    let written = file
        .write_all(&mac)
        .and_then(|()| file.write_all(&code))
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    Ok(written?)
}

/// Loads an entry this cache wrote, once its MAC checks out.
#[allow(unsafe_code)]
fn load_precompiled(engine: &PluginEngine, dir: &Path, path: &Path) -> anyhow::Result<Component> {
    let bytes = std::fs::read(path)?;
    let (stored, code) = bytes
        .split_at_checked(MAC_LEN)
        .ok_or_else(|| anyhow::anyhow!("the entry is shorter than its MAC"))?;
    let mut check =
        Hmac::<Sha256>::new_from_slice(&key(dir)?).map_err(|e| anyhow::anyhow!("{e}"))?;
    check.update(code);
    check.verify_slice(stored).map_err(|_| {
        anyhow::anyhow!("the entry's MAC does not match: corrupted or not written by this cache")
    })?;
    // SAFETY: `deserialize` trusts the bytes to be native code wasmtime produced. These bytes
    // carry a MAC under the cache's key, which only `store` above computes, over the output of
    // `Component::serialize`; the name includes the engine's compatibility hash, and wasmtime
    // still checks the header's version and settings before using them.
    unsafe { Component::deserialize(engine.engine(), code) }.map_err(|e| anyhow::anyhow!("{e}"))
}

/// The cache's MAC key: `dir/.key`, made on first use (0600), never read through a symlink.
fn key(dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = dir.join(".key");
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_file() => std::fs::read(&path),
        Ok(_) => Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        ))),
        Err(_) => {
            let key: Vec<u8> = (0..4).flat_map(|_| unpredictable().to_le_bytes()).collect();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            file.write_all(&key)?;
            Ok(key)
        }
    }
}

fn mac(key: &[u8], code: &[u8]) -> [u8; MAC_LEN] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(code);
    mac.finalize().into_bytes().into()
}

/// 64 bits no other process can predict: the standard library's per-process random hash
/// keys, mixed with the time and the process id.
fn unpredictable() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    std::time::SystemTime::now().hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    hasher.finish()
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
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "cwasm") {
                // Flip one byte of the code: the MAC no longer matches.
                let mut bytes = std::fs::read(&path).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(&path, bytes).unwrap();
            }
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

    #[test]
    fn the_cache_is_private_and_a_symlinked_entry_is_not_read() {
        use std::os::unix::fs::PermissionsExt;
        let engine = PluginEngine::new().unwrap();
        let bytes = crate::builtin::plugin("enrich").unwrap();
        let sha = super::super::plugin::hex_sha256(bytes);
        let dir = scratch("private");
        let cache = ComponentCache::in_dir(&dir);
        cache.load(&engine, bytes, &sha).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(".key")), 0o600);
        let entry = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .unwrap();
        assert_eq!(mode(&entry), 0o600);
        // An entry swapped for a symlink (to a valid entry, even) is compiled anew, not read.
        let elsewhere = dir.with_extension("elsewhere");
        std::fs::copy(&entry, &elsewhere).unwrap();
        std::fs::remove_file(&entry).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
        assert_eq!(
            cache.load(&engine, bytes, &sha).unwrap().1,
            CacheOutcome::Compiled
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&elsewhere);
    }
}
