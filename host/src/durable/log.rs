//! The log: records appended by one writer thread, each acknowledged once it is durable;
//! read back at start; deleted a segment at a time once every consumer is past it.
//!
//! Group commit: the writer takes every record queued while it was busy (and, with
//! [`Commit::Every`], what arrives within that interval), writes them with one `write`, makes
//! them durable with one `fdatasync`, and only then answers each append. A failed write or
//! sync fails the log: every later append is refused (an fsync error cannot be retried
//! safely), and the receivers answer with retryable errors.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::record::encoded_len;
use super::segment::{ActiveSegment, Cut, Scanned, parse_name, scan, sync_dir};
use super::writer::Writer;

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// As soon as the writer gets to them: every record waits for the `fdatasync` that covers
    /// it, shared with the records queued alongside.
    Always,
    /// The writer gathers records for up to this long before each `fdatasync`: fewer syncs,
    /// longer waits for acknowledgement.
    Every(Duration),
}

/// How a log is laid out and bounded.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Its directory.
    pub dir: PathBuf,
    /// A segment is closed, and a new one started, past this many bytes.
    pub segment_bytes: u64,
    /// Appends are refused past this many bytes on disk.
    pub max_disk_bytes: u64,
    /// The largest payload a record may hold.
    pub max_record_bytes: usize,
    /// When records are made durable.
    pub commit: Commit,
}

/// Why an append or the log failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// The disk cap is reached until consumers catch up.
    #[error("the persistent queue is full: {used} bytes on disk, the cap is {cap}")]
    Full {
        /// Bytes on disk and in flight.
        used: u64,
        /// The cap.
        cap: u64,
    },
    /// One record larger than the log takes.
    #[error("a request of {size} bytes is larger than the persistent queue's records ({max})")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The largest record.
        max: usize,
    },
    /// Reading or writing the log's files failed.
    #[error("{action} {path}: {message}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: String,
        /// The operating system's error.
        message: String,
    },
    /// The log was closed.
    #[error("the persistent queue is closed")]
    Closed,
}

impl LogError {
    pub(super) fn io(action: &'static str, path: &Path, error: std::io::Error) -> Self {
        LogError::Io {
            action,
            path: path.display().to_string(),
            message: error.to_string(),
        }
    }
}

/// What the log found at start.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every segment read, oldest first.
    pub segments: Vec<Scanned>,
    /// Bytes cut off the end of the newest segment (a write a crash interrupted).
    pub torn_bytes: u64,
    /// Damaged records skipped.
    pub corrupt_records: u64,
    /// Records lost after damage that could not be skipped (sequence numbers missing between
    /// a segment's last readable record and the next segment).
    pub lost_records: u64,
}

impl Recovered {
    /// Every intact record, oldest first, as its sequence number and payload.
    pub fn records(&self) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        self.segments.iter().flat_map(|segment| {
            segment
                .records
                .iter()
                .map(|(seq, payload)| (*seq, segment.bytes.slice(payload.clone())))
        })
    }
}

/// Counters of the log's work, for metrics and tests.
#[derive(Debug, Default)]
pub struct LogStats {
    /// Records made durable.
    pub records: AtomicU64,
    /// `fdatasync` calls.
    pub syncs: AtomicU64,
    /// Time spent in them, in nanoseconds.
    pub sync_nanos: AtomicU64,
    /// Syncs by duration: how many took at most each of [`SYNC_BUCKETS`] (not cumulative).
    pub sync_buckets: [AtomicU64; SYNC_BUCKETS.len()],
    /// The sequence number the next record will get.
    pub next_seq: AtomicU64,
}

/// Upper bounds of the sync latency histogram, in seconds; slower syncs count in the last.
pub const SYNC_BUCKETS: [f64; 10] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// A sealed segment: its first record and its file.
#[derive(Debug)]
pub(super) struct Sealed {
    pub(super) first_seq: u64,
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) sealed: VecDeque<Sealed>,
    /// The first record of the segment being written.
    pub(super) active_first: u64,
    /// Bytes in the log's files.
    pub(super) disk_bytes: u64,
    /// Bytes of records accepted but not yet written.
    pub(super) reserved: u64,
    /// Set once a write or sync failed: the log takes nothing more.
    pub(super) failed: Option<LogError>,
}

pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) stats: LogStats,
}

pub(super) struct Job {
    pub(super) payload: Bytes,
    pub(super) size: u64,
    pub(super) done: oneshot::Sender<Result<u64, LogError>>,
}

