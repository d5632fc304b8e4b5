//! Builds a C plugin into a Weft component:
//! `weft-c-component WORLD PLUGIN_DIR OUTPUT.wasm` (run from the repository root, or with
//! `WEFT_WIT` naming the WIT directory).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [world, plugin_dir, out] = args.as_slice() else {
        eprintln!(
            "usage: weft-c-component WORLD PLUGIN_DIR OUTPUT.wasm (WORLD: processor or trace-sampler)"
        );
        return ExitCode::from(2);
    };
    let wit = std::env::var_os("WEFT_WIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("wit"));
    let out = PathBuf::from(out);
    let work = std::env::temp_dir().join(format!("weft-c-component-{}", std::process::id()));
    let result =
        weft_wasm_build::c::build_c_component(&wit, world, &PathBuf::from(plugin_dir), &work, &out);
    let _ = std::fs::remove_dir_all(&work);
    match result {
        Ok(()) => {
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!("{} ({size} bytes)", out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
