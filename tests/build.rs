//! Builds the test fixture plugins from source and tells the tests where they are.

use std::path::{Path, PathBuf};

const FIXTURES: &[&str] = &[
    "passthrough",
    "faulty",
    "contract-bench",
    "stamp-v1",
    "stamp-v2",
    "wrong-world",
    "hostile",
    "hostile-policy",
    "contract-v0-2",
    "contract-future",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let packages: Vec<(String, PathBuf)> = FIXTURES
        .iter()
        .map(|f| {
            (
                format!("weft-fixture-{f}"),
                manifest_dir.join("fixtures").join(f),
            )
        })
        .collect();
    let refs: Vec<(&str, &Path)> = packages
        .iter()
        .map(|(p, d)| (p.as_str(), d.as_path()))
        .collect();
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("fixtures/stamp-v1/src").display()
    );
    for (fixture, built) in FIXTURES
        .iter()
        .zip(weft_wasm_build::build_components(&root, &refs))
    {
        println!(
            "cargo:rustc-env=WEFT_FIXTURE_{}={}",
            fixture.to_uppercase().replace('-', "_"),
            built.path.display()
        );
    }
    build_python_plugin(&root, "redact");
    build_python_plugin(&root, "checkout-policy");
    build_javascript_plugin(&root);
    build_c_plugin(&root);
    ensure_python_sdk();
    install_tools(&manifest_dir);
}

/// The programs the tests start as real parts (minisign, a registry), installed from
/// Debian's packages by `tests/install-tools.sh` when missing.
fn install_tools(manifest_dir: &Path) {
    let script = manifest_dir.join("install-tools.sh");
    println!("cargo:rerun-if-changed={}", script.display());
    match std::process::Command::new("bash").arg(&script).output() {
        Ok(output) if output.status.success() => {}
        Ok(output) => println!(
            "cargo:warning=installing the tests' tools failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => println!("cargo:warning=running {}: {error}", script.display()),
    }
}

/// The OpenTelemetry Python SDK the TLS tests export with (`tests/python/otlp_export.py`),
/// installed with pip when missing, as the Python example's componentize-py is.
fn ensure_python_sdk() {
    const PACKAGES: [&str; 3] = [
        "opentelemetry-sdk==1.39.0",
        "opentelemetry-exporter-otlp-proto-grpc==1.39.0",
        "opentelemetry-exporter-otlp-proto-http==1.39.0",
    ];
    let present = std::process::Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http",
        ])
        .output()
        .is_ok_and(|output| output.status.success());
    if present {
        return;
    }
    let installed = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PACKAGES)
        .output();
    match installed {
        Ok(output) if output.status.success() => {}
        Ok(output) => println!(
            "cargo:warning=installing the OpenTelemetry Python SDK failed (the TLS tests need \
             it): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => println!("cargo:warning=running python3 -m pip failed: {error}"),
    }
}

/// Builds the C example sampler (clang for wasm32-wasi, installed from Debian's packages by
/// `examples/plugins/c/install-toolchain.sh` when missing).
fn build_c_plugin(root: &Path) {
    let dir = root.join("examples/plugins/c/sample");
    println!("cargo:rerun-if-changed={}", dir.display());
    let install = root.join("examples/plugins/c/install-toolchain.sh");
    let installed = std::process::Command::new("bash").arg(&install).output();
    if let Ok(output) = &installed
        && !output.status.success()
    {
        println!(
            "cargo:warning=installing the C toolchain failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let out = out_dir.join("c-sample.wasm");
    weft_wasm_build::c::build_c_component(
        &root.join("wit"),
        "processor",
        &dir,
        &out_dir.join("c-sample"),
        &out,
    )
    .unwrap_or_else(|e| panic!("building the C example plugin (see docs/plugins/c.md): {e}"));
    println!("cargo:rustc-env=WEFT_FIXTURE_C_SAMPLE={}", out.display());
}

/// Builds the JavaScript example processor with componentize-js (running `npm ci` first when its
/// dependencies are not installed: exactly the committed lock file's versions).
fn build_javascript_plugin(root: &Path) {
    let dir = root.join("examples/plugins/javascript/enrich");
    for file in [
        "enrich.js",
        "build.mjs",
        "package.json",
        "package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("sdk/javascript/weft-packed.js").display()
    );
    let run = |program: &str, args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new(program)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("running {program} (Node.js and npm are needed to build the JavaScript example): {e}"));
        if !output.status.success() {
            panic!(
                "{program} {args:?} failed in examples/plugins/javascript/enrich:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    };
    if !dir
        .join("node_modules/@bytecodealliance/componentize-js")
        .is_dir()
    {
        run(
            "npm",
            &["ci".as_ref(), "--no-audit".as_ref(), "--no-fund".as_ref()],
        );
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("javascript-enrich.wasm");
    run("node", &["build.mjs".as_ref(), out.as_os_str()]);
    println!(
        "cargo:rustc-env=WEFT_FIXTURE_JAVASCRIPT_ENRICH={}",
        out.display()
    );
}

/// Builds a Python example plugin (`examples/plugins/python/NAME`, fixture `python-NAME`) with
/// componentize-py (installing it if missing).
fn build_python_plugin(root: &Path, name: &str) {
    let dir = root.join("examples/plugins/python").join(name);
    for file in ["app.py", "build.sh", "../componentize.sh"] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("sdk/python/weft_packed.py").display()
    );
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join(format!("python-{name}.wasm"));
    let output = std::process::Command::new("bash")
        .arg(dir.join("build.sh"))
        .arg(&out)
        .output()
        .unwrap_or_else(|e| panic!("running examples/plugins/python/{name}/build.sh: {e}"));
    if !output.status.success() {
        panic!(
            "building the Python example plugin {name} failed (needs python3 with pip; see docs/plugins/python.md):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!(
        "cargo:rustc-env=WEFT_FIXTURE_PYTHON_{}={}",
        name.to_uppercase().replace('-', "_"),
        out.display()
    );
}
