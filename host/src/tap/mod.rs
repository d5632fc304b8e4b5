//! Live taps (`weft tap`): spans as they enter or leave a processor of the running pipeline,
//! or what the processor changed in them, streamed to an operator.

mod hub;
mod snapshot;

pub use hub::{TapEvent, TapHub, TapLimits, TapPoint, TapRefusal, TapRequest, Watch, parse_filter};
pub use snapshot::{FieldChange, SpanSnapshot, matches};
