//! The plugin runtime: the wasmtime engine, compiled plugins, their instances, and the
//! translation between the host's OTLP batches and the contract's views and edits.

// Generated from the WIT, whose own doc comments document it.
mod answers;
#[allow(missing_docs)]
pub mod bindings;
mod cache;
mod contract;
mod edits;
mod engine;
mod guest_log;
mod lift;
mod limiter;
pub mod packed;
mod plugin;
mod smoke;
mod view;

pub use cache::{CacheOutcome, ComponentCache};
pub use edits::{EditError, EditProblem, EditSummary, apply_edits, output_bytes, write_value};
pub use engine::{EPOCH_TICK, PERF_MAP_ENV, PluginEngine};
pub use plugin::{
    FailureKind, Grants, Limits, LoadedPlugin, MAX_REASON, PluginError, PluginInstance, World,
    hex_sha256 as sha256_hex, output_cap,
};
pub use view::{
    build_view, build_view_into, empty_view, full_interest, no_interest, policy_interest, span_id,
    trace_id,
};
