//! The plugin contract as the host implements it (the WIT in `wit/`): the view a plugin is
//! sent, built from a batch's bytes in records or in the packed layout, and the edits it
//! returns, checked and turned into patches.
//!
//! Owns: what the contract means for a batch. Must not know how plugins run (the sandbox) or
//! how batches move (the pipeline).

// Generated from the WIT, whose own doc comments document it.
#[allow(missing_docs)]
pub mod bindings;
mod edits;
mod interest;
pub mod packed;
mod tables;
mod view;

pub use edits::{
    EditError, EditProblem, EditSummary, MAX_NESTING, apply_edits, output_bytes, write_value,
};
pub use interest::{full_interest, no_interest, policy_interest};
pub use view::{build_view, build_view_into, empty_view, span_id, trace_id};
