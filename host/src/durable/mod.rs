//! Durable storage for accepted requests: a segmented write-ahead log whose records are the
//! requests' bytes (`log.rs`, `segment.rs`, `record.rs`), and each consumer's position in it
//! (`progress.rs`, `consumers.rs`), worked out from where each record's data is in the
//! pipeline (`ledger.rs`). See `docs/durability.md` for the format and the guarantees.

pub mod consumers;
pub mod ledger;
pub mod log;
pub mod progress;
pub mod record;
pub mod segment;
mod writer;

pub use consumers::{Slot, SlotMask};
pub use ledger::{Claim, Ledger, Replay};
pub use log::{Commit, Log, LogError, LogOptions, LogStats, Recovered};
pub use progress::Progress;
