//! Self-telemetry: the counters the pipeline keeps about itself.

mod stats;

pub use stats::{PipelineStats, StatsSnapshot};
