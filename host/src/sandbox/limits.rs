//! What a plugin may use: its resource limits, and the capabilities an operator grants it.

use std::time::Duration;

/// Resource limits applied to every instance of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory cap per instance, in bytes: every linear memory and table, together.
    pub memory_bytes: usize,
    /// Deadline for one `init`, `process` or `decide` call, computing or waiting.
    pub timeout: Duration,
    /// Host resources (WASI streams, pollables, ...) an instance may hold at once.
    pub max_resources: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            timeout: Duration::from_secs(1),
            max_resources: 1_000,
        }
    }
}

/// Capabilities granted to a plugin beyond the empty sandbox (see `[processors.grants]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Directories the plugin may read: (host directory, absolute path the plugin sees).
    pub read_only_dirs: Vec<(std::path::PathBuf, String)>,
    /// Environment variables the plugin sees: (name, value).
    pub env: Vec<(String, String)>,
}
