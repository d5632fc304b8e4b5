//! Tail sampling: buffer spans by trace, let a WASM policy decide whole traces, and make
//! spans that arrive later follow the decision.
//!
//! The stage sits at its place in the chain. Workers run the processors before it, then hand
//! each batch to the [`TailSampler`], which splits it by trace id into the host-owned
//! [`TraceBuffer`]. A decision thread takes every trace whose `decision_wait` has passed (or the
//! oldest, early, when the buffer reaches `max_traces` or `max_buffered_mb`), asks the policy
//! about many traces per call, runs the processors after the stage on the kept traces, and
//! exports them. Decisions are remembered in a bounded [`DecisionCache`] so late spans follow
//! them. A reload swaps the policy code; the buffer and the cache stay.

mod buffer;
mod decide;
mod decided;
mod fragments;
mod sampler;

pub use buffer::{PendingTrace, TraceBuffer};
pub use decided::DecisionCache;
pub use fragments::{
    FragmentOrigin, TraceFragment, TraceFragments, TraceId, group_by_trace, join_traces,
};
pub use sampler::{TailSampler, TailThread};
