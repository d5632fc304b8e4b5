//! Builds the test fixture plugins from source and tells the tests where they are.

use std::path::{Path, PathBuf};

const FIXTURES: &[&str] = &["passthrough", "faulty", "contract-bench"];

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
}
