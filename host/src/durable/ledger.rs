//! Which records of the log each exporter has finished, worked out from where their data is.
//!
//! A record is appended when its request is accepted, and from then on its data is held:
//! by a [`Hold`] (a token in the data's [`Lineage`]) while it is in a worker or waiting in the
//! tail-sampling stage, and by one [`Claim`] per exporter for each batch handed to that
//! exporter. Once no hold is left, a record is finished for an exporter when every claim of
//! that exporter on it was resolved — the spans were sent, or written to the dead-letter file.
//! A claim dropped unresolved (an exporter stopped mid-retry, a full queue skipped) leaves the
//! record unfinished for that exporter: it is sent again after a restart. Records the chain
//! dropped entirely finish with no claim at all.
//!
//! Each exporter's finished records become its [`Progress`]; [`Ledger::checkpoint`] saves the
//! positions and deletes the segments every exporter is past.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

use crate::pdata::Lineage;

use super::consumers::{Consumers, Slot, SlotMask};
use super::log::{Log, LogError, LogOptions, Recovered};
use super::progress::write_position;

/// A record waiting to go through the pipeline again after a restart.
pub struct Replay {
    /// Its sequence number.
    pub seq: u64,
    /// The request's bytes.
    pub payload: Bytes,
    /// The exporters that have not finished it.
    pub targets: SlotMask,
}

/// A record whose data is somewhere in the pipeline.
#[derive(Debug, Default)]
struct Open {
    /// Live holds (one per pass through the pipeline).
    holds: u32,
    /// Exporters it is meant for and not yet finished or given up on in this run.
    targets: SlotMask,
    /// Unresolved claims, by exporter.
    claims: Vec<(Slot, u32)>,
    /// Exporters that dropped a claim unresolved.
    abandoned: SlotMask,
}

impl Open {
    fn claims_of(&mut self, slot: Slot) -> &mut u32 {
        if let Some(i) = self.claims.iter().position(|(s, _)| *s == slot) {
            return &mut self.claims[i].1;
        }
        self.claims.push((slot, 0));
        &mut self.claims.last_mut().expect("just pushed").1
    }
}

struct State {
    consumers: Consumers,
    open: HashMap<u64, Open>,
    /// When each record not finished by every exporter was appended (or replayed).
    since: BTreeMap<u64, Instant>,
}

/// The log and every exporter's progress through it.
pub struct Ledger {
    log: Log,
    dir: PathBuf,
    state: Mutex<State>,
    /// Held while a dead-letter file is written.
    dead_letters: Mutex<()>,
}