/// A durable log of records.
pub struct Log {
    options: LogOptions,
    shared: Arc<Shared>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Log {
    /// Opens (or creates) the log in `options.dir`: reads every segment, cuts a torn tail off
    /// the newest, and starts the writer after the last record.
    pub fn open(options: LogOptions) -> Result<(Log, Recovered), LogError> {
        let dir = &options.dir;
        std::fs::create_dir_all(dir).map_err(|e| LogError::io("creating", dir, e))?;
        let mut firsts: Vec<u64> = std::fs::read_dir(dir)
            .map_err(|e| LogError::io("reading", dir, e))?
            .filter_map(|entry| parse_name(entry.ok()?.file_name().to_str()?))
            .collect();
        firsts.sort_unstable();
        let mut recovered = Recovered::default();
        for (i, first) in firsts.iter().enumerate() {
            let path = dir.join(super::segment::file_name(*first));
            let scanned = scan(&path, *first, options.max_record_bytes)
                .map_err(|e| LogError::io("reading", &path, e))?;
            recovered.corrupt_records += scanned.corrupt;
            match (scanned.cut, firsts.get(i + 1)) {
                (Some(_), Some(next)) => {
                    recovered.lost_records += next.saturating_sub(scanned.next_seq)
                }
                (Some(Cut::Torn | Cut::Corrupt), None) => {
                    recovered.torn_bytes += (scanned.bytes.len() - scanned.valid_len) as u64
                }
                (None, _) => {}
            }
            recovered.segments.push(scanned);
        }
        let active = match recovered.segments.last() {
            Some(last) => ActiveSegment::reopen(last),
            None => ActiveSegment::create(dir, 0),
        }
        .map_err(|e| LogError::io("opening", dir, e))?;
        let next_seq = recovered.segments.last().map_or(0, |s| s.next_seq);
        let sealed: VecDeque<Sealed> = recovered
            .segments
            .iter()
            .take(recovered.segments.len().saturating_sub(1))
            .map(|s| Sealed {
                first_seq: s.first_seq,
                path: s.path.clone(),
                bytes: s.bytes.len() as u64,
            })
            .collect();
        let disk_bytes = sealed.iter().map(|s| s.bytes).sum::<u64>() + active.len;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                sealed,
                active_first: active.first_seq,
                disk_bytes,
                reserved: 0,
                failed: None,
            }),
            stats: LogStats::default(),
        });
        shared
            .stats
            .next_seq
            .store(next_seq, std::sync::atomic::Ordering::Relaxed);
        let (sender, receiver) = mpsc::channel();
        let writer = Writer::new(options.clone(), shared.clone(), active, next_seq);
        let thread = std::thread::Builder::new()
            .name("weft-log-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| LogError::io("starting the writer of", dir, e))?;
        let log = Log {
            options,
            shared,
            jobs: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(thread)),
        };
        Ok((log, recovered))
    }

    /// Appends `payload` as one record; answers its sequence number once it is durable.
    pub async fn append(&self, payload: Bytes) -> Result<u64, LogError> {
        self.submit(payload)?.await.map_err(|_| LogError::Closed)?
    }

    /// [`Log::append`] for a thread outside the async runtime.
    pub fn append_blocking(&self, payload: Bytes) -> Result<u64, LogError> {
        self.submit(payload)?
            .blocking_recv()
            .map_err(|_| LogError::Closed)?
    }

    fn submit(&self, payload: Bytes) -> Result<oneshot::Receiver<Result<u64, LogError>>, LogError> {
        let max = self.options.max_record_bytes;
        if payload.len() > max {
            return Err(LogError::TooLarge {
                size: payload.len(),
                max,
            });
        }
        let size = encoded_len(payload.len()) as u64;
        {
            let mut state = crate::sync::lock(&self.shared.state);
            if let Some(error) = &state.failed {
                return Err(error.clone());
            }
            let used = state.disk_bytes + state.reserved;
            if used + size > self.options.max_disk_bytes {
                return Err(LogError::Full {
                    used,
                    cap: self.options.max_disk_bytes,
                });
            }
            state.reserved += size;
        }
        let (done, answer) = oneshot::channel();
        let jobs = crate::sync::lock(&self.jobs);
        let sent = jobs.as_ref().map(|jobs| {
            jobs.send(Job {
                payload,
                size,
                done,
            })
        });
        if !matches!(sent, Some(Ok(()))) {
            crate::sync::lock(&self.shared.state).reserved -= size;
            return Err(LogError::Closed);
        }
        Ok(answer)
    }

    /// Deletes the sealed segments whose records all come before `seq` (every consumer has
    /// finished them). Returns how many bytes that freed.
    pub fn release_before(&self, seq: u64) -> Result<u64, LogError> {
        let mut freed = 0;
        loop {
            let deletable = {
                let state = crate::sync::lock(&self.shared.state);
                let next_first = |i: usize| {
                    state
                        .sealed
                        .get(i + 1)
                        .map_or(state.active_first, |s| s.first_seq)
                };
                (!state.sealed.is_empty() && next_first(0) <= seq)
                    .then(|| (state.sealed[0].path.clone(), state.sealed[0].bytes))
            };
            let Some((path, bytes)) = deletable else {
                break;
            };
            std::fs::remove_file(&path).map_err(|e| LogError::io("deleting", &path, e))?;
            let mut state = crate::sync::lock(&self.shared.state);
            state.sealed.pop_front();
            state.disk_bytes -= bytes;
            freed += bytes;
        }
        if freed > 0 {
            let dir = &self.options.dir;
            sync_dir(dir).map_err(|e| LogError::io("syncing", dir, e))?;
        }
        Ok(freed)
    }

    /// Bytes of the log's files on disk.
    pub fn disk_bytes(&self) -> u64 {
        crate::sync::lock(&self.shared.state).disk_bytes
    }

    /// The first record the log still holds.
    pub fn first_seq(&self) -> u64 {
        let state = crate::sync::lock(&self.shared.state);
        state
            .sealed
            .front()
            .map_or(state.active_first, |s| s.first_seq)
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.shared
            .stats
            .next_seq
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The log's counters.
    pub fn stats(&self) -> &LogStats {
        &self.shared.stats
    }

    /// Stops the writer once it has written what was appended.
    pub fn close(&self) {
        crate::sync::lock(&self.jobs).take();
        if let Some(thread) = crate::sync::lock(&self.writer).take()
            && thread.join().is_err()
        {
            tracing::error!("The persistent queue's writer panicked.");
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.close();
    }
}

#[path = "log_read.rs"]
mod read;

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
