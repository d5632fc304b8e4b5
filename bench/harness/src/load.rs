//! The load generator: sends pre-encoded OTLP trace requests to an endpoint from several
//! concurrent clients, bounded by a request count and a time limit, and measures throughput
//! and request latency. Without a rate every client sends its next request as soon as the
//! previous one is answered (the most the endpoint takes); with a rate, request `n` leaves no
//! earlier than `n` request intervals after the start (a steady load, as for a memory soak).
//!
//! Requests are sent with Weft's own OTLP exporters ([`Sink`]), so a gRPC request is the raw
//! protobuf bytes encoded before the clock starts (tonic gzips them on the way out when asked),
//! and an HTTP request is the body encoded, and gzipped if asked, before the clock starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use weft::config::{Compression, ExporterConfig, OtlpExporterConfig};
use weft::exporter::{Payload, Sink};
use weft::pdata::Traces;

use super::payload::{PayloadSpec, build_request};

/// The OTLP transport to send over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    Http,
}

/// What to send, where, and for how long.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `host:port` or `http://host:port` (HTTP: `/v1/traces` is added when there is no path).
    pub endpoint: String,
    /// gRPC or HTTP.
    pub protocol: Protocol,
    /// Compress requests with gzip.
    pub gzip: bool,
    /// The shape of every request.
    pub payload: PayloadSpec,
    /// How many distinct requests to pre-encode and cycle through.
    pub distinct_requests: usize,
    /// Clients sending at once, each with its own connection.
    pub concurrency: usize,
    /// Stop after this many requests...
    pub requests: u64,
    /// ...or after this long, whichever comes first.
    pub duration: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
    /// Spans per second to offer across all clients; `None` sends as fast as answers come.
    pub rate: Option<f64>,
    /// Connect over TLS, trusting this CA (PEM).
    pub tls_ca: Option<std::path::PathBuf>,
}

/// What a load run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The transport used.
    pub protocol: Protocol,
    /// Whether requests were gzipped.
    pub gzip: bool,
    /// Requests sent (answered or failed).
    pub requests: u64,
    /// Requests that failed (error status, timeout or connection error).
    pub errors: u64,
    /// Spans in requests that were accepted.
    pub spans_sent: u64,
    /// The offered rate in spans per second, if the load was paced.
    pub rate_spans_per_sec: Option<f64>,
    /// Paced load only: requests that left more than one request interval after their
    /// scheduled time because every client was still waiting for an answer (the endpoint did
    /// not keep up with the rate, or the clients were too few for its latency).
    pub late_requests: u64,
    /// Wall-clock time from the first request to the last answer, in seconds.
    pub elapsed_secs: f64,
    /// Accepted spans per second.
    pub spans_per_sec: f64,
    /// Median request latency, in milliseconds.
    pub latency_p50_ms: f64,
    /// 99th-percentile request latency, in milliseconds.
    pub latency_p99_ms: f64,
    /// Slowest request, in milliseconds.
    pub latency_max_ms: f64,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

/// One pre-encoded request.
struct Prepared {
    payload: Payload,
    spans: u64,
}

