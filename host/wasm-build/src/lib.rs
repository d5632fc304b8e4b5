//! Compiles plugin crates of this workspace into WebAssembly components from a `build.rs`.
//!
//! Build scripts of `weft` (built-in plugins) and `weft-tests` (test fixtures) call
//! [`build_components`], so every `.wasm` the project uses is built from source by `cargo`.
//! With the `c` feature, [`c`] builds C plugins the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

#[cfg(feature = "c")]
pub mod c;

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
    ensure_wasm_target();
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

/// Installs the `wasm32-wasip2` standard library with rustup when the toolchain lacks it, so
/// `cargo run` works on a fresh machine. Without rustup, the build fails later with a hint.
fn ensure_wasm_target() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc).args(["--print", "sysroot"]).output();
    let Ok(sysroot) = sysroot else { return };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        return;
    }
    println!(
        "cargo:warning=installing the wasm32-wasip2 target with rustup (needed to build plugins)"
    );
    let status = Command::new("rustup")
        .args(["target", "add", "wasm32-wasip2"])
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        println!(
            "cargo:warning=`rustup target add wasm32-wasip2` failed; install the target by hand"
        );
    }
}
