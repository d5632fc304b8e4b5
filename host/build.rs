//! Builds the reference plugins in `plugins/` as components and embeds them in the binary.

use std::path::Path;

/// Built-in plugins: (short name, cargo package, directory under the workspace root).
const BUILTINS: &[(&str, &str, &str)] = &[
    ("enrich", "weft-plugin-enrich", "plugins/enrich"),
    ("pii-redact", "weft-plugin-pii-redact", "plugins/pii-redact"),
    ("sample", "weft-plugin-sample", "plugins/sample"),
    (
        "tail-policy",
        "weft-plugin-tail-policy",
        "plugins/tail-policy",
    ),
];

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    let root = Path::new(&manifest_dir).parent().unwrap().to_path_buf();
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let packages: Vec<(&str, std::path::PathBuf)> = BUILTINS
        .iter()
        .map(|(_, p, d)| (*p, root.join(d)))
        .collect();
    let refs: Vec<(&str, &Path)> = packages.iter().map(|(p, d)| (*p, d.as_path())).collect();
    let built = weft_wasm_build::build_components(&root, &refs);
    for ((name, _, _), component) in BUILTINS.iter().zip(built) {
        std::fs::copy(&component.path, out_dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copying {}: {e}", component.path.display()));
    }
}
