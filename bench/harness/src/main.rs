//! `weft-bench load` and `weft-bench sink`: the benchmark harness from the command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use weft_bench::{CountingSink, LoadConfig, LoadReport, PayloadSpec, Protocol, SinkReport};

/// The benchmark harness: an OTLP load generator and a counting sink.
#[derive(Debug, Parser)]
#[command(name = "weft-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: BenchCommand,
}

/// `weft-bench ...`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send synthetic OTLP traces (with realistic PII in their attributes) to an endpoint and
    /// print spans/s, request latency and errors. Exit code 1 if any request failed.
    Load(LoadArgs),
    /// Receive OTLP traces, decode every request and count requests and spans, until SIGINT
    /// or SIGTERM; then print the totals as JSON.
    Sink(SinkArgs),
}

/// Options of `weft-bench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Where to send: `host:port` or `http://host:port`.
    #[arg(long, default_value = "127.0.0.1:4317")]
    pub endpoint: String,
    /// OTLP transport.
    #[arg(long, value_enum, default_value_t = Protocol::Grpc)]
    pub protocol: Protocol,
    /// Compress requests with gzip.
    #[arg(long)]
    pub gzip: bool,
    /// Spans in each request.
    #[arg(long, default_value_t = 512)]
    pub spans_per_request: usize,
    /// Attributes on each span (of the first ten, four hold PII).
    #[arg(long, default_value_t = 10)]
    pub attributes_per_span: usize,
    /// Clients sending at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Stop after this many requests...
    #[arg(long, default_value_t = 2000)]
    pub requests: u64,
    /// ...or after this many seconds, whichever comes first.
    #[arg(long, default_value_t = 60.0)]
    pub duration_secs: f64,
    /// Distinct requests (distinct trace ids) pre-encoded and sent in turn.
    #[arg(long, default_value_t = 8)]
    pub distinct_requests: usize,
    /// Timeout of one request, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Offer this many spans per second in all (a steady load) instead of sending each
    /// client's next request as soon as the previous one is answered.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Connect over TLS (`https://`), trusting this CA certificate (PEM).
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Options of `weft-bench sink`.
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Serve OTLP/gRPC on this address.
    #[arg(long)]
    pub grpc: Option<SocketAddr>,
    /// Serve OTLP/gRPC on this address too, into the same totals (repeatable: the backends
    /// of a load-balancing exporter).
    #[arg(long)]
    pub also_grpc: Vec<SocketAddr>,
    /// Serve OTLP/HTTP on this address (`GET /report` answers the totals as JSON).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Write the totals as JSON to this file, every `--report-interval-ms` and on exit.
    #[arg(long)]
    pub report_file: Option<PathBuf>,
    /// How often to rewrite the report file, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub report_interval_ms: u64,
}

/// Runs a `weft-bench` command.
fn main() -> ExitCode {
    // JSON lines: scripts read the sink's addresses from its first log line.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .json()
        .init();
    match bench(Cli::parse().command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn bench(command: BenchCommand) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weft-bench")
        .build()?;
    match command {
        BenchCommand::Load(args) => runtime.block_on(load(args)),
        BenchCommand::Sink(args) => runtime.block_on(sink(args)),
    }
}

async fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.duration_secs > 0.0, "--duration-secs must be positive");
    let config = LoadConfig {
        endpoint: args.endpoint,
        protocol: args.protocol,
        gzip: args.gzip,
        payload: PayloadSpec {
            spans_per_request: args.spans_per_request,
            attributes_per_span: args.attributes_per_span,
        },
        distinct_requests: args.distinct_requests,
        concurrency: args.concurrency,
        requests: args.requests,
        duration: Duration::from_secs_f64(args.duration_secs),
        timeout: Duration::from_millis(args.timeout_ms),
        rate: args.rate,
        tls_ca: args.tls_ca,
    };
    let report = weft_bench::run_load(&config).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_load_report(&config, &report);
    }
    Ok(if report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_load_report(config: &LoadConfig, report: &LoadReport) {
    println!(
        "{} requests ({} spans each, {}{}) to {} in {:.2} s",
        report.requests,
        config.payload.spans_per_request,
        match report.protocol {
            Protocol::Grpc => "gRPC",
            Protocol::Http => "HTTP",
        },
        if report.gzip { ", gzip" } else { "" },
        config.endpoint,
        report.elapsed_secs
    );
    println!("spans/s        {:.0}", report.spans_per_sec);
    if let Some(rate) = report.rate_spans_per_sec {
        println!(
            "offered        {rate:.0} spans/s; {} requests left late (every client busy)",
            report.late_requests
        );
    }
    println!("spans sent     {}", report.spans_sent);
    println!(
        "latency        p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        report.latency_p50_ms, report.latency_p99_ms, report.latency_max_ms
    );
    println!("errors         {}", report.errors);
    if let Some(error) = &report.first_error {
        println!("first error    {error}");
    }
}

async fn sink(args: SinkArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.grpc.is_some() || args.http.is_some(),
        "give --grpc ADDR, --http ADDR or both"
    );
    let bind = |addr: Option<SocketAddr>| async move {
        match addr {
            Some(addr) => tokio::net::TcpListener::bind(addr)
                .await
                .map(Some)
                .with_context(|| format!("binding {addr}")),
            None => Ok(None),
        }
    };
    let mut sink = CountingSink::start(bind(args.grpc).await?, bind(args.http).await?)?;
    for addr in &args.also_grpc {
        sink.also_grpc(bind(Some(*addr)).await?.expect("an address was given"));
    }
    tracing::info!(grpc = ?sink.grpc_addr(), http = ?sink.http_addr(), "Counting sink listening.");
    let interval = Duration::from_millis(args.report_interval_ms.max(10));
    let mut last_written = None;
    let stop = wait_for_stop_signal();
    tokio::pin!(stop);
    loop {
        if let Some(path) = &args.report_file {
            let report = sink.report();
            if last_written != Some(report) {
                write_report(path, &report)?;
                last_written = Some(report);
            }
        }
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(interval) => {}
        }
    }
    let report = sink.stop().await?;
    if let Some(path) = &args.report_file {
        write_report(path, &report)?;
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

/// Replaces the report file whole (write aside, then rename), so a reader never sees half.
fn write_report(path: &Path, report: &SinkReport) -> anyhow::Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, serde_json::to_vec(report)?)
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("replacing {}", path.display()))
}
