//! A plugin project: the folder `weft plugin new` writes and `weft plugin build` builds,
//! described by its `weft-plugin.toml`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// The manifest's file name, at the project's root.
pub const MANIFEST: &str = "weft-plugin.toml";

/// The languages a project can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Rust, with the Weft SDK crate (vendored into the project) and `cargo`.
    Rust,
    /// Python, with componentize-py.
    Python,
    /// JavaScript, with componentize-js (through npm).
    Javascript,
    /// C, with clang and wasi-libc.
    C,
}

impl Language {
    /// The name used in folders and messages.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::Javascript => "javascript",
            Language::C => "c",
        }
    }
}

/// The WIT world a project's component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProjectWorld {
    /// A span processor: edits for each batch (`[[processors]]`).
    Processor,
    /// A tail-sampling policy: keep or drop whole traces (`[[tail_sampling.policies]]`).
    TraceSampler,
}

impl ProjectWorld {
    /// The world's name in the WIT.
    pub fn name(self) -> &'static str {
        match self {
            ProjectWorld::Processor => "processor",
            ProjectWorld::TraceSampler => "trace-sampler",
        }
    }
}

/// `weft-plugin.toml`: what the project is, and so how it is built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: the component is written to `NAME.wasm` at the project's root.
    pub name: String,
    /// The language of its sources.
    pub language: Language,
    /// The world it exports.
    pub world: ProjectWorld,
}

impl Manifest {
    /// Reads `DIR/weft-plugin.toml`.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {} (is {} a plugin project? `weft plugin new` makes one)",
                path.display(),
                dir.display()
            )
        })?;
        let manifest: Manifest =
            toml::from_str(&text).with_context(|| format!("{} is invalid", path.display()))?;
        check_name(&manifest.name).with_context(|| format!("{}: `name`", path.display()))?;
        Ok(manifest)
    }

    /// The manifest as TOML, with a comment saying what it is for.
    pub fn to_toml(&self) -> String {
        format!(
            "# What `weft plugin build` builds: the sources in this folder, in `language`, into\n\
             # the component `{}.wasm` exporting the `world` of wit/weft.wit.\n{}",
            self.name,
            toml::to_string(self).expect("a manifest serializes")
        )
    }

    /// Where the built component goes.
    pub fn component_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.wasm", self.name))
    }
}

/// A plugin name is a folder name, a cargo package name and a file stem at once: lowercase
/// ASCII letters, digits and `-`, starting with a letter.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    anyhow::ensure!(
        valid,
        "{name:?} is not a plugin name: use lowercase letters, digits and `-`, starting with a \
         letter (for example `drop-health-checks`)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_names_are_checked() {
        let manifest = Manifest {
            name: "drop-health".into(),
            language: Language::Javascript,
            world: ProjectWorld::TraceSampler,
        };
        let text = manifest.to_toml();
        assert!(text.contains("language = \"javascript\""), "{text}");
        assert!(text.contains("world = \"trace-sampler\""), "{text}");
        assert_eq!(toml::from_str::<Manifest>(&text).unwrap(), manifest);
        for bad in [
            "",
            "Drop",
            "1drop",
            "drop_health",
            "drop-",
            "a/b",
            "drop.wasm",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        check_name("drop-health-2").unwrap();
    }

    #[test]
    fn an_unknown_language_is_refused_with_the_file_named() {
        let dir = std::env::temp_dir().join(format!("weft-manifest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(MANIFEST),
            "name = \"x\"\nlanguage = \"go\"\nworld = \"processor\"\n",
        )
        .unwrap();
        let error = format!("{:#}", Manifest::read(&dir).unwrap_err());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(error.contains("weft-plugin.toml is invalid"), "{error}");
        assert!(error.contains("unknown variant `go`"), "{error}");
    }
}
