//! The pipeline between receivers and exporters: a bounded queue, worker threads, and the
//! processor chain each worker runs.

mod admission;
mod breaker;
mod chain;
mod footprint;
mod queue;
mod workers;

pub use admission::{MemoryBudget, MemoryPermit};
pub use footprint::{Footprint, json_footprint, protobuf_footprint};

pub use breaker::{Breaker, Verdict};
pub use chain::{Chain, ChainSpec, StageSpec};
pub use queue::{Admitted, ConnectionRefusal, Protocol, Refusal, Submitter};
pub use workers::{WorkerPool, start_workers};
