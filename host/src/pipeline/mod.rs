//! The pipeline between receivers and exporters: the memory budget, the bounded queue, and
//! the processor chain a worker runs. The worker threads that run it (with the tail-sampling
//! stage, which runs part of the chain itself) are in `workers.rs`, above both.

mod admission;
mod breaker;
mod chain;
mod footprint;
mod queue;
mod refusal;

pub use admission::{MemoryBudget, MemoryPermit};
pub use footprint::{Footprint, json_footprint, protobuf_footprint};

pub use breaker::{Breaker, Verdict};
pub use chain::{Chain, ChainSpec, StageSpec};
pub use queue::{Admitted, ConnectionRefusal, Protocol, Submitter, bounded_queue};
pub use refusal::Refusal;
