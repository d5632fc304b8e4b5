//! `[pipeline.trust]`: the public keys every plugin must be signed with.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::ConfigError;

/// `[pipeline.trust]`: with it, Weft loads a plugin only if it carries a valid signature
/// from one of `keys` (built-in plugins are part of the binary and need none). A component
/// file's signature is the minisign signature file beside it, `NAME.wasm.minisig`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// Minisign public key files (`minisign -G` writes `minisign.pub`), relative to the
    /// config file's directory.
    pub keys: Vec<PathBuf>,
}

impl TrustConfig {
    /// The key files, resolved against the config's directory.
    pub fn key_paths(&self, base_dir: &Path) -> Vec<PathBuf> {
        self.keys.iter().map(|key| base_dir.join(key)).collect()
    }

    /// Every key must be there and be a minisign public key: a typo must not leave the
    /// pipeline trusting fewer keys than the operator meant (or, with none, refusing every
    /// plugin without saying why).
    pub(super) fn check(&self, base_dir: &Path, errors: &mut Vec<ConfigError>) {
        if self.keys.is_empty() {
            errors.push(ConfigError::new(
                "pipeline.trust.keys",
                "name at least one public key file (or remove [pipeline.trust] to load \
                 unsigned plugins)",
            ));
        }
        for (index, path) in self.key_paths(base_dir).iter().enumerate() {
            if let Err(reason) = crate::trust::read_public_key(path) {
                errors.push(ConfigError::new(
                    format!("pipeline.trust.keys[{index}]"),
                    reason,
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_or_a_missing_key_file_is_an_error_at_its_place() {
        let dir = std::env::temp_dir();
        let mut errors = Vec::new();
        TrustConfig { keys: vec![] }.check(&dir, &mut errors);
        TrustConfig {
            keys: vec!["weft-no-such-key.pub".into()],
        }
        .check(&dir, &mut errors);
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].starts_with("pipeline.trust.keys: name at least one"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with("pipeline.trust.keys[0]: cannot read the public key"),
            "{shown:?}"
        );
    }
}
