//! `weft plugin push FILE.wasm oci://HOST/REPO:TAG`: publishes a component as a Wasm OCI
//! artifact and prints the manifest digest to pin it by.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::oci::{Reference, push::check_component, registry_settings, run_blocking};

/// `weft plugin push`'s arguments.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The component to publish.
    pub component: PathBuf,
    /// Where: `oci://HOST[:PORT]/REPOSITORY:TAG`.
    pub reference: String,
    /// A Weft configuration whose `[pipeline.registries."HOST"]` gives the credentials and
    /// transport (else the docker config file's credentials, HTTPS but for localhost).
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Speak plain HTTP to the registry even if it is not on this machine.
    #[arg(long)]
    pub insecure: bool,
}

/// How to reach `reference`'s registry: the `[pipeline.registries."HOST"]` table of the
/// configuration at `config` if given, else the docker config file's credentials; plain
/// HTTP with `insecure`.
pub(super) fn settings_for(
    reference: &Reference,
    config: Option<&std::path::Path>,
    insecure: bool,
) -> anyhow::Result<crate::oci::RegistrySettings> {
    let (registry, base_dir) = match config {
        Some(path) => {
            let config = super::load_config(Some(path))?;
            let registry = config
                .config
                .pipeline
                .registries
                .get(&reference.registry)
                .cloned();
            (registry, config.base_dir)
        }
        None => (None, PathBuf::from(".")),
    };
    let mut settings = registry_settings(&reference.registry, registry.as_ref(), &base_dir)?;
    settings.plain_http |= insecure;
    Ok(settings)
}

/// Pushes, then prints the reference, the manifest digest and the pinned reference.
pub fn plugin_push(args: PushArgs) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let bytes = std::fs::read(&args.component)
        .with_context(|| format!("reading {}", args.component.display()))?;
    check_component(&bytes).with_context(|| args.component.display().to_string())?;
    let settings = settings_for(&reference, args.config.as_deref(), args.insecure)?;
    let digest = run_blocking(crate::oci::push::push(&reference, settings, &bytes))?
        .with_context(|| format!("pushing {} to {reference}", args.component.display()))?;
    let pinned = Reference {
        tag: None,
        digest: Some(digest.clone()),
        ..reference.clone()
    };
    println!("Pushed {reference} ({} bytes)", bytes.len());
    println!("Digest: {digest}");
    println!("Pin it: plugin = \"{pinned}\"");
    Ok(ExitCode::SUCCESS)
}
