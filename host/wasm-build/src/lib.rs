//! Compiles plugin crates of this workspace into WebAssembly components from a `build.rs`.
//!
//! Build scripts of `weft` (built-in plugins) and `weft-tests` (test fixtures) call
//! [`build_components`], so every `.wasm` the project uses is built from source by `cargo`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A component built from a workspace crate.
#[derive(Debug, Clone)]
pub struct BuiltComponent {
    /// The cargo package name.
    pub package: String,
    /// The built `.wasm` file.
    pub path: PathBuf,
}

/// Builds `packages` (cargo package names in this workspace) for `wasm32-wasip2` with the
/// `wasm` profile, in a target directory of their own so the outer build's lock is not needed,
/// and tells cargo to rerun the calling build script when their sources, the SDK or the WIT change.
///
/// # Panics
/// When cargo fails; the panic message holds its output.
pub fn build_components(workspace_root: &Path, packages: &[(&str, &Path)]) -> Vec<BuiltComponent> {
    for dir in [
        "wit",
        "sdk/src",
        "sdk/Cargo.toml",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(dir).display()
        );
    }
    for (_, dir) in packages {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root.join("target"))
        .join("wasm-build");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root)
        .args([
            "build",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "wasm",
            "--target-dir",
        ])
        .arg(&target_dir);
    for (package, _) in packages {
        command.args(["-p", package]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(var);
    }
    let output = command
        .output()
        .expect("running cargo to build wasm components");
    if !output.status.success() {
        panic!(
            "building wasm components {:?} failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`):\n{}",
            packages.iter().map(|p| p.0).collect::<Vec<_>>(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    packages
        .iter()
        .map(|(package, _)| BuiltComponent {
            package: package.to_string(),
            path: target_dir
                .join("wasm32-wasip2")
                .join("wasm")
                .join(format!("{}.wasm", package.replace('-', "_"))),
        })
        .collect()
}