impl Ledger {
    /// Opens the log in `options.dir` with a consumer for each of `exporters`. An exporter
    /// without saved progress starts at the log's end; saved progress of exporters no longer
    /// configured is deleted. Returns the records some exporter has not finished, to replay.
    pub fn open(
        options: LogOptions,
        exporters: &[String],
    ) -> Result<(Arc<Ledger>, Vec<Replay>, Recovered), LogError> {
        let dir = options.dir.clone();
        let (log, mut recovered) = Log::open(options)?;
        let end = recovered.segments.last().map_or(0, |s| s.next_seq);
        let consumers = Consumers::load(&dir, exporters, log.first_seq(), end)
            .map_err(|e| LogError::io("reading the progress in", &dir, e))?;
        let now = Instant::now();
        let mut since = BTreeMap::new();
        let mut replay = Vec::new();
        for (seq, payload) in recovered.records() {
            let targets = consumers.unfinished(seq);
            if !targets.is_empty() {
                since.insert(seq, now);
                replay.push(Replay {
                    seq,
                    payload,
                    targets,
                });
            }
        }
        // The replay holds what it needs; the rest of the files' bytes can go.
        for segment in &mut recovered.segments {
            segment.bytes = Bytes::new();
            segment.records.clear();
        }
        let ledger = Ledger {
            log,
            dir,
            state: Mutex::new(State {
                consumers,
                open: HashMap::new(),
                since,
            }),
            dead_letters: Mutex::new(()),
        };
        Ok((Arc::new(ledger), replay, recovered))
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Appends an accepted request's bytes and answers, once they are durable, the lineage
    /// that holds the record for every exporter running now.
    ///
    /// The append and the hold run on a task of their own: a caller that goes away meanwhile
    /// (the client hung up) drops a hold that was made, which finishes the record, instead of
    /// leaving a record nobody holds and nobody finishes.
    pub async fn append(self: &Arc<Self>, payload: Bytes) -> Result<Lineage, LogError> {
        let ledger = self.clone();
        let append = tokio::spawn(async move {
            let seq = ledger.log.append(payload).await?;
            let targets = crate::sync::lock(&ledger.state).consumers.live();
            Ok(ledger.hold(seq, targets))
        });
        append.await.map_err(|_| LogError::Closed)?
    }

    /// A hold on record `seq` for the exporters in `targets` (a new pass through the
    /// pipeline, such as a replay).
    pub fn hold(self: &Arc<Self>, seq: u64, targets: SlotMask) -> Lineage {
        let mut state = crate::sync::lock(&self.state);
        state.since.entry(seq).or_insert_with(Instant::now);
        let open = state.open.entry(seq).or_default();
        open.holds += 1;
        open.targets = open.targets.union(targets);
        drop(state);
        Lineage::of(Arc::new(Hold {
            seq,
            targets,
            ledger: self.clone(),
        }))
    }

    /// The claim of exporter `slot` on the records of `lineage` meant for it, or `None` when
    /// none is (a replayed record it had already finished): then it must not be sent there.
    pub fn claim(self: &Arc<Self>, slot: Slot, lineage: &Lineage) -> Option<Claim> {
        let mut seqs = Vec::new();
        let mut state = crate::sync::lock(&self.state);
        for token in lineage.tokens() {
            let Some(hold) = token.as_ref().downcast_ref::<Hold>() else {
                continue;
            };
            if hold.targets.contains(slot)
                && let Some(open) = state.open.get_mut(&hold.seq)
            {
                *open.claims_of(slot) += 1;
                seqs.push(hold.seq);
            }
        }
        (!seqs.is_empty()).then(|| Claim {
            slot,
            seqs,
            ledger: self.clone(),
            resolved: false,
        })
    }

    /// The pass through the pipeline that `lineage` holds did not happen (the pipeline
    /// refused it while stopping): its records stay unfinished for the exporters it was
    /// meant for, instead of finishing with no claim once the holds are dropped.
    pub fn give_up(&self, lineage: &Lineage) {
        let mut state = crate::sync::lock(&self.state);
        for token in lineage.tokens() {
            let Some(hold) = token.as_ref().downcast_ref::<Hold>() else {
                continue;
            };
            if let Some(open) = state.open.get_mut(&hold.seq) {
                open.abandoned = open.abandoned.union(hold.targets);
            }
            for slot in hold.targets.slots() {
                state.consumers.defer(slot, hold.seq);
            }
        }
    }

    /// The slot of exporter `name`, adding it (starting at the log's end) if it is new.
    pub fn consumer(&self, name: &str) -> Result<Slot, LogError> {
        let (first, end) = (self.log.first_seq(), self.log.next_seq());
        crate::sync::lock(&self.state)
            .consumers
            .add(&self.dir, name, first, end)
            .map_err(|e| LogError::io("starting the progress in", &self.dir, e))
    }

    /// Up to `max` of the oldest records exporter `name` dropped unsent in this run, read back
    /// from the log, each with a hold meant for that exporter alone: to send through the
    /// pipeline again now that it has recovered.
    pub fn redrive(
        self: &Arc<Self>,
        name: &str,
        max: usize,
    ) -> Result<Vec<(Bytes, Lineage)>, LogError> {
        let Some((slot, seqs)) = crate::sync::lock(&self.state)
            .consumers
            .take_deferred(name, max)
        else {
            return Ok(Vec::new());
        };
        let records = self.log.read(&seqs)?;
        let only = SlotMask::default().with(slot);
        Ok(records
            .into_iter()
            .map(|(seq, payload)| (payload, self.hold(seq, only)))
            .collect())
    }

    /// Forgets exporter `name` (removed from the config): its progress no longer holds
    /// records on disk.
    pub fn remove_consumer(&self, name: &str) {
        crate::sync::lock(&self.state)
            .consumers
            .remove(&self.dir, name);
    }

    /// Saves every exporter's progress and deletes the segments all of them are past.
    /// Returns, per exporter, how long its oldest unfinished record has waited. The files
    /// are written outside the ledger's lock: holds and claims do not wait for the syncs.
    pub fn checkpoint(&self) -> Result<Vec<(String, std::time::Duration)>, LogError> {
        let (unsaved, oldest, ages) = {
            let mut state = crate::sync::lock(&self.state);
            let oldest = state.consumers.oldest_needed().unwrap_or(u64::MAX);
            let kept = state.since.split_off(&oldest);
            state.since = kept;
            let now = Instant::now();
            let ages: Vec<(String, std::time::Duration)> = state
                .consumers
                .positions()
                .map(|(name, next)| {
                    let age = state
                        .since
                        .range(next..)
                        .next()
                        .map_or(std::time::Duration::ZERO, |(_, at)| now - *at);
                    (name.to_owned(), age)
                })
                .collect();
            (state.consumers.unsaved(), oldest, ages)
        };
        for (name, path, at) in unsaved {
            write_position(&path, at).map_err(|e| LogError::io("saving", &path, e))?;
            crate::sync::lock(&self.state).consumers.saved(&name, at);
        }
        self.log.release_before(oldest)?;
        Ok(ages)
    }

    /// Appends `lines` (a batch exporter `exporter` gave up on, as OTLP JSON lines) to its
    /// dead-letter file, `dead-letter/{exporter}.jsonl` in the log's directory, durably.
    /// Returns the file.
    pub fn dead_letter(&self, exporter: &str, lines: &[u8]) -> std::io::Result<PathBuf> {
        use std::io::Write;
        let dir = self.dir.join("dead-letter");
        let path = dir.join(format!("{}.jsonl", super::progress::file_stem(exporter)));
        let _one_writer = crate::sync::lock(&self.dead_letters);
        std::fs::create_dir_all(&dir)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        file.write_all(lines)?;
        file.sync_data()?;
        Ok(path)
    }

    /// A hold is gone: the record may be finished for the exporters that hold no claim.
    fn let_go(&self, seq: u64) {
        let mut state = crate::sync::lock(&self.state);
        if let Some(open) = state.open.get_mut(&seq) {
            open.holds -= 1;
        }
        settle(&mut state, seq);
    }

    /// Claims of `slot` on `seqs` resolved (`sent`) or dropped.
    fn resolve(&self, slot: Slot, seqs: &[u64], sent: bool) {
        let mut state = crate::sync::lock(&self.state);
        for &seq in seqs {
            if let Some(open) = state.open.get_mut(&seq) {
                *open.claims_of(slot) -= 1;
                if !sent {
                    open.abandoned = open.abandoned.with(slot);
                }
            }
            if !sent {
                state.consumers.defer(slot, seq);
            }
            settle(&mut state, seq);
        }
    }
}

/// Finishes record `seq` for every exporter it no longer waits on, and forgets it once
/// nothing in the pipeline refers to it.
fn settle(state: &mut State, seq: u64) {
    let Some(open) = state.open.get_mut(&seq) else {
        return;
    };
    if open.holds > 0 {
        return;
    }
    for slot in open.targets.slots() {
        if open.abandoned.contains(slot) {
            continue;
        }
        if open.claims.iter().all(|(s, n)| *s != slot || *n == 0) {
            state.consumers.finish(slot, seq);
            open.targets = open.targets.without(slot);
        }
    }
    if open.claims.iter().all(|(_, n)| *n == 0) {
        state.open.remove(&seq);
    }
}

/// A record's data on one pass through the pipeline, before the exporters claim it.
pub struct Hold {
    seq: u64,
    targets: SlotMask,
    ledger: Arc<Ledger>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.ledger.let_go(self.seq);
    }
}

/// An exporter's claim on the records a batch it was handed came from.
pub struct Claim {
    slot: Slot,
    seqs: Vec<u64>,
    ledger: Arc<Ledger>,
    resolved: bool,
}

impl Claim {
    /// The batch was sent (or written to the dead-letter file): these records are done for
    /// this exporter, as far as this batch goes.
    pub fn resolve(mut self) {
        self.resolved = true;
        self.ledger.resolve(self.slot, &self.seqs, true);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.resolved {
            self.ledger.resolve(self.slot, &self.seqs, false);
        }
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
