//! `weft plugin sign`: a signature for `[pipeline.trust]`. A component file gets a minisign
//! signature beside it; a component by reference gets a cosign signature in its registry.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::oci::{Reference, run_blocking};
use crate::trust::cosign;

/// `weft plugin sign`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The component: a `.wasm` file, or `oci://HOST/REPO:TAG` (or `@sha256:DIGEST`).
    pub component: String,
    /// The secret key: a minisign secret key for a file (`minisign -G` makes a key pair;
    /// its password comes from `$WEFT_SIGNING_PASSWORD`, else it is asked for), a PKCS#8
    /// PEM ECDSA P-256 private key for a reference.
    #[arg(long, short)]
    pub key: PathBuf,
    /// For a reference: a Weft configuration whose `[pipeline.registries."HOST"]` gives the
    /// credentials and transport.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// For a reference: speak plain HTTP to the registry even if it is not on this machine.
    #[arg(long)]
    pub insecure: bool,
}

/// Signs a file or a reference.
pub fn plugin_sign(args: SignArgs) -> anyhow::Result<ExitCode> {
    if crate::oci::is_oci(&args.component) {
        sign_reference(&args)
    } else {
        sign_file(Path::new(&args.component), &args.key)
    }
}

/// Writes `COMPONENT.minisig`.
fn sign_file(component: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(component).with_context(|| format!("reading {}", component.display()))?;
    let name = component
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let password = std::env::var("WEFT_SIGNING_PASSWORD").ok();
    let signature =
        crate::trust::sign(&bytes, &name, key, password).map_err(|e| anyhow::anyhow!("{e}"))?;
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

/// Resolves the reference to its manifest digest, signs cosign's payload for it, and adds
/// the signature to the registry.
fn sign_reference(args: &SignArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.component)?;
    let key = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the key {}", args.key.display()))?;
    let settings =
        || super::plugin_push::settings_for(&reference, args.config.as_deref(), args.insecure);
    let pulled = run_blocking(crate::oci::pull::pull(&reference, settings()?, None))?
        .with_context(|| format!("resolving {reference}"))?;
    let docker_reference = format!("{}/{}", reference.registry, reference.repository);
    let payload = cosign::payload(&docker_reference, pulled.digest.as_str());
    let signature =
        cosign::sign(&key, &payload).map_err(|e| anyhow::anyhow!("{}: {e}", args.key.display()))?;
    let tag = run_blocking(crate::oci::signature::push_signature(
        &reference,
        &pulled.digest,
        settings()?,
        payload,
        signature,
    ))?
    .with_context(|| format!("storing the signature of {reference}"))?;
    println!(
        "signed {reference} ({}): cosign signature stored at {docker_reference}:{tag}",
        pulled.digest
    );
    Ok(ExitCode::SUCCESS)
}
