//! The `weft` command line.

mod check;
mod plugin_build;
mod plugin_new;
mod plugin_project;
mod plugin_push;
mod plugin_sign;
mod plugin_test;
mod run;
mod tap;
mod toolchain;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Weft: an OpenTelemetry pipeline with sandboxed WebAssembly processors.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about)]
pub struct Cli {
    /// What to do (default: `run`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Log level: error, warn, info, debug or trace.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: tracing::Level,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the pipeline (on the embedded defaults without --config).
    Run {
        /// The configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a configuration and load every plugin it names, without serving.
    Check {
        /// The configuration file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Work with plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Watch spans pass one processor of a running weft: before it, after it, or what it
    /// changed (through the admin server).
    Tap(tap::TapArgs),
}

/// `weft plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Start a plugin project in a new folder: sources, the WIT this Weft serves, the SDK
    /// helper, a unit test, sample spans with their expected output, and a README.
    New {
        /// The new folder; its name is the plugin's (lowercase letters, digits and `-`).
        #[arg(value_name = "NAME")]
        dir: PathBuf,
        /// The language to write the plugin in.
        #[arg(long, value_enum)]
        lang: plugin_project::Language,
        /// What the plugin is: a span processor, or a tail-sampling policy.
        #[arg(long, value_enum, default_value = "processor")]
        world: plugin_project::ProjectWorld,
    },
    /// Build a plugin project (its `weft-plugin.toml` says how): check the toolchain, run
    /// the unit tests, write `NAME.wasm`, print its size and sha256.
    Build {
        /// The project's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Build without running the unit tests first.
        #[arg(long)]
        skip_tests: bool,
    },
    /// Sign a component for `[pipeline.trust]`: a file gets `COMPONENT.minisig` beside it
    /// (minisign's format), a reference a cosign signature in its registry.
    Sign(plugin_sign::SignArgs),
    /// Run a plugin on sample spans (OTLP JSON); print the result, or compare it with an
    /// expected file and print a diff (exit code 1 on mismatch). Given a project folder, runs
    /// its built component on `sample/input.json` against `sample/expected.json`.
    Test {
        /// The plugin: a `.wasm` component, `builtin:NAME`, or a project folder.
        #[arg(default_value = ".")]
        plugin: String,
        /// The processor's config table, as TOML (what goes under `[processors.config]`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Input spans: an OTLP JSON `ExportTraceServiceRequest`.
        #[arg(long, short)]
        input: Option<PathBuf>,
        /// Expected output, OTLP JSON.
        #[arg(long, short)]
        expect: Option<PathBuf>,
    },
    /// Publish a component to an OCI registry (the Wasm OCI artifact layout) and print its
    /// manifest digest, for `plugin = "oci://HOST/REPO@sha256:..."`.
    Push(plugin_push::PushArgs),
}

/// How log lines are written (always to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line.
    Json,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_level, cli.log_format);
    let result = match cli.command.unwrap_or(Command::Run { config: None }) {
        Command::Run { config } => run::run(config),
        Command::Check { config } => check::check(config),
        Command::Plugin(PluginCommand::New { dir, lang, world }) => {
            plugin_new::plugin_new(&dir, lang, world)
        }
        Command::Plugin(PluginCommand::Build { dir, skip_tests }) => {
            plugin_build::plugin_build(&dir, skip_tests)
        }
        Command::Plugin(PluginCommand::Sign(args)) => plugin_sign::plugin_sign(args),
        Command::Plugin(PluginCommand::Test {
            plugin,
            config,
            input,
            expect,
        }) => plugin_test::plugin_test_command(&plugin, config, input, expect),
        Command::Plugin(PluginCommand::Push(args)) => plugin_push::plugin_push(args),
        Command::Tap(args) => tap::tap(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(level: tracing::Level, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Loads the configuration at `path`, or the embedded defaults.
fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<crate::config::LoadedConfig> {
    match path {
        Some(path) => crate::config::LoadedConfig::from_file(path)
            .map_err(|errors| anyhow::anyhow!("{}{errors}", path.display().to_string() + ": ")),
        None => Ok(crate::config::LoadedConfig::embedded_default()),
    }
}
