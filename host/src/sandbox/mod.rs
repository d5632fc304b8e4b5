//! Where plugins run: the wasmtime engine, compiled plugins and their instances, each call's
//! deadline and memory cap, the guest's log, the component cache, the smoke batch a plugin
//! must pass before it serves, and the contract versions a component can be built against.
//!
//! Owns: running guest code safely and lifting its answers. Must not know the pipeline.

mod answers;
mod cache;
mod engine;
mod error;
mod guest_log;
mod lift;
mod limiter;
mod limits;
mod plugin;
mod smoke;
mod state;
mod versions;

pub use cache::{CacheOutcome, ComponentCache};
pub use engine::{EPOCH_TICK, PERF_MAP_ENV, PluginEngine};
pub use plugin::{
    FailureKind, Grants, Limits, LoadedPlugin, MAX_REASON, PluginError, PluginInstance, World,
    hex_sha256 as sha256_hex, output_cap, truncate_at_char,
};
