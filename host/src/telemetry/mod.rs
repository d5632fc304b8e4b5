//! Self-telemetry: what the pipeline counts about itself, and the plugin status table.

mod exposition;
mod guest;
mod metrics;
mod panics;
mod persistence;
mod plugins;
mod render;
mod stats;
mod tail;

pub use guest::{GuestCounters, MAX_GUEST_COUNTERS};
pub use metrics::{ErrorKind, ExporterMetrics, Metrics, ProcessorMetrics, ReceiverMetrics};
pub use panics::{Component, FAILING_PANICS, FAILING_WINDOW, Panics, panic_message};
pub use persistence::PersistenceMetrics;
pub use plugins::{PluginState, PluginStatus};
pub use stats::{PipelineStats, StatsSnapshot};
pub use tail::TailMetrics;
