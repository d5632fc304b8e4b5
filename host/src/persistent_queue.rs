//! The persistent queue in a running service: opened before the exporters start, what it
//! holds unfinished replayed through the pipeline, and checkpointed while the service runs.
//!
//! Owns: turning `[pipeline.persistence]` into a [`Ledger`], and its background work. The
//! log, the progress and the claims are in `durable/`; the workers, receivers and exporters
//! only carry the lineage and the claims.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::PersistenceConfig;
use crate::durable::{Commit, Ledger, LogOptions, Replay};
use crate::pdata::Traces;
use crate::pipeline::{Protocol, Refusal, Submitter, protobuf_footprint};
use crate::telemetry::{Metrics, PipelineStats};
use crate::topology::DurableExports;

/// How often progress is saved and finished segments deleted.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The largest record: requests are bounded by the receivers long before this.
const MAX_RECORD_BYTES: usize = 256 << 20;

/// The persistent queue, opened and not yet started.
pub struct PersistentQueue {
    ledger: Arc<Ledger>,
    replay: Vec<Replay>,
    config: PersistenceConfig,
}

impl PersistentQueue {
    /// Opens the log of `config` (its directory relative to `base_dir`) for `exporters`:
    /// cuts a torn tail, skips damaged records, and finds what some exporter has not
    /// finished. What it found is logged and counted.
    pub fn open(
        config: &PersistenceConfig,
        base_dir: &Path,
        exporters: &[String],
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let dir = config.dir_in(base_dir);
        let options = LogOptions {
            dir: dir.clone(),
            segment_bytes: config.segment_mb << 20,
            max_disk_bytes: config.max_disk_mb << 20,
            max_record_bytes: MAX_RECORD_BYTES,
            commit: match config.fsync_interval_ms {
                0 => Commit::Always,
                ms => Commit::Every(Duration::from_millis(ms)),
            },
        };
        let (ledger, replay, recovered) = Ledger::open(options, exporters)
            .with_context(|| format!("opening the persistent queue in {}", dir.display()))?;
        let counters = &metrics.persistence;
        counters.enabled.store(true, Ordering::Relaxed);
        PipelineStats::add(&counters.torn_bytes, recovered.torn_bytes);
        let damaged = recovered.corrupt_records + recovered.lost_records;
        PipelineStats::add(&counters.corrupt_records, damaged);
        if recovered.torn_bytes > 0 {
            tracing::warn!(bytes = recovered.torn_bytes, dir = %dir.display(), "The persistent queue's last write was cut short by a crash; its torn tail was removed (that request was never acknowledged).");
        }
        if damaged > 0 {
            tracing::error!(skipped = recovered.corrupt_records, lost = recovered.lost_records, dir = %dir.display(), "The persistent queue holds damaged records; they were skipped.");
        }
        tracing::info!(
            dir = %dir.display(),
            disk_bytes = ledger.log().disk_bytes(),
            to_replay = replay.len(),
            "Persistent queue opened."
        );
        Ok(PersistentQueue {
            ledger,
            replay,
            config: config.clone(),
        })
    }

    /// What the exporters need of it.
    pub fn exports(&self) -> DurableExports {
        DurableExports {
            ledger: self.ledger.clone(),
            max_age: self.config.max_age(),
        }
    }

    /// What the workers need of it: the ledger, and how many tries a request that panics gets.
    pub fn workers(&self) -> (Arc<Ledger>, u32) {
        (self.ledger.clone(), self.config.max_tries)
    }

    /// Replays what was unfinished through `submitter` and starts the checkpoints.
    pub fn start(self, submitter: Submitter, metrics: Arc<Metrics>) -> Background {
        let replay = tokio::spawn(replay(
            self.replay,
            self.ledger.clone(),
            submitter.clone(),
            metrics.clone(),
        ));
        let (stop, stopped) = watch::channel(false);
        let redrive = tokio::spawn(redrive(
            self.ledger.clone(),
            submitter,
            metrics.clone(),
            stopped.clone(),
        ));
        let checkpoints = tokio::spawn(checkpoints(self.ledger.clone(), metrics, stopped));
        Background {
            ledger: self.ledger,
            replay,
            redrive,
            stop,
            checkpoints,
        }
    }
}

/// The persistent queue's work while the service runs.
pub struct Background {
    ledger: Arc<Ledger>,
    replay: JoinHandle<()>,
    redrive: JoinHandle<()>,
    stop: watch::Sender<bool>,
    checkpoints: JoinHandle<()>,
}

impl Background {
    /// Once the pipeline queue is closed and the exporters have stopped: lets the replay
    /// and the redrive find the queue closed (what they had not queued stays unfinished),
    /// saves the final progress and closes the log. Whatever was not sent stays, to be
    /// replayed at the next start.
    pub async fn stop(self, metrics: &Metrics) {
        let _ = self.stop.send(true);
        for task in [self.replay, self.redrive, self.checkpoints] {
            let _ = task.await;
        }
        checkpoint(&self.ledger, metrics);
        let ledger = self.ledger;
        let _ = tokio::task::spawn_blocking(move || ledger.log().close()).await;
    }
}

