//! The benchmark harness: a load generator that sends synthetic OTLP traces to any endpoint,
//! and a counting sink that checks every span arrived. `weft-bench load` and `weft-bench sink`
//! run them from the command line; `bench/run.sh` puts Weft (or another collector) between
//! the two. It sends and counts with Weft's own exporter and codecs, but lives outside the
//! host: nothing in a running pipeline depends on it.

pub mod load;
pub mod payload;
pub mod sink;

pub use load::{LoadConfig, LoadReport, Protocol, run_load};
pub use payload::{PayloadSpec, build_request};
pub use sink::{CountingSink, SinkReport};
