//! C plugins: bindings from the WIT with `wit-bindgen-c`, clang for `wasm32-wasi` against
//! wasi-libc, and a component made with the WASI preview1 reactor adapter.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the C plugin whose sources are the `*.c` files of `plugin_dir` (except `test_*.c`,
/// its native unit tests) against the WIT world `world` of `wit_dir`, into the component
/// `out`. Intermediate files go to `work_dir`.
///
/// The compiler is `$CLANG` or `clang` on the PATH; `$WASI_SYSROOT` (for example a wasi-sdk's
/// `share/wasi-sysroot`) is passed as `--sysroot` when set, else clang's own default (Debian's
/// `wasi-libc` package) is used.
pub fn build_c_component(
    wit_dir: &Path,
    world: &str,
    plugin_dir: &Path,
    work_dir: &Path,
    out: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(work_dir)
        .map_err(|e| format!("creating {}: {e}", work_dir.display()))?;
    let generated = c_bindings(wit_dir, world, work_dir)?;
    let mut sources: Vec<PathBuf> = std::fs::read_dir(plugin_dir)
        .map_err(|e| format!("reading {}: {e}", plugin_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "c")
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with("test_"))
        })
        .collect();
    sources.sort();
    if sources.is_empty() {
        return Err(format!("no .c file in {}", plugin_dir.display()));
    }
    let core = work_dir.join("core.wasm");
    let clang = std::env::var_os("CLANG").unwrap_or_else(|| "clang".into());
    let mut command = Command::new(&clang);
    command.args([
        "--target=wasm32-wasi",
        "-mexec-model=reactor",
        "-Os",
        "-Wall",
        "-Werror",
        "-Wl,--strip-all",
    ]);
    if let Some(sysroot) = std::env::var_os("WASI_SYSROOT") {
        command.arg("--sysroot").arg(sysroot);
    }
    command
        .arg("-I")
        .arg(work_dir)
        .arg("-I")
        .arg(plugin_dir)
        .args(&sources)
        .args(&generated)
        .arg("-o")
        .arg(&core);
    let output = command.output().map_err(|e| {
        format!(
            "running {} (install clang, lld and wasi-libc: see docs/plugins/c.md): {e}",
            clang.to_string_lossy()
        )
    })?;
    if !output.status.success() {
        return Err(format!(
            "clang failed on {}:\n{}",
            plugin_dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let module = std::fs::read(&core).map_err(|e| format!("reading {}: {e}", core.display()))?;
    let component = componentize(&module)?;
    std::fs::write(out, component).map_err(|e| format!("writing {}: {e}", out.display()))
}

/// Writes the C bindings of `world` (`WORLD.h`, `WORLD.c` and `WORLD_component_type.o`, with
/// `-` in the world name as `_`) into `dir`; returns the files to compile and link.
pub fn c_bindings(wit_dir: &Path, world: &str, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(wit_dir)
        .map_err(|e| format!("reading the WIT in {}: {e:#}", wit_dir.display()))?;
    let world_id = resolve
        .select_world(&[package], Some(world))
        .map_err(|e| format!("selecting world {world:?}: {e:#}"))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world_id, &mut files)
        .map_err(|e| format!("generating C bindings for {world:?}: {e:#}"))?;
    let mut to_build = Vec::new();
    for (name, bytes) in files.iter() {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        if !name.ends_with(".h") {
            to_build.push(path);
        }
    }
    Ok(to_build)
}

/// Makes a component of a core module that imports WASI preview1 (what clang and wasi-libc
/// produce) with wasmtime's preview1 reactor adapter; the component type comes from the
/// bindings' custom section.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(module)
        .and_then(|encoder| {
            encoder.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .map(|encoder| encoder.validate(true))
        .and_then(|encoder| encoder.encode())
        .map_err(|e| format!("making a component of the core module: {e:#}"))
}
