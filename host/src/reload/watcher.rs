//! Watching plugin files and the config file.

use std::path::{Path, PathBuf};

use notify::{EventKind, RecursiveMode, Watcher};

use super::controller::{ReloadHandle, Trigger};

/// Watches the directories holding `files` (plugins and the config file) and forwards events
/// on those files, and on any `.wasm` or `.toml` file in `plugin_dirs`, to the reload thread. Watching
/// directories, not files, catches editors and deploy tools that write a new file and rename
/// it into place. Drop the returned watcher to stop.
pub fn watch_files(
    files: &[PathBuf],
    plugin_dirs: &[PathBuf],
    reload: ReloadHandle,
) -> notify::Result<notify::RecommendedWatcher> {
    let files: Vec<PathBuf> = files.iter().map(|f| absolute(f)).collect();
    let dirs: Vec<PathBuf> = plugin_dirs.iter().map(|d| absolute(d)).collect();
    let wanted_files = files.clone();
    let wanted_dirs = dirs.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, EventKind::Access(_)) {
            return;
        }
        let paths: Vec<PathBuf> = event
            .paths
            .into_iter()
            .filter(|p| {
                wanted_files.contains(p)
                    // Components, and the sidecar settings of a drop-in directory's ones.
                    || (p.extension().is_some_and(|e| e == "wasm" || e == "toml" || e == "minisig")
                        && p.parent()
                            .is_some_and(|d| wanted_dirs.iter().any(|w| w == d)))
            })
            .collect();
        if !paths.is_empty() {
            reload.trigger(Trigger::Files(paths));
        }
    })?;
    let mut watched = Vec::new();
    for dir in files
        .iter()
        .filter_map(|f| f.parent().map(Path::to_path_buf))
        .chain(dirs)
    {
        if !watched.contains(&dir) && dir.is_dir() {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
            watched.push(dir);
        }
    }
    tracing::debug!(dirs = ?watched, "Watching for plugin and config changes.");
    Ok(watcher)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
