//! Self-telemetry: what the pipeline counts about itself, and the plugin status table.

mod metrics;
mod plugins;
mod stats;
mod tail;

pub use metrics::{ErrorKind, ExporterMetrics, Metrics, ProcessorMetrics, ReceiverMetrics};
pub use plugins::{PluginState, PluginStatus};
pub use stats::{PipelineStats, StatsSnapshot};
pub use tail::TailMetrics;
