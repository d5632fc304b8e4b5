//! `weft plugin build`: checks the project's toolchain, runs its unit tests, builds its
//! component with the language's own tools, and reports the component's size and sha256.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::plugin_project::{Language, Manifest};
use super::toolchain;

/// Builds the project in `dir` into `NAME.wasm` there; unit tests first unless `skip_tests`.
pub fn plugin_build(dir: &Path, skip_tests: bool) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::read(dir)?;
    // Absolute: the tools run inside the project, the messages name what the user typed.
    let shown = manifest.component_path(dir);
    let dir = &std::path::absolute(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let out = manifest.component_path(dir);
    let work = dir.join("build");
    match manifest.language {
        Language::Rust => rust(dir, &manifest, skip_tests, &out)?,
        Language::Python => python(dir, &manifest, skip_tests, &work, &out)?,
        Language::Javascript => javascript(dir, skip_tests, &out)?,
        Language::C => c(dir, &manifest, skip_tests, &work, &out)?,
    }
    let bytes = std::fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
    println!(
        "built {} ({} bytes, {:.1} KiB) sha256:{}",
        shown.display(),
        bytes.len(),
        bytes.len() as f64 / 1024.0,
        crate::codec::hex(&Sha256::digest(&bytes))
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `command`, its output going to this process's; fails naming `what`.
fn run(what: &str, command: &mut Command) -> anyhow::Result<()> {
    eprintln!("--- {what}");
    let status = command
        .status()
        .with_context(|| format!("starting {what} ({:?})", command.get_program()))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn rust(dir: &Path, manifest: &Manifest, skip_tests: bool, out: &Path) -> anyhow::Result<()> {
    toolchain::check_rust(dir)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if !skip_tests {
        run(
            "unit tests (cargo test)",
            Command::new(&cargo)
                .args(["test", "--quiet"])
                .current_dir(dir),
        )?;
    }
    run(
        "component (cargo build --release --target wasm32-wasip2)",
        Command::new(&cargo)
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(dir),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.join("target"));
    let built = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", manifest.name.replace('-', "_")));
    std::fs::copy(&built, out)
        .with_context(|| format!("copying {} to {}", built.display(), out.display()))?;
    Ok(())
}

fn python(
    dir: &Path,
    manifest: &Manifest,
    skip_tests: bool,
    work: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    let componentize = toolchain::check_python()?;
    let world = manifest.world.name();
    let has_tests = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("test_"));
    if !skip_tests && has_tests {
        // The tests import the generated bindings (`wit_world`) as the component does.
        let bindings = work.join("bindings");
        let _ = std::fs::remove_dir_all(&bindings);
        run(
            "bindings for the unit tests (componentize-py bindings)",
            Command::new(&componentize)
                .args(["-d", "wit", "-w", world, "bindings"])
                .arg(&bindings)
                .current_dir(dir),
        )?;
        let path = std::env::join_paths([bindings.as_path(), dir])?;
        run(
            "unit tests (python3 -m unittest)",
            Command::new("python3")
                .args(["-m", "unittest", "discover", "-s", ".", "-p", "test_*.py"])
                .env("PYTHONPATH", path)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .current_dir(dir),
        )?;
    }
    run(
        "component (componentize-py componentize app)",
        Command::new(&componentize)
            .args([
                "-d",
                "wit",
                "-w",
                world,
                "componentize",
                "app",
                "-p",
                ".",
                "-o",
            ])
            .arg(out)
            .current_dir(dir),
    )
}

fn javascript(dir: &Path, skip_tests: bool, out: &Path) -> anyhow::Result<()> {
    toolchain::check_javascript(dir)?;
    if !skip_tests {
        let mut tests: Vec<OsString> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .filter(|n| n.to_string_lossy().ends_with(".test.mjs"))
            .collect();
        tests.sort();
        if !tests.is_empty() {
            run(
                "unit tests (node --test)",
                Command::new("node")
                    .arg("--test")
                    .args(&tests)
                    .current_dir(dir),
            )?;
        }
    }
    run(
        "component (node build.mjs: componentize-js)",
        Command::new("node")
            .arg("build.mjs")
            .arg(out)
            .current_dir(dir),
    )
}

fn c(
    dir: &Path,
    manifest: &Manifest,
    skip_tests: bool,
    work: &Path,
    out: &Path,
) -> anyhow::Result<()> {
    toolchain::check_c(work)?;
    let sources = dir.join("src");
    if !skip_tests {
        // Each `test_*.c` at the root links the plugin's logic: every `src/*.c` except the
        // WebAssembly glue, `plugin.c`.
        let logic: Vec<PathBuf> = c_files(&sources)?
            .into_iter()
            .filter(|p| !p.ends_with("plugin.c"))
            .collect();
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        for test in c_files(dir)?.into_iter().filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("test_"))
        }) {
            let binary = work.join(test.file_stem().unwrap_or_default());
            run(
                &format!("unit tests: compile {}", test.display()),
                Command::new(&cc)
                    .args(["-O1", "-Wall", "-Wextra", "-Werror", "-I"])
                    .arg(&sources)
                    .arg(&test)
                    .args(&logic)
                    .arg("-o")
                    .arg(&binary)
                    .arg("-lm"),
            )?;
            run(
                &format!("unit tests: run {}", test.display()),
                &mut Command::new(&binary),
            )?;
        }
    }
    eprintln!("--- component (wit-bindgen c, clang --target=wasm32-wasi, wasi preview1 adapter)");
    weft_wasm_build::c::build_c_component(
        &dir.join("wit"),
        manifest.world.name(),
        &sources,
        &work.join("component"),
        out,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))
}

fn c_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .collect();
    files.sort();
    Ok(files)
}
