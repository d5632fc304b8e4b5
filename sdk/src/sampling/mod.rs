//! Building blocks for sampling decisions, shared by span processors and tail-sampling policies:
//! consistent probability sampling by trace id ([`ratio`]) and a token bucket ([`rate`]), and the validated
//! values rules are configured with ([`Ratio`], [`Pattern`], [`AttributeKey`]).

pub mod rate;
pub mod ratio;
mod values;

pub use values::{AttributeKey, Pattern, Ratio};
