//! The pipeline between receivers and exporters: a bounded queue, worker threads, and the
//! processor chain each worker runs.

mod breaker;
mod chain;
mod queue;
mod workers;

pub use breaker::{Breaker, Verdict};
pub use chain::{Chain, ChainSpec, StageSpec};
pub use queue::{Protocol, Refusal, Submitter, span_count};
pub use workers::{WorkerPool, start_workers};
