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
mod instance;
mod lift;
mod limiter;
mod limits;
mod plugin;
mod smoke;
mod state;
mod versions;

pub use cache::{CacheOutcome, ComponentCache};
pub use engine::{EPOCH_TICK, PERF_MAP_ENV, PluginEngine};
pub use instance::{MAX_REASON, PluginInstance, output_cap};
pub use plugin::{
    FailureKind, Grants, Limits, LoadedPlugin, PluginError, World, hex_sha256 as sha256_hex,
    truncate_at_char,
};
