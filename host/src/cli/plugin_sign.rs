//! `weft plugin sign`: a minisign signature beside a component, for `[pipeline.trust]`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Signs `component` with the minisign secret key `key` (its password is asked for when it
/// has one) and writes `COMPONENT.minisig`.
pub fn plugin_sign(component: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
    let name = component
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let signature =
        crate::trust::sign(&bytes, &name, key, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let path = crate::trust::signature_path(component);
    std::fs::write(&path, signature).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "signed {} ({} bytes, sha256:{}): {}",
        component.display(),
        bytes.len(),
        crate::sandbox::sha256_hex(&bytes),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}
