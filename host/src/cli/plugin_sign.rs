//! `weft plugin sign`: a minisign signature beside a component, for `[pipeline.trust]`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

/// Signs `component` with the minisign secret key `key` and writes `COMPONENT.minisig`. The
/// key's password comes from `WEFT_SIGNING_PASSWORD` when it is set (for CI jobs, as cosign
/// reads `COSIGN_PASSWORD`), else it is asked for.
pub fn plugin_sign(component: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
    let name = component
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let signature = crate::trust::sign(
        &bytes,
        &name,
        key,
        std::env::var("WEFT_SIGNING_PASSWORD").ok(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
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
