//! The pipeline between receivers and exporters: a bounded queue, worker threads, and the
//! processor chain each worker runs.

mod admission;
mod breaker;
mod chain;
mod footprint;
mod queue;
mod refusal;
mod workers;

pub use admission::{MemoryBudget, MemoryPermit};
pub use footprint::{Footprint, json_footprint, protobuf_footprint};

pub use breaker::{Breaker, Verdict};
pub use chain::{Chain, ChainSpec, StageSpec};
pub use queue::{Admitted, ConnectionRefusal, Protocol, Submitter};
pub use refusal::Refusal;
pub use workers::{WorkerPool, start_workers};
