//! Write [Weft](https://github.com/weft-otel/weft) span processors in Rust.
//!
//! A processor is a type that implements [`Processor`]. It says once, in [`Processor::interest`],
//! which parts of a span it reads, and for every batch it records [`Edits`]: set or remove
//! attributes, rename spans, drop spans. The host applies the edits to its own copy of the batch,
//! so everything the processor does not touch passes through byte for byte.
//!
//! The view a processor receives is flat, which is what makes a batch cheap to hand over:
//! every string is a [`Slice`] of one byte arena (read it with [`Batch::text`]), attribute keys
//! index a key table, and a span's attributes, events and links are [`Range`]s of batch-wide
//! lists ([`Batch::attributes`], [`Batch::attribute`], [`Batch::events`], [`Batch::links`]).
//! Under the hood the exported processor asks the host for the contract's packed layout and
//! rebuilds these tables inside the guest, which is cheaper than lowering records across the
//! boundary; a processor that asks for [`SpanFields::PACKED`] itself reads `batch.packed`.
//!
//! ```
//! use weft_sdk::{Batch, Edits, Interest, Processor};
//!
//! /// Stamps every span with `team = "checkout"`.
//! struct Stamp;
//!
//! impl Processor for Stamp {
//!     fn init(_config: &str) -> Result<Self, String> {
//!         Ok(Stamp)
//!     }
//!     fn interest(&self) -> Interest {
//!         Interest::nothing()
//!     }
//!     fn process(&mut self, batch: &Batch, edits: &mut Edits) -> Result<(), String> {
//!         for index in 0..batch.spans.len() {
//!             edits.set_span_attribute(index, "team", "checkout");
//!         }
//!         Ok(())
//!     }
//! }
//!
//! // In the plugin crate (a `cdylib` built for `wasm32-wasip2`):
//! // weft_sdk::export_processor!(Stamp);
//! # let batch = weft_sdk::testing::BatchBuilder::new().span("GET /").build();
//! # let edits = weft_sdk::testing::run(&mut Stamp, &batch).unwrap();
//! # assert_eq!(edits.len(), 1);
//! ```
#![deny(missing_docs)]

mod config;
mod edits;
mod export;
mod interest;
pub mod log;
mod packed;
mod policy;
pub mod sampling;
pub mod testing;
mod value;

/// The bindings generated from the `weft:plugin` WIT package.
///
/// Most processors never need these directly: the crate root re-exports the data types.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "processor",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "weft_sdk::bindings",
        generate_all,
        additional_derives: [PartialEq],
    });
}

/// The bindings generated for the `trace-sampler` world (tail-sampling policies). They share
/// every type with [`bindings`]; only the exported `trace-policy` interface is their own.
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod policy_bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "trace-sampler",
        pub_export_macro: true,
        export_macro_name: "export_policy_bindings",
        default_bindings_module: "weft_sdk::policy_bindings",
        with: {
            "weft:plugin/common@0.3.0": crate::bindings::weft::plugin::common,
            "weft:plugin/traces@0.3.0": crate::bindings::weft::plugin::traces,
            "weft:plugin/host@0.3.0": crate::bindings::weft::plugin::host,
        },
        additional_derives: [PartialEq],
    });
}

pub use bindings::weft::plugin::common::{
    AttributeSelection, AttributeView, Level, NodeView, Slice, Value, ValueNode, ValueView,
};
pub use bindings::weft::plugin::traces::{
    Batch, Edit, Event, Interest, Link, ProcessorError, Range, Resource, Scope, Span, SpanFields,
    SpanKind, Status, StatusCode, Target, TraceId,
};
pub use config::parse_config;
pub use edits::Edits;
pub use export::Processor;
pub use policy::{Trace, TracePolicy};
pub use policy_bindings::exports::weft::plugin::trace_policy::Decision;
pub use value::{Attr, ValueRef};

#[doc(hidden)]
pub mod __private {
    pub use crate::export::{GuestState, init_guest, process_guest};
    pub use crate::packed::unpack;
    pub use crate::policy::{decide_guest, init_policy_guest};
    pub use wit_bindgen;
}
