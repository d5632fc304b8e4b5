//! Builds the reference plugins in `plugins/` as components and embeds them in the binary,
//! and lists the files `weft plugin new` writes (templates, SDK helpers, the WIT) for
//! `include_str!`.

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
    embed_project_files(&root, &out_dir);
}

/// Where the files of a new plugin project come from: (directory under the workspace root,
/// name under which the binary knows them). The SDK helpers' own unit tests (`test_*`,
/// `*.test.*`) and caches are left out; the templates' unit tests are part of a project.
const PROJECT_SOURCES: &[(&str, &str)] = &[
    ("host/templates", "templates"),
    ("sdk/src", "sdk/rust/src"),
    ("sdk/python", "sdk/python"),
    ("sdk/javascript", "sdk/javascript"),
];

/// Writes `project_files.rs`: a table of (name, contents) of every file `weft plugin new` can
/// write, each embedded with `include_str!`, plus the current WIT as `wit/weft.wit`.
fn embed_project_files(root: &Path, out_dir: &Path) {
    let mut entries = vec![("wit/weft.wit".to_owned(), root.join("wit/weft.wit"))];
    for (dir, name) in PROJECT_SOURCES {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
        collect(&root.join(dir), name, &mut entries);
    }
    entries.sort();
    let mut table = String::from("&[\n");
    for (name, path) in entries {
        table.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    table.push_str("]\n");
    std::fs::write(out_dir.join("project_files.rs"), table).expect("writing project_files.rs");
}

fn collect(dir: &Path, name: &str, entries: &mut Vec<(String, std::path::PathBuf)>) {
    let read = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in read {
        let path = entry.expect("reading a directory entry").path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file == "__pycache__" || file == "node_modules" || file.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, &format!("{name}/{file}"), entries);
        } else if name.starts_with("templates")
            || !(file.starts_with("test_") || file.contains(".test."))
        {
            entries.push((format!("{name}/{file}"), path));
        }
    }
}
