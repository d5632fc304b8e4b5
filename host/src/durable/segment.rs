//! Segment files: the log is a directory of `{first sequence number:020}.wal` files, each
//! records back to back. Only the newest is written; older ones are sealed and deleted whole
//! once every consumer is past them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::record::{Read, read, skip_corrupt};

/// The file name of the segment whose first record is `first_seq`.
pub fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

/// The first sequence number of a segment file named `name`, if it is one.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Why a scan stopped before the end of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The last record was not written whole (a crash in the middle of a write).
    Torn,
    /// A record is damaged and the records after it cannot be found.
    Corrupt,
}

/// A segment read from disk: its intact records, and where and why reading stopped.
#[derive(Debug)]
pub struct Scanned {
    /// The sequence number its name gives its first record.
    pub first_seq: u64,
    /// Its file.
    pub path: PathBuf,
    /// The file's bytes.
    pub bytes: Bytes,
    /// Each intact record's sequence number and payload.
    pub records: Vec<(u64, Range<usize>)>,
    /// Where the last record read ends: what a reopened log keeps of the newest segment.
    pub valid_len: usize,
    /// Records skipped because they were damaged (their neighbours were intact).
    pub corrupt: u64,
    /// Why reading stopped early, if it did.
    pub cut: Option<Cut>,
    /// The sequence number after the last record read (intact or skipped).
    pub next_seq: u64,
}

/// Reads the segment at `path`, whose name says its first record is `first_seq`.
pub fn scan(path: &Path, first_seq: u64, max_payload: usize) -> io::Result<Scanned> {
    let bytes = Bytes::from(std::fs::read(path)?);
    let mut scanned = Scanned {
        first_seq,
        path: path.to_owned(),
        bytes: bytes.clone(),
        records: Vec::new(),
        valid_len: 0,
        corrupt: 0,
        cut: None,
        next_seq: first_seq,
    };
    let (mut at, mut expect) = (0usize, first_seq);
    loop {
        match read(&bytes, at, max_payload) {
            Read::End => break,
            Read::Record { seq, payload } if seq == expect => {
                at = payload.end;
                scanned.records.push((seq, payload));
                expect += 1;
            }
            // A record out of sequence is stale bytes, not part of this log.
            Read::Record { .. } | Read::Corrupt => {
                match skip_corrupt(&bytes, at, expect + 1, max_payload) {
                    Some(next) => {
                        scanned.corrupt += 1;
                        expect += 1;
                        at = next;
                    }
                    None => {
                        scanned.cut = Some(Cut::Corrupt);
                        break;
                    }
                }
            }
            Read::Torn => {
                scanned.cut = Some(Cut::Torn);
                break;
            }
        }
        scanned.valid_len = at;
        scanned.next_seq = expect;
    }
    Ok(scanned)
}

/// The segment being written.
#[derive(Debug)]
pub struct ActiveSegment {
    file: File,
    /// The sequence number of its first record.
    pub first_seq: u64,
    /// Its file.
    pub path: PathBuf,
    /// Bytes written to it.
    pub len: u64,
}

impl ActiveSegment {
    /// Creates the segment for `first_seq` in `dir` and makes its directory entry durable.
    pub fn create(dir: &Path, first_seq: u64) -> io::Result<Self> {
        let path = dir.join(file_name(first_seq));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        sync_dir(dir)?;
        Ok(ActiveSegment {
            file,
            first_seq,
            path,
            len: 0,
        })
    }

    /// Reopens the newest segment found at start to append after its `valid_len` bytes (what
    /// follows them, a torn or damaged tail, is cut off first and the cut made durable).
    pub fn reopen(scanned: &Scanned) -> io::Result<Self> {
        let file = OpenOptions::new().append(true).open(&scanned.path)?;
        let len = scanned.valid_len as u64;
        if scanned.bytes.len() as u64 != len {
            file.set_len(len)?;
            file.sync_all()?;
        }
        Ok(ActiveSegment {
            file,
            first_seq: scanned.first_seq,
            path: scanned.path.clone(),
            len,
        })
    }

    /// Appends `bytes` (whole records).
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Makes what was written durable.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// Makes the entries of `dir` (a created, renamed or removed file) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::record::encode;

    #[test]
    fn names_sort_by_sequence_and_parse_back() {
        assert_eq!(file_name(42), "00000000000000000042.wal");
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name("42.wal"), None);
        assert_eq!(parse_name("00000000000000000042.tmp"), None);
        assert!(file_name(9) < file_name(10));
    }

    #[test]
    fn a_scan_keeps_intact_records_and_says_why_it_stopped() {
        let dir = std::env::temp_dir().join(format!("weft-segment-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut buf = Vec::new();
        for seq in 5..10 {
            encode(seq, format!("request {seq}").as_bytes(), &mut buf);
        }
        let whole = buf.len();
        // The third record's payload damaged, and the last record cut short.
        buf[super::super::record::HEADER * 3 + 9 * 2 + 3] ^= 1;
        let path = dir.join(file_name(5));
        std::fs::write(&path, &buf[..whole - 4]).unwrap();
        let scanned = scan(&path, 5, 1 << 20).unwrap();
        let seqs: Vec<u64> = scanned.records.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [5, 6, 8]);
        assert_eq!(scanned.corrupt, 1, "record 7 skipped");
        assert_eq!(scanned.cut, Some(Cut::Torn), "record 9 cut short");
        assert_eq!(scanned.next_seq, 9);
        let mut active = ActiveSegment::reopen(&scanned).unwrap();
        assert_eq!(active.len as usize, scanned.valid_len);
        active.sync().unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len() as usize,
            scanned.valid_len
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