/// Sends each unfinished record through the pipeline again, to the exporters that have not
/// finished it, within the memory budget like any request.
async fn replay(
    records: Vec<Replay>,
    ledger: Arc<Ledger>,
    submitter: Submitter,
    metrics: Arc<Metrics>,
) {
    let counters = &metrics.persistence;
    let total = records.len();
    for Replay {
        seq,
        payload,
        targets,
    } in records
    {
        let footprint = protobuf_footprint(&payload);
        let batch = match Traces::decode(payload) {
            Ok(batch) => batch,
            Err(error) => {
                // Only Weft wrote it, and its checksum held: a bug, not a client's mistake.
                tracing::error!(seq, %error, "A record of the persistent queue cannot be read; skipped.");
                continue;
            }
        };
        let spans = batch.span_count() as u64;
        let memory = loop {
            match submitter.admit(Protocol::Grpc, footprint).await {
                Ok(memory) => break memory,
                Err(Refusal::ShuttingDown) => return,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let lineage = ledger.hold(seq, targets);
        if !resubmit(&ledger, &submitter, batch, memory, lineage).await {
            return;
        }
        PipelineStats::add(&counters.replayed_records, 1);
        PipelineStats::add(&counters.replayed_spans, spans);
    }
    if total > 0 {
        tracing::info!(
            records = total,
            "Replayed the persistent queue's unfinished records."
        );
    }
}

/// Queues a record read back from the log; if the pipeline refuses it (it is stopping), the
/// record stays unfinished for the exporters it was meant for. Returns whether it was queued.
async fn resubmit(
    ledger: &Ledger,
    submitter: &Submitter,
    batch: Traces,
    memory: crate::pipeline::MemoryPermit,
    lineage: crate::pdata::Lineage,
) -> bool {
    let held = lineage.clone();
    let queued = submitter.resubmit(batch, memory, lineage).await.is_ok();
    if !queued {
        ledger.give_up(&held);
    }
    queued
}

/// Records read back for one exporter at a time.
const REDRIVE_BATCH: usize = 64;

/// An exporter that dropped records unsent (its queue was full while its sends failed) gets
/// them again through the pipeline once it has recovered: its last send succeeded and its
/// queue has room.
async fn redrive(
    ledger: Arc<Ledger>,
    submitter: Submitter,
    metrics: Arc<Metrics>,
    mut stopped: watch::Receiver<bool>,
) {
    while tick(&mut stopped).await {
        for (name, counters) in metrics.exporters() {
            let healthy = counters
                .attempts_failed_since_success
                .load(Ordering::Relaxed)
                == 0
                && counters.queued.load(Ordering::Relaxed) < 4;
            if !healthy {
                continue;
            }
            let reader = ledger.clone();
            let records = tokio::task::spawn_blocking(move || reader.redrive(&name, REDRIVE_BATCH))
                .await
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
            let records = match records {
                Ok(records) => records,
                Err(error) => {
                    tracing::error!(%error, "Reading deferred records back from the persistent queue failed.");
                    continue;
                }
            };
            for (payload, lineage) in records {
                let footprint = protobuf_footprint(&payload);
                let Ok(batch) = Traces::decode(payload) else {
                    continue;
                };
                let memory = match submitter.admit(Protocol::Grpc, footprint).await {
                    Ok(memory) => memory,
                    Err(_) => {
                        ledger.give_up(&lineage);
                        continue;
                    }
                };
                if resubmit(&ledger, &submitter, batch, memory, lineage).await {
                    PipelineStats::add(&metrics.persistence.redriven_records, 1);
                }
            }
        }
    }
}

async fn checkpoints(
    ledger: Arc<Ledger>,
    metrics: Arc<Metrics>,
    mut stopped: watch::Receiver<bool>,
) {
    while tick(&mut stopped).await {
        let (ledger, metrics) = (ledger.clone(), metrics.clone());
        let _ = tokio::task::spawn_blocking(move || checkpoint(&ledger, &metrics)).await;
    }
}

/// Waits for the next tick of the background work; `false` once it is told to stop.
async fn tick(stopped: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = stopped.changed() => false,
        _ = tokio::time::sleep(CHECKPOINT_EVERY) => true,
    }
}

/// Saves progress, deletes finished segments, and refreshes the gauges.
fn checkpoint(ledger: &Ledger, metrics: &Metrics) {
    let counters = &metrics.persistence;
    match ledger.checkpoint() {
        Ok(ages) => {
            *crate::sync::lock(&counters.oldest_unsent) = ages
                .into_iter()
                .map(|(name, age)| (name, age.as_secs_f64()))
                .collect();
        }
        Err(error) => {
            tracing::error!(%error, "Saving the persistent queue's progress failed; it is tried again.")
        }
    }
    let log = ledger.log();
    let stats = log.stats();
    let copy = |from: &std::sync::atomic::AtomicU64, to: &std::sync::atomic::AtomicU64| {
        to.store(from.load(Ordering::Relaxed), Ordering::Relaxed)
    };
    counters
        .disk_bytes
        .store(log.disk_bytes(), Ordering::Relaxed);
    counters
        .records
        .store(log.next_seq() - log.first_seq(), Ordering::Relaxed);
    copy(&stats.syncs, &counters.syncs);
    copy(&stats.sync_nanos, &counters.sync_nanos);
    for (from, to) in stats.sync_buckets.iter().zip(&counters.sync_buckets) {
        copy(from, to);
    }
}
