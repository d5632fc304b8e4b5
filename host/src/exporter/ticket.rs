//! What an exporter's queue entry owes the persistent queue: its claim on the records the
//! batch came from — whole, or shared by the parts a load-balancing exporter split the batch
//! into, each sent by another backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::durable::Claim;

/// A queue entry's obligation: resolve it once the batch is sent (or dead-lettered); dropped
/// unresolved, the records stay unfinished for this exporter.
pub enum Ticket {
    /// The exporter's own claim.
    Claim(Claim),
    /// One part of a split batch.
    Part(Part),
}

impl Ticket {
    /// The batch (or this part of it) was sent.
    pub fn resolve(self) {
        match self {
            Ticket::Claim(claim) => claim.resolve(),
            Ticket::Part(mut part) => part.sent = true,
        }
    }

    /// Splits this ticket into `parts` parts: the whole resolves once every part has, and
    /// stays unresolved if any part was dropped unresolved.
    pub fn split(self, parts: usize) -> Vec<Ticket> {
        let shared = Arc::new(Shared {
            whole: Mutex::new(Some(self)),
            lost: AtomicBool::new(false),
        });
        (0..parts)
            .map(|_| {
                Ticket::Part(Part {
                    shared: shared.clone(),
                    sent: false,
                })
            })
            .collect()
    }
}

/// One part of a split ticket.
pub struct Part {
    shared: Arc<Shared>,
    sent: bool,
}

impl Drop for Part {
    fn drop(&mut self) {
        if !self.sent {
            self.shared.lost.store(true, Ordering::Relaxed);
        }
    }
}

struct Shared {
    whole: Mutex<Option<Ticket>>,
    lost: AtomicBool,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let whole = crate::sync::lock(&self.whole).take();
        if let Some(whole) = whole
            && !self.lost.load(Ordering::Relaxed)
        {
            whole.resolve();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::{Commit, Ledger, LogOptions};

    fn options(dir: &std::path::Path) -> LogOptions {
        LogOptions {
            dir: dir.to_owned(),
            segment_bytes: 1 << 20,
            max_disk_bytes: 1 << 24,
            max_record_bytes: 1 << 16,
            commit: Commit::Always,
        }
    }

    /// Appends one record, splits the exporter's claim on it in three, resolves `sent` of the
    /// parts and drops the rest; returns whether the record is replayed after a reopen.
    async fn replayed_after(sent: usize) -> bool {
        let dir = std::env::temp_dir().join(format!("weft-ticket-{sent}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let exporters = ["lb".to_owned()];
        let (ledger, _, _) = Ledger::open(options(&dir), &exporters).unwrap();
        let lineage = ledger
            .append(bytes::Bytes::from_static(b"req"))
            .await
            .unwrap();
        let claim = ledger.claim(0, &lineage).unwrap();
        drop(lineage);
        for (n, part) in Ticket::Claim(claim).split(3).into_iter().enumerate() {
            if n < sent {
                part.resolve();
            }
        }
        ledger.checkpoint().unwrap();
        ledger.log().close();
        drop(ledger);
        let (_, replay, _) = Ledger::open(options(&dir), &exporters).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        !replay.is_empty()
    }

    #[tokio::test]
    async fn a_split_claim_resolves_once_every_part_was_sent() {
        assert!(!replayed_after(3).await, "all three parts sent: finished");
        assert!(
            replayed_after(2).await,
            "one part dropped unsent: sent again"
        );
    }
}
