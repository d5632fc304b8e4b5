//! What an instance's store holds, and the host functions it offers the guest.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::guest_log::GuestLog;
use super::limiter::PluginLimiter;
use crate::contract::bindings::Level;
use crate::telemetry::GuestCounters;

/// The WIT world a plugin implements, which decides the kind of stage it can serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum World {
    /// `processor`: a span processor returning edits for each batch.
    Processor,
    /// `trace-sampler`: a tail-sampling policy deciding whole traces.
    TraceSampler,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            World::Processor => "processor",
            World::TraceSampler => "trace-sampler",
        })
    }
}

/// Per-instance host state: an empty WASI context (no files, sockets, env or stdio) and limits.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: PluginLimiter,
    /// The processor's name, for errors.
    pub(super) plugin: Arc<str>,
    /// `host::log` lines, rate-limited with the plugin's stdout and stderr.
    pub(super) log: GuestLog,
    /// Where `host::counter-add` counts (none: a load-time probe, `weft plugin test`).
    pub(super) counters: Option<Arc<GuestCounters>>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl crate::contract::bindings::weft::plugin::common::Host for PluginState {}

impl crate::contract::bindings::weft::plugin::host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.log.host_log(level, &message);
        Ok(())
    }

    fn counter_add(&mut self, name: String, delta: u64) -> wasmtime::Result<()> {
        if let Some(counters) = &self.counters {
            counters.add(&name, delta);
        }
        Ok(())
    }
}

impl crate::contract::bindings::weft::plugin::traces::Host for PluginState {}
