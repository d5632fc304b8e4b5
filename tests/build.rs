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
    build_python_plugin(&root);
}

/// Builds the Python example processor with componentize-py (installing it if missing).
fn build_python_plugin(root: &Path) {
    let dir = root.join("examples/plugins/python/redact");
    for file in ["app.py", "build.sh"] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("python-redact.wasm");
    let output = std::process::Command::new("bash")
        .arg(dir.join("build.sh"))
        .arg(&out)
        .output()
        .expect("running examples/plugins/python/redact/build.sh");
    if !output.status.success() {
        panic!(
            "building the Python example plugin failed (needs python3 with pip; see docs/plugins/python.md):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    println!(
        "cargo:rustc-env=WEFT_FIXTURE_PYTHON_REDACT={}",
        out.display()
    );
}
