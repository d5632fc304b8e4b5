//! Tests of `ledger.rs`: when a record is finished, for whom, and what comes back after a
//! restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::durable::log::Commit;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-ledger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn options(dir: &Path) -> LogOptions {
    LogOptions {
        dir: dir.to_owned(),
        segment_bytes: 200,
        max_disk_bytes: 1 << 20,
        max_record_bytes: 4096,
        commit: Commit::Always,
    }
}

fn exporters() -> Vec<String> {
    vec!["primary".into(), "backup".into()]
}

fn open(dir: &Path) -> (Arc<Ledger>, Vec<Replay>) {
    let (ledger, replay, _) = Ledger::open(options(dir), &exporters()).unwrap();
    (ledger, replay)
}

fn append(ledger: &Arc<Ledger>, n: u64) -> Lineage {
    let payload = Bytes::from(format!("request {n:03} with some span bytes in it"));
    ledger.log().append_blocking(payload.clone()).unwrap();
    let targets = crate::sync::lock(&ledger.state).consumers.live();
    ledger.hold(ledger.log().next_seq() - 1, targets)
}

fn replayed(replay: &[Replay]) -> Vec<(u64, Vec<Slot>)> {
    replay
        .iter()
        .map(|r| (r.seq, r.targets.slots().collect()))
        .collect()
}

#[test]
fn a_record_is_finished_for_each_exporter_once_that_exporter_sent_it() {
    let dir = scratch("finish");
    let (ledger, _) = open(&dir);
    let lineage = append(&ledger, 0);
    let primary = ledger.claim(0, &lineage).unwrap();
    let backup = ledger.claim(1, &lineage).unwrap();
    drop(lineage);
    primary.resolve();
    ledger.checkpoint().unwrap();
    drop(backup); // the backup exporter stopped before sending
    ledger.checkpoint().unwrap();
    drop(ledger);
    let (_, replay) = open(&dir);
    assert_eq!(
        replayed(&replay),
        [(0, vec![1])],
        "only the backup needs it"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_record_held_in_the_pipeline_is_not_finished() {
    let dir = scratch("held");
    let (ledger, _) = open(&dir);
    let dropped_by_the_chain = append(&ledger, 0);
    let waiting_in_tail = append(&ledger, 1);
    drop(dropped_by_the_chain);
    ledger.checkpoint().unwrap();
    drop(ledger);
    let (_, replay) = open(&dir);
    assert_eq!(replayed(&replay), [(1, vec![0, 1])]);
    drop(waiting_in_tail);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn claims_on_several_records_and_several_batches_of_one_record() {
    let dir = scratch("claims");
    let (ledger, _) = open(&dir);
    let mut joined = append(&ledger, 0);
    let other = append(&ledger, 1);
    joined.merge(&other);
    // Record 1 split in two batches for the primary (two traces decided apart).
    let first = ledger.claim(0, &joined).unwrap();
    let second = ledger.claim(0, &other).unwrap();
    assert!(ledger.claim(1, &Lineage::default()).is_none());
    drop((joined, other));
    first.resolve();
    let positions = |ledger: &Ledger| {
        let state = crate::sync::lock(&ledger.state);
        state
            .consumers
            .positions()
            .map(|(n, p)| (n.to_owned(), p))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        positions(&ledger),
        [("primary".into(), 1), ("backup".into(), 2)],
        "record 1 waits for its second batch; the backup claimed nothing"
    );
    second.resolve();
    assert_eq!(positions(&ledger)[0], ("primary".into(), 2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn segments_go_once_every_exporter_is_past_them_and_new_exporters_start_at_the_end() {
    let dir = scratch("release");
    let (ledger, _) = open(&dir);
    let mut unsent = Vec::new();
    for n in 0..20 {
        let lineage = append(&ledger, n);
        let primary = ledger.claim(0, &lineage).unwrap();
        unsent.push(ledger.claim(1, &lineage).unwrap());
        drop(lineage);
        primary.resolve();
    }
    let before = ledger.log().disk_bytes();
    ledger.checkpoint().unwrap();
    assert_eq!(ledger.log().disk_bytes(), before, "the backup holds them");
    ledger.remove_consumer("backup");
    ledger.checkpoint().unwrap();
    assert!(ledger.log().disk_bytes() < before / 2);
    drop(unsent);
    ledger.consumer("audit").unwrap();
    drop(ledger);
    let (ledger, replay, _) =
        Ledger::open(options(&dir), &["primary".into(), "audit".into()]).unwrap();
    assert!(replay.is_empty(), "{:?}", replayed(&replay));
    assert!(!dir.join("backup.progress").exists());
    let state = crate::sync::lock(&ledger.state);
    let audit = state.consumers.positions().find(|(n, _)| *n == "audit");
    assert_eq!(
        audit,
        Some(("audit", 20)),
        "a new exporter starts at the end"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dead_letters_append_to_one_file_per_exporter_beside_the_log() {
    let dir = scratch("dead-letter");
    let (ledger, _) = open(&dir);
    let first = ledger.dead_letter("primary", b"{\"one\":1}\n").unwrap();
    let again = ledger.dead_letter("primary", b"{\"two\":2}\n").unwrap();
    let other = ledger.dead_letter("a/b", b"{}\n").unwrap();
    assert_eq!(first, again);
    assert_eq!(first, dir.join("dead-letter").join("primary.jsonl"));
    assert_eq!(other, dir.join("dead-letter").join("x612f62.jsonl"));
    let text = std::fs::read_to_string(&first).unwrap();
    assert_eq!(text, "{\"one\":1}\n{\"two\":2}\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_record_whose_client_went_away_during_the_append_is_still_finished() {
    let dir = scratch("cancelled");
    let (ledger, _) = open(&dir);
    let payload = Bytes::from_static(b"a request whose client hung up");
    // Polled once (the append starts), then dropped, as a cancelled request handler is.
    tokio::select! {
        biased;
        _ = ledger.append(payload) => panic!("the append cannot be done at its first poll"),
        () = std::future::ready(()) => {}
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let positions: Vec<u64> = {
            let state = crate::sync::lock(&ledger.state);
            state.consumers.positions().map(|(_, p)| p).collect()
        };
        if positions == [1, 1] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "record 0 was never finished: {positions:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
