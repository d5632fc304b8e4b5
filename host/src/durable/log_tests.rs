//! Tests of `log.rs`.

use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::durable::segment::file_name;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-log-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(dir: &Path) -> LogOptions {
    LogOptions {
        dir: dir.to_owned(),
        segment_bytes: 256,
        max_disk_bytes: 1 << 20,
        max_record_bytes: 4096,
        commit: Commit::Always,
    }
}

fn payload(n: u64) -> Bytes {
    Bytes::from(format!("request number {n:04}, some bytes of spans"))
}

fn replayed(recovered: &Recovered) -> Vec<(u64, Bytes)> {
    recovered.records().collect()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

#[test]
fn records_survive_a_reopen_across_segments_and_numbering_goes_on() {
    let dir = scratch("reopen");
    let (log, recovered) = Log::open(options(&dir)).unwrap();
    assert_eq!(recovered.records().count(), 0);
    for n in 0..20 {
        assert_eq!(log.append_blocking(payload(n)).unwrap(), n);
    }
    drop(log);
    assert!(segments(&dir).len() > 3, "256-byte segments rotate");
    let (log, recovered) = Log::open(options(&dir)).unwrap();
    let expected: Vec<(u64, Bytes)> = (0..20).map(|n| (n, payload(n))).collect();
    assert_eq!(replayed(&recovered), expected);
    assert_eq!((recovered.torn_bytes, recovered.corrupt_records), (0, 0));
    assert_eq!(log.append_blocking(payload(20)).unwrap(), 20);
    // Read back by number, from sealed segments and the one being written.
    let read = log.read(&[3, 4, 17, 20, 21]).unwrap();
    let expected: Vec<(u64, Bytes)> = [3, 4, 17, 20].map(|n| (n, payload(n))).to_vec();
    assert_eq!(read, expected, "21 is not written yet");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_torn_last_record_is_cut_off_and_its_number_reused() {
    let dir = scratch("torn");
    let (log, _) = Log::open(options(&dir)).unwrap();
    for n in 0..3 {
        log.append_blocking(payload(n)).unwrap();
    }
    drop(log);
    // A crash in the middle of writing record 3: half of it reached the file.
    let last = segments(&dir).pop().unwrap();
    let mut half = Vec::new();
    super::super::record::encode(3, &payload(3), &mut half);
    half.truncate(half.len() / 2);
    let mut bytes = std::fs::read(&last).unwrap();
    let intact = bytes.len();
    bytes.extend_from_slice(&half);
    std::fs::write(&last, &bytes).unwrap();

    let (log, recovered) = Log::open(options(&dir)).unwrap();
    assert_eq!(recovered.torn_bytes, half.len() as u64);
    assert_eq!(recovered.records().count(), 3);
    assert_eq!(std::fs::metadata(&last).unwrap().len() as usize, intact);
    assert_eq!(log.append_blocking(payload(3)).unwrap(), 3);
    drop(log);
    let (_, recovered) = Log::open(options(&dir)).unwrap();
    assert_eq!(recovered.records().last(), Some((3, payload(3))));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_record_in_a_sealed_segment_is_skipped_and_counted() {
    let dir = scratch("corrupt");
    let (log, _) = Log::open(options(&dir)).unwrap();
    for n in 0..12 {
        log.append_blocking(payload(n)).unwrap();
    }
    drop(log);
    let first = dir.join(file_name(0));
    let mut bytes = std::fs::read(&first).unwrap();
    // The second record's payload: one flipped bit.
    let second = super::super::record::encoded_len(payload(0).len()) + 20;
    bytes[second] ^= 0x10;
    std::fs::write(&first, &bytes).unwrap();
    let (_, recovered) = Log::open(options(&dir)).unwrap();
    assert_eq!(recovered.corrupt_records, 1);
    let seqs: Vec<u64> = recovered.records().map(|(seq, _)| seq).collect();
    assert_eq!(seqs, (0..12).filter(|n| *n != 1).collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn past_the_disk_cap_appends_are_refused_until_segments_are_released() {
    let dir = scratch("cap");
    let (log, _) = Log::open(LogOptions {
        max_disk_bytes: 1024,
        ..options(&dir)
    })
    .unwrap();
    let mut accepted = 0;
    let refusal = loop {
        match log.append_blocking(payload(accepted)) {
            Ok(_) => accepted += 1,
            Err(error) => break error,
        }
    };
    assert!(
        matches!(refusal, LogError::Full { cap: 1024, .. }),
        "{refusal}"
    );
    assert!(log.disk_bytes() <= 1024);
    let freed = log.release_before(accepted).unwrap();
    assert!(freed > 0, "sealed segments of finished records are deleted");
    assert!(log.first_seq() > 0);
    assert!(log.append_blocking(payload(accepted)).is_ok());
    assert!(matches!(
        log.append_blocking(Bytes::from(vec![0; 5000])),
        Err(LogError::TooLarge {
            size: 5000,
            max: 4096
        })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_syncs() {
    let dir = scratch("group");
    let (log, _) = Log::open(LogOptions {
        segment_bytes: 1 << 20,
        commit: Commit::Every(Duration::from_millis(20)),
        ..options(&dir)
    })
    .unwrap();
    let log = std::sync::Arc::new(log);
    let appends: Vec<_> = (0..64)
        .map(|n| {
            let log = log.clone();
            tokio::spawn(async move { log.append(payload(n)).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for append in appends {
        seqs.push(append.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..64).collect::<Vec<_>>());
    let syncs = log.stats().syncs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(syncs < 64, "{syncs} syncs for 64 appends");
    std::fs::remove_dir_all(&dir).unwrap();
}
