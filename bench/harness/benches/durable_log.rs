//! The persistent queue's log on this machine's disk: appends per second and what each costs
//! in syncs, for requests the size the load generator sends (512 spans, ~230 KB) and small
//! ones (8 spans), with 4 and 32 appends in flight, for each commit setting.
//!
//! `cargo bench -p weft-bench --bench durable_log` (writes under the system's temporary
//! directory, removed afterwards).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use weft::durable::{Commit, Log, LogOptions};
use weft_bench::{PayloadSpec, build_request};

const ROUND: Duration = Duration::from_secs(3);

fn request(spans: usize) -> Bytes {
    build_request(
        PayloadSpec {
            spans_per_request: spans,
            attributes_per_span: 10,
        },
        0,
    )
    .encode_to_vec()
    .into()
}

async fn run(commit: Commit, payload: Bytes, in_flight: usize, spans: usize) {
    let dir = std::env::temp_dir().join(format!("weft-log-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (log, _) = Log::open(LogOptions {
        dir: dir.clone(),
        segment_bytes: 64 << 20,
        max_disk_bytes: 64 << 30,
        max_record_bytes: 16 << 20,
        commit,
    })
    .unwrap();
    let log = Arc::new(log);
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let (log, payload) = (log.clone(), payload.clone());
            tokio::spawn(async move {
                let mut appended = 0u64;
                while started.elapsed() < ROUND {
                    log.append(payload.clone()).await.unwrap();
                    appended += 1;
                    // Keep the disk from filling: drop what is already durable.
                    if appended.is_multiple_of(256) {
                        let first = log.first_seq();
                        log.release_before(first + 128).unwrap();
                    }
                }
                appended
            })
        })
        .collect();
    let mut appended = 0;
    for task in tasks {
        appended += task.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let stats = log.stats();
    let syncs = stats.syncs.load(Ordering::Relaxed);
    let sync_ms = stats.sync_nanos.load(Ordering::Relaxed) as f64 / 1e6 / syncs.max(1) as f64;
    println!(
        "{commit:<18} {:>7} B x{in_flight:<3} {:>9.0} appends/s {:>7.1} MB/s {:>10.0} spans/s  {:>5.1} records/sync  {sync_ms:>5.2} ms/sync",
        payload.len(),
        appended as f64 / secs,
        appended as f64 * payload.len() as f64 / secs / 1e6,
        appended as f64 * spans as f64 / secs,
        appended as f64 / syncs.max(1) as f64,
        commit = format!("{commit:?}"),
    );
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for (spans, payload) in [(512, request(512)), (8, request(8))] {
            for commit in [Commit::Always, Commit::Every(Duration::from_millis(5))] {
                for in_flight in [4, 32] {
                    run(commit, payload.clone(), in_flight, spans).await;
                }
            }
        }
    });
}
