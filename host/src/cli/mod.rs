//! The `weft` command line.

mod check;
mod plugin_test;
mod run;
mod tap;

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
    /// Run a plugin on sample spans (OTLP JSON); print the result, or compare it with an
    /// expected file and print a diff (exit code 1 on mismatch).
    Test {
        /// The plugin: a `.wasm` component, or `builtin:NAME`.
        plugin: String,
        /// The processor's config table, as TOML (what goes under `[processors.config]`).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Input spans: an OTLP JSON `ExportTraceServiceRequest`.
        #[arg(long, short)]
        input: PathBuf,
        /// Expected output, OTLP JSON.
        #[arg(long, short)]
        expect: Option<PathBuf>,
    },
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
        Command::Plugin(PluginCommand::Test {
            plugin,
            config,
            input,
            expect,
        }) => plugin_test::plugin_test(&plugin, config.as_deref(), &input, expect.as_deref()),
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
