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