/// Runs the load and returns what it measured. Fails only when the sender cannot be set up;
/// failed requests are counted in the report.
pub async fn run_load(config: &LoadConfig) -> anyhow::Result<LoadReport> {
    anyhow::ensure!(config.concurrency > 0, "concurrency must be at least 1");
    anyhow::ensure!(
        config.distinct_requests > 0,
        "distinct requests must be at least 1"
    );
    let pace = config
        .rate
        .map(|rate| request_interval(rate, config.payload.spans_per_request))
        .transpose()?;
    let sinks = (0..config.concurrency)
        .map(|_| Sink::from_config(&exporter_config(config), std::path::Path::new(".")))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("setting up OTLP clients for {}", config.endpoint))?;
    let prepared = Arc::new(prepare(&sinks[0], config)?);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let schedule = Schedule {
        started,
        deadline: started + config.duration,
        limit: config.requests,
        pace,
    };
    let workers: Vec<_> = sinks
        .into_iter()
        .map(|sink| {
            let prepared = prepared.clone();
            let issued = issued.clone();
            tokio::spawn(async move { send_loop(sink, &prepared, &issued, schedule).await })
        })
        .collect();
    let mut tally = Tally::default();
    for worker in workers {
        tally.merge(worker.await.context("a load worker panicked")?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    tally.latencies_us.sort_unstable();
    let percentile = |p: f64| percentile_ms(&tally.latencies_us, p);
    Ok(LoadReport {
        protocol: config.protocol,
        gzip: config.gzip,
        requests: tally.requests,
        errors: tally.errors,
        spans_sent: tally.spans,
        rate_spans_per_sec: config.rate,
        late_requests: tally.late,
        elapsed_secs: elapsed,
        spans_per_sec: if elapsed > 0.0 {
            tally.spans as f64 / elapsed
        } else {
            0.0
        },
        latency_p50_ms: percentile(0.50),
        latency_p99_ms: percentile(0.99),
        latency_max_ms: percentile(1.0),
        first_error: tally.first_error,
    })
}

fn exporter_config(config: &LoadConfig) -> ExporterConfig {
    let scheme = if config.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let endpoint = if config.endpoint.contains("://") {
        config.endpoint.clone()
    } else {
        format!("{scheme}://{}", config.endpoint)
    };
    let tls = config
        .tls_ca
        .as_ref()
        .map(|ca| weft::config::ClientTlsConfig {
            ca_file: Some(ca.clone()),
            ..Default::default()
        });
    let otlp = OtlpExporterConfig {
        endpoint,
        compression: if config.gzip {
            Compression::Gzip
        } else {
            Compression::None
        },
        timeout_ms: config.timeout.as_millis() as u64,
        headers: Default::default(),
        tls,
        batch: Default::default(),
        retry: Default::default(),
    };
    match config.protocol {
        Protocol::Grpc => ExporterConfig::Otlp(otlp),
        Protocol::Http => ExporterConfig::Otlphttp(otlp),
    }
}

/// Encodes the distinct requests once, before any is sent.
fn prepare(sink: &Sink, config: &LoadConfig) -> anyhow::Result<Vec<Prepared>> {
    (0..config.distinct_requests as u64)
        .map(|index| {
            let request = Arc::new(Traces::from_request(&build_request(config.payload, index)));
            let spans = request.span_count() as u64;
            let payload = sink
                .encode(&[request])
                .map_err(|e| anyhow::anyhow!("encoding a request: {}", e.message))?;
            Ok(Prepared { payload, spans })
        })
        .collect()
}

/// The time between two requests' departures for `rate` spans per second overall.
fn request_interval(rate: f64, spans_per_request: usize) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        rate.is_finite() && rate > 0.0,
        "the rate must be a positive number of spans per second, not {rate}"
    );
    let secs = spans_per_request as f64 / rate;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|interval| !interval.is_zero())
        .with_context(|| {
            format!(
                "a rate of {rate} spans/s with {spans_per_request} spans per request \
                 leaves no time between requests"
            )
        })
}

/// When requests may leave and when the run ends; shared by every client.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    started: Instant,
    deadline: Instant,
    /// At most this many requests in all.
    limit: u64,
    /// Paced load: request `n` leaves no earlier than `started + n * pace`.
    pace: Option<Duration>,
}

impl Schedule {
    /// When request `number` may leave, or `None` when it is past the count or the deadline.
    fn departure(&self, number: u64, now: Instant) -> Option<Instant> {
        if number >= self.limit || now >= self.deadline {
            return None;
        }
        let Some(pace) = self.pace else {
            return Some(now);
        };
        let at = self
            .started
            .checked_add(pace.checked_mul(u32::try_from(number).ok()?)?)?;
        (at < self.deadline).then_some(at)
    }
}

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    late: u64,
    spans: u64,
    latencies_us: Vec<u64>,
    first_error: Option<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.late += other.late;
        self.spans += other.spans;
        self.latencies_us.extend(other.latencies_us);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// One client: takes the next request number until the count or the deadline is reached,
/// waiting for the number's departure time when the load is paced.
async fn send_loop(
    sink: Sink,
    prepared: &[Prepared],
    issued: &AtomicU64,
    schedule: Schedule,
) -> Tally {
    let mut tally = Tally::default();
    loop {
        let number = issued.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let Some(departure) = schedule.departure(number, now) else {
            return tally;
        };
        if let Some(pace) = schedule.pace {
            if now > departure + pace {
                tally.late += 1;
            }
            tokio::time::sleep_until(departure.into()).await;
        }
        let request = &prepared[(number % prepared.len() as u64) as usize];
        let sent = Instant::now();
        let outcome = sink.send(&request.payload).await;
        tally.latencies_us.push(sent.elapsed().as_micros() as u64);
        tally.requests += 1;
        match outcome {
            // Spans the collector rejected in a partial success were not taken.
            Ok(delivery) => tally.spans += delivery.split(request.spans).0,
            Err(error) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(error.message);
            }
        }
    }
}

/// The nearest-rank percentile `p` (0–1) of sorted microsecond latencies, in milliseconds.
fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
