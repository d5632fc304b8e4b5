//! The plugin status table behind `/api/plugins` and `/readyz`.

use serde::Serialize;

/// Whether a processor serves the version its configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginState {
    /// The configured version is loaded and serving.
    Serving,
    /// The latest reload of this processor failed; the previous version keeps serving.
    ReloadFailed,
}

/// One processor's plugin, as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginStatus {
    /// The processor's name.
    pub processor: String,
    /// `builtin:NAME` or the plugin file path.
    pub plugin: String,
    /// SHA-256 of the serving component.
    pub sha256: String,
    /// Size of the serving component, in bytes.
    pub size: usize,
    /// The `weft:plugin` contract version it was built against (`0.3.0`, `0.2.0`).
    pub contract: String,
    /// When the serving version was loaded, in seconds since the Unix epoch.
    pub loaded_at: u64,
    /// The chain generation it was loaded in (0 = start-up).
    pub generation: u64,
    /// Serving, or serving an older version after a failed reload.
    pub state: PluginState,
    /// Why the latest reload failed, if it did.
    pub last_error: Option<String>,
    /// Memory cap per instance, in MiB.
    pub memory_limit_mb: u64,
    /// Deadline per batch, in milliseconds.
    pub timeout_ms: u64,
    /// `pass` or `drop`.
    pub on_error: String,
    /// Whether the compiled code came from the component cache.
    pub from_cache: bool,
}

impl super::Metrics {
    /// Records that `status.processor` now serves what `status` describes.
    pub fn plugin_loaded(&self, status: PluginStatus) {
        self.plugins().insert(status.processor.clone(), status);
    }

    /// Records that reloading `processor` failed; its previous version keeps serving.
    pub fn plugin_reload_failed(&self, processor: &str, error: String) {
        if let Some(status) = self.plugins().get_mut(processor) {
            status.state = PluginState::ReloadFailed;
            status.last_error = Some(error);
        }
    }

    /// Records that `processor` serves what its configuration asks for again.
    pub fn plugin_recovered(&self, processor: &str) {
        if let Some(status) = self.plugins().get_mut(processor) {
            status.state = PluginState::Serving;
            status.last_error = None;
        }
    }

    /// Whether every processor serves the version its configuration asks for; otherwise the
    /// names of those that do not.
    pub fn plugins_failing(&self) -> Vec<String> {
        self.plugins()
            .values()
            .filter(|s| s.state != PluginState::Serving)
            .map(|s| s.processor.clone())
            .collect()
    }

    /// Forgets processors that are no longer in the chain.
    pub fn retain_plugins(&self, processors: &[String]) {
        self.plugins().retain(|name, _| processors.contains(name));
    }

    /// Every processor's status, by name.
    pub fn plugin_statuses(&self) -> Vec<PluginStatus> {
        self.plugins().values().cloned().collect()
    }
}
