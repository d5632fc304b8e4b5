//! Durable storage for accepted requests: a segmented write-ahead log whose records are the
//! requests' bytes (`log.rs`, `segment.rs`, `record.rs`), and each consumer's position in it
//! (`progress.rs`). See `docs/durability.md` for the format and the guarantees.

pub mod log;
pub mod progress;
pub mod record;
pub mod segment;
mod writer;

pub use log::{Commit, Log, LogError, LogOptions, LogStats, Recovered};
pub use progress::Progress;
