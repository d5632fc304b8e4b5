//! Telemetry as its bytes: what moves through the pipeline.
//!
//! A request is kept as the buffer it arrived in and read lazily, through offsets into it
//! ([`wire`], [`schema`], [`validate`]); edits become patches over the original
//! ([`traces::patch`]), and writing a batch copies what nothing changed ([`traces`]). Logs and
//! metrics will be further indexes over the same [`Storage`] and wire walker.
//!
//! Owns: the OTLP wire format and the batch types. Must not depend on the pipeline, the
//! plugin runtime, or configuration.

pub mod json;
pub mod lineage;
pub mod schema;
pub mod storage;
pub mod traces;
pub mod validate;
pub mod wire;

pub use lineage::Lineage;
pub use storage::Storage;
pub use traces::Traces;
pub use validate::{DecodeError, Problem};
pub use wire::Loc;
