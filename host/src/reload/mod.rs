//! Live reload: plugin files and the config file change, the chain changes, no span is lost.
//!
//! Reload means build, check, swap: the new chain is compiled (or taken from the component
//! cache), initialised and run on a smoke batch off the hot path, then handed to the workers
//! in one step. A worker finishes the batch it holds with the old chain and takes the new one
//! before its next batch. Any failure keeps the old version serving and says why.
//!
//! The file watcher only gathers events and forwards them; the reload thread owns every
//! decision.

mod controller;
mod watcher;

pub use controller::{ReloadHandle, ReloadReport, Reloader, Trigger};
pub use watcher::watch_files;
