//! How far one consumer (an exporter) has got through the log: every record before
//! `next_needed` is finished for it. Records finish out of order (exports run concurrently);
//! the ones finished past the first unfinished one wait in memory until the gap closes.
//!
//! The position is kept in `{consumer}.progress`, replaced atomically: written to a temporary
//! file, made durable, renamed over the old one, and the rename made durable. A crash loses at
//! most the progress since the last save, and what it loses is sent again (at least once).

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::segment::sync_dir;

const MAGIC: &[u8; 8] = b"weftprg1";

/// One consumer's position in the log.
#[derive(Debug)]
pub struct Progress {
    path: PathBuf,
    /// Every record before this one is finished.
    next_needed: u64,
    /// Records finished past `next_needed`.
    finished_above: BTreeSet<u64>,
    /// The position last saved.
    saved: u64,
}

/// The file name of `consumer`'s progress.
pub fn file_name(consumer: &str) -> String {
    format!("{}.progress", file_stem(consumer))
}

/// What names `consumer`'s files: its name where it is a plain word, hex otherwise.
pub fn file_stem(consumer: &str) -> String {
    let plain = !consumer.is_empty()
        && consumer
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        consumer.to_owned()
    } else {
        format!("x{}", crate::codec::hex(consumer.as_bytes()))
    }
}

impl Progress {
    /// The progress of `consumer` saved in `dir`, or a start at `first` (the oldest record
    /// the log holds) if none was saved or the saved file is unreadable.
    pub fn load(dir: &Path, consumer: &str, first: u64) -> Progress {
        let path = dir.join(file_name(consumer));
        let saved = std::fs::read(&path)
            .ok()
            .and_then(|bytes| decode(&bytes))
            .unwrap_or(first)
            .max(first);
        Progress {
            path,
            next_needed: saved,
            finished_above: BTreeSet::new(),
            saved,
        }
    }

    /// A new consumer's progress, starting at record `at`, saved at once: from now on a
    /// crash cannot make it start anywhere else.
    pub fn start(dir: &Path, consumer: &str, at: u64) -> io::Result<Progress> {
        let mut progress = Progress {
            path: dir.join(file_name(consumer)),
            next_needed: at,
            finished_above: BTreeSet::new(),
            saved: u64::MAX,
        };
        progress.save()?;
        Ok(progress)
    }

    /// The first record not yet finished.
    pub fn next_needed(&self) -> u64 {
        self.next_needed
    }

    /// Whether record `seq` is finished.
    pub fn is_finished(&self, seq: u64) -> bool {
        seq < self.next_needed || self.finished_above.contains(&seq)
    }

    /// Marks record `seq` finished.
    pub fn finish(&mut self, seq: u64) {
        if seq < self.next_needed {
            return;
        }
        self.finished_above.insert(seq);
        while self.finished_above.remove(&self.next_needed) {
            self.next_needed += 1;
        }
    }

    /// Saves the position if it moved since the last save.
    pub fn save(&mut self) -> io::Result<()> {
        if let Some((path, at)) = self.unsaved() {
            write_position(&path, at)?;
            self.saved_at(at);
        }
        Ok(())
    }

    /// The file and the position to write there, if the position moved since the last save
    /// (for a caller that writes it with [`write_position`] outside its lock).
    pub fn unsaved(&self) -> Option<(PathBuf, u64)> {
        (self.saved != self.next_needed).then(|| (self.path.clone(), self.next_needed))
    }

    /// Notes that position `at` was written.
    pub fn saved_at(&mut self, at: u64) {
        self.saved = at;
    }
}

/// Replaces the progress file at `path` with position `at`: a temporary file written and
/// synced, renamed over the old one, and the rename synced.
pub fn write_position(path: &Path, at: u64) -> io::Result<()> {
    let dir = path
        .parent()
        .expect("a progress file is in the log directory");
    let temporary = path.with_extension("progress.tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&encode(at))?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    sync_dir(dir)
}

fn encode(next_needed: u64) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&next_needed.to_le_bytes());
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<u64> {
    let (body, crc) = bytes.split_at_checked(16)?;
    if !body.starts_with(MAGIC) || crc.len() != 4 {
        return None;
    }
    (crc32c::crc32c(body).to_le_bytes() == crc)
        .then(|| u64::from_le_bytes(body[8..16].try_into().expect("eight bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_finishes_move_the_position_once_the_gap_closes() {
        let dir = std::env::temp_dir().join(format!("weft-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut progress = Progress::load(&dir, "otlp", 10);
        assert_eq!(progress.next_needed(), 10);
        progress.finish(12);
        progress.finish(11);
        assert_eq!(progress.next_needed(), 10);
        assert!(progress.is_finished(12) && !progress.is_finished(10));
        progress.finish(10);
        assert_eq!(progress.next_needed(), 13);
        progress.save().unwrap();
        assert_eq!(Progress::load(&dir, "otlp", 0).next_needed(), 13);
        // Segments deleted past the saved position: start at the oldest record kept.
        assert_eq!(Progress::load(&dir, "otlp", 20).next_needed(), 20);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_progress_file_reads_as_no_progress() {
        let dir = std::env::temp_dir().join(format!("weft-progress-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = encode(99);
        bytes[9] ^= 1;
        std::fs::write(dir.join(file_name("otlp")), bytes).unwrap();
        assert_eq!(Progress::load(&dir, "otlp", 3).next_needed(), 3);
        assert_eq!(file_name("a/b"), "x612f62.progress");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
