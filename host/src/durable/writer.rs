//! The log's writer thread: group commit, segment rotation, and the answer to each append.

use std::sync::atomic::Ordering;
use std::sync::{Arc, mpsc};
use std::time::Instant;

use super::log::{Commit, Job, LogError, LogOptions, SYNC_BUCKETS, Sealed, Shared};
use super::record::encode;
use super::segment::ActiveSegment;

/// The writer thread's state.
pub(super) struct Writer {
    options: LogOptions,
    shared: Arc<Shared>,
    active: ActiveSegment,
    next_seq: u64,
    buffer: Vec<u8>,
}

impl Writer {
    pub(super) fn new(
        options: LogOptions,
        shared: Arc<Shared>,
        active: ActiveSegment,
        next_seq: u64,
    ) -> Self {
        Writer {
            options,
            shared,
            active,
            next_seq,
            buffer: Vec::new(),
        }
    }

    pub(super) fn run(mut self, jobs: mpsc::Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut batch = vec![first];
            if let Commit::Every(interval) = self.options.commit {
                let deadline = Instant::now() + interval;
                while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                    match jobs.recv_timeout(left) {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
            }
            batch.extend(jobs.try_iter());
            let outcome = self.write(&batch);
            let size: u64 = batch.iter().map(|job| job.size).sum();
            {
                let mut state = crate::sync::lock(&self.shared.state);
                state.reserved -= size;
                if let Err(error) = &outcome {
                    state.failed.get_or_insert(error.clone());
                }
            }
            for (job, answer) in batch.into_iter().zip(seqs(&outcome)) {
                let _ = job.done.send(answer);
            }
        }
    }

    /// Writes `batch` and makes it durable; returns the first record's sequence number.
    fn write(&mut self, batch: &[Job]) -> Result<u64, LogError> {
        let first = self.next_seq;
        self.buffer.clear();
        for job in batch {
            let size = job.size;
            let written = self.active.len + self.buffer.len() as u64;
            if written > 0 && written + size > self.options.segment_bytes {
                self.flush()?;
                self.rotate()?;
            }
            encode(self.next_seq, &job.payload, &mut self.buffer);
            self.next_seq += 1;
        }
        self.flush()?;
        let started = Instant::now();
        let path = self.active.path.clone();
        self.active
            .sync()
            .map_err(|e| LogError::io("syncing", &path, e))?;
        let took = started.elapsed();
        let stats = &self.shared.stats;
        stats.syncs.fetch_add(1, Ordering::Relaxed);
        stats
            .sync_nanos
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let bucket = SYNC_BUCKETS
            .iter()
            .position(|bound| took.as_secs_f64() <= *bound)
            .unwrap_or(SYNC_BUCKETS.len() - 1);
        stats.sync_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        stats.next_seq.store(self.next_seq, Ordering::Relaxed);
        stats
            .records
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(first)
    }

    /// Writes what is buffered to the active segment.
    fn flush(&mut self) -> Result<(), LogError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let path = self.active.path.clone();
        self.active
            .write(&self.buffer)
            .map_err(|e| LogError::io("writing", &path, e))?;
        crate::sync::lock(&self.shared.state).disk_bytes += self.buffer.len() as u64;
        self.buffer.clear();
        Ok(())
    }

    /// Seals the active segment (durable first) and starts the next one.
    fn rotate(&mut self) -> Result<(), LogError> {
        let path = self.active.path.clone();
        self.active
            .sync()
            .map_err(|e| LogError::io("syncing", &path, e))?;
        let next = ActiveSegment::create(&self.options.dir, self.next_seq)
            .map_err(|e| LogError::io("creating a segment in", &self.options.dir, e))?;
        let sealed = std::mem::replace(&mut self.active, next);
        let mut state = crate::sync::lock(&self.shared.state);
        state.sealed.push_back(Sealed {
            first_seq: sealed.first_seq,
            path: sealed.path,
            bytes: sealed.len,
        });
        state.active_first = self.next_seq;
        Ok(())
    }
}

/// Each job's answer: consecutive sequence numbers from the first, or the batch's error.
fn seqs(outcome: &Result<u64, LogError>) -> impl Iterator<Item = Result<u64, LogError>> + '_ {
    (0u64..).map(move |i| outcome.clone().map(|first| first + i))
}
