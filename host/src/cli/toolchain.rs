//! What `weft plugin build` needs of each language's toolchain, checked before it builds, so
//! a missing piece is named with the command that installs it instead of surfacing as a
//! compiler's error halfway through.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The componentize-py release this Weft's Python SDK helper is tested with.
pub const COMPONENTIZE_PY: &str = "0.25.1";

/// Runs `program --version` (or `args`); its first output line, or `None` when it cannot run.
fn version_of(program: &OsString, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    Some(text.lines().next().unwrap_or("").trim().to_owned())
}

/// `cargo` and the `wasm32-wasip2` target of the `rustc` it uses.
pub fn check_rust(dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    if version_of(&cargo, &["--version"]).is_none() {
        bail!(
            "cargo is not installed (or not on PATH). Install Rust with rustup \
             (https://rustup.rs), then: rustup target add wasm32-wasip2"
        );
    }
    // The target's standard library lives in the sysroot of the rustc used in `dir` (a
    // rust-toolchain.toml there picks another toolchain).
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .context("running rustc --print sysroot")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !sysroot.join("lib/rustlib/wasm32-wasip2").is_dir() {
        bail!(
            "the Rust target wasm32-wasip2 is not installed for the toolchain at {}. \
             Install it with: rustup target add wasm32-wasip2",
            sysroot.display()
        );
    }
    Ok(())
}

/// componentize-py: on PATH, or in the scripts folder of `python3`. Returns the program.
pub fn check_python() -> anyhow::Result<OsString> {
    let python: OsString = "python3".into();
    if version_of(&python, &["--version"]).is_none() {
        bail!(
            "python3 is not installed (or not on PATH). Install Python 3.10 or newer, then: \
             python3 -m pip install componentize-py=={COMPONENTIZE_PY}"
        );
    }
    let scripts = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let candidates = scripts
        .map(|dir| dir.join("componentize-py").into_os_string())
        .into_iter()
        .chain(["componentize-py".into()]);
    for program in candidates {
        if let Some(version) = version_of(&program, &["--version"]) {
            if !version.contains(COMPONENTIZE_PY) {
                eprintln!(
                    "note: {version} found; this Weft is tested with componentize-py \
                     {COMPONENTIZE_PY} (python3 -m pip install componentize-py=={COMPONENTIZE_PY})"
                );
            }
            return Ok(program);
        }
    }
    bail!(
        "componentize-py is not installed. Install it with: \
         python3 -m pip install componentize-py=={COMPONENTIZE_PY}"
    )
}

/// Node.js 18 or newer, and componentize-js in the project's `node_modules` (installed with
/// npm from the project's package.json when it is missing).
pub fn check_javascript(dir: &Path) -> anyhow::Result<()> {
    let node: OsString = "node".into();
    let Some(version) = version_of(&node, &["--version"]) else {
        bail!(
            "node is not installed (or not on PATH). Install Node.js 18 or newer \
             (https://nodejs.org, or on Debian/Ubuntu: apt-get install nodejs npm)"
        );
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if major < 18 {
        bail!("node {version} is too old: componentize-js needs Node.js 18 or newer");
    }
    if dir
        .join("node_modules/@bytecodealliance/componentize-js")
        .is_dir()
    {
        return Ok(());
    }
    let npm: OsString = "npm".into();
    if version_of(&npm, &["--version"]).is_none() {
        bail!(
            "the project's dependencies are not installed and npm is not on PATH. Install npm \
             (it comes with Node.js), then run: npm install (in {})",
            dir.display()
        );
    }
    eprintln!("--- dependencies (npm install: componentize-js, once)");
    let status = Command::new(&npm)
        .args(["install", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .context("running npm install")?;
    if !status.success() {
        bail!(
            "npm install failed in {} ({status}); componentize-js comes from the npm registry",
            dir.display()
        );
    }
    Ok(())
}

/// A C compiler for the tests (`cc`) and clang able to build for `wasm32-wasi` against
/// wasi-libc, tried on a probe program in `work_dir`.
pub fn check_c(work_dir: &Path) -> anyhow::Result<()> {
    const INSTALL: &str = "Install clang, lld, wasi-libc and clang's wasm32 runtime \
         (Debian 12: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32, where 14 is \
         clang's major version), or a wasi-sdk with CLANG and WASI_SYSROOT pointing into it";
    let cc: OsString = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    if version_of(&cc, &["--version"]).is_none() {
        bail!(
            "no C compiler for the native unit tests ({} is not on PATH). Install one \
             (Debian/Ubuntu: apt-get install gcc), or set CC",
            cc.to_string_lossy()
        );
    }
    let clang = std::env::var_os("CLANG").unwrap_or_else(|| "clang".into());
    if version_of(&clang, &["--version"]).is_none() {
        bail!("clang is not installed (or not on PATH). {INSTALL}");
    }
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let probe = work_dir.join("probe.c");
    std::fs::write(
        &probe,
        "#include <stdlib.h>\n#include <string.h>\nint probe(void) { return (int)strlen(getenv(\"X\")); }\n",
    )?;
    let mut command = Command::new(&clang);
    command.args(["--target=wasm32-wasi", "-mexec-model=reactor", "-Os"]);
    if let Some(sysroot) = std::env::var_os("WASI_SYSROOT") {
        command.arg("--sysroot").arg(sysroot);
    }
    let output = command
        .arg(&probe)
        .arg("-o")
        .arg(work_dir.join("probe.wasm"))
        .output()
        .context("running clang")?;
    if !output.status.success() {
        bail!(
            "clang cannot build for wasm32-wasi here. {INSTALL}. clang said:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
