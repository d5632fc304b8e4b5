//! Compiled plugins: loading, verifying and caching a component, and making instances of it
//! (`instance.rs`).

use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, InstancePre, Linker, ResourceTable};
use wasmtime_wasi::WasiCtx;

use super::answers::InitAnswer;
use super::cache::{CacheOutcome, ComponentCache};
use super::engine::PluginEngine;
pub use super::error::{FailureKind, PluginError, truncate_at_char};
use super::error::{capped, classify, with_guest_stderr};
use super::instance::{INIT_BUDGET, PluginInstance, deadline_ticks, run_bounded};
use super::lift::with_budget;
use super::limiter::PluginLimiter;
pub use super::limits::{Grants, Limits};
use super::state::PluginState;
pub use super::state::World;
use super::versions::{ContractVersion, Exports, find_exports, link_host};
use crate::contract::bindings::{Interest, Range as TraceRange};
use crate::telemetry::GuestCounters;

/// A compiled, linked and verified plugin, shared by every worker.
pub struct LoadedPlugin {
    name: Arc<str>,
    /// The linked component, ready to instantiate.
    pre: InstancePre<PluginState>,
    world: World,
    /// The contract version the component was built against.
    version: ContractVersion,
    /// `init`, called through a budgeted lift.
    init: ComponentExportIndex,
    /// `process` (processor) or `decide` (policy): called through a budgeted lift.
    answer: ComponentExportIndex,
    config_json: String,
    interest: Interest,
    limits: Limits,
    grants: Grants,
    engine: PluginEngine,
    sha256: String,
    size: usize,
    cache_outcome: CacheOutcome,
}

impl LoadedPlugin {
    /// Compiles `bytes`, checks it targets the processor world, and runs `init` once with
    /// `config_json` to learn its interest and surface config errors before serving.
    pub fn load(
        engine: &PluginEngine,
        name: &str,
        bytes: &[u8],
        config_json: String,
        limits: Limits,
    ) -> Result<Self, PluginError> {
        Self::load_cached(
            engine,
            &ComponentCache::disabled(),
            name,
            bytes,
            config_json,
            limits,
        )
    }

    /// Like [`LoadedPlugin::load`], taking the compiled component from `cache` when it holds
    /// one, and then running the plugin on a smoke batch: a plugin that traps or returns
    /// invalid edits on ordinary spans is refused before it serves.
    pub fn load_cached(
        engine: &PluginEngine,
        cache: &ComponentCache,
        name: &str,
        bytes: &[u8],
        config_json: String,
        limits: Limits,
    ) -> Result<Self, PluginError> {
        Self::load_world(
            engine,
            cache,
            World::Processor,
            name,
            bytes,
            config_json,
            (limits, Grants::default()),
        )
    }

    /// Loads a plugin of `world` as [`LoadedPlugin::load_cached`] does: compile (or take from
    /// `cache`), link, `init`, and a smoke run (a batch for a processor, the smoke batch's
    /// traces for a policy, which must answer one decision per trace). Every instance runs
    /// within `limits` and gets `grants`.
    pub fn load_world(
        engine: &PluginEngine,
        cache: &ComponentCache,
        world: World,
        name: &str,
        bytes: &[u8],
        config_json: String,
        (limits, grants): (Limits, Grants),
    ) -> Result<Self, PluginError> {
        let sha256 = hex_sha256(bytes);
        let (component, cache_outcome) =
            cache
                .load(engine, bytes, &sha256)
                .map_err(|e| PluginError::Compile {
                    plugin: name.to_owned(),
                    reason: format!("{e:#}"),
                })?;
        let wrong_world = |e: wasmtime::Error| PluginError::WrongWorld {
            plugin: name.to_owned(),
            world,
            reason: format!("{e:#}"),
        };
        let mut linker = Linker::new(engine.engine());
        // The asynchronous WASI host: a guest that sleeps, polls or reads is waiting on a
        // future the call's deadline can drop (see `run_bounded`).
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wrong_world)?;
        link_host(&mut linker, world).map_err(wrong_world)?;
        let Exports {
            version,
            init,
            answer,
        } = find_exports(&component, world)
            .map_err(|reason| wrong_world(wasmtime::format_err!("{reason}")))?;
        let pre = linker.instantiate_pre(&component).map_err(wrong_world)?;
        let mut plugin = LoadedPlugin {
            name: name.into(),
            pre,
            world,
            version,
            init,
            answer,
            config_json,
            interest: crate::contract::no_interest(),
            limits,
            grants,
            engine: engine.clone(),
            sha256,
            size: bytes.len(),
            cache_outcome,
        };
        let (mut probe, interest) = plugin.instantiate_with_interest(None)?;
        plugin.interest = match world {
            World::Processor => interest,
            World::TraceSampler => crate::contract::policy_interest(interest),
        };
        let mut smoke = crate::pdata::Traces::from_request(&super::smoke::smoke_request());
        let view = crate::contract::build_view(&smoke, &plugin.interest);
        match world {
            World::Processor => {
                let edits = probe.process(&view)?;
                crate::contract::apply_edits(&mut smoke, edits).map_err(|reason| {
                    PluginError::InvalidEdit {
                        plugin: name.to_owned(),
                        reason: format!("on the smoke batch: {reason}"),
                    }
                })?;
            }
            World::TraceSampler => {
                let traces: Vec<TraceRange> = (0..crate::contract::packed::view_span_count(&view)
                    as u32)
                    .map(|start| TraceRange { start, len: 1 })
                    .collect();
                probe.decide(&view, &traces, 0)?;
            }
        }
        Ok(plugin)
    }

    /// The world the plugin implements.
    pub fn world(&self) -> World {
        self.world
    }

    /// The contract version the plugin was built against (`0.3.0`).
    pub fn contract_version(&self) -> &'static str {
        self.version.as_str()
    }

    /// The processor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin reads, as it answered `init`.
    pub fn interest(&self) -> &Interest {
        &self.interest
    }

    /// The SHA-256 of the component bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The size of the component, in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the compiled code came from the cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.cache_outcome
    }

    /// The limits every instance runs with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A fresh, initialised instance; what it counts with `counter-add` goes nowhere.
    pub fn instantiate(self: &Arc<Self>) -> Result<PluginInstance, PluginError> {
        let (instance, _) = self.instantiate_with_interest(None)?;
        Ok(instance)
    }

    /// A fresh, initialised instance whose `counter-add` calls add to `counters` (the
    /// processor's, exported as `weft_plugin_counter_total`).
    pub fn instantiate_counting(
        self: &Arc<Self>,
        counters: Arc<GuestCounters>,
    ) -> Result<PluginInstance, PluginError> {
        let (instance, _) = self.instantiate_with_interest(Some(counters))?;
        Ok(instance)
    }

    /// The plugin's WASI context: nothing but its grants (no files, sockets, environment or
    /// arguments otherwise). Output goes to the host log, tagged and rate-limited.
    fn wasi_context(&self) -> Result<(WasiCtx, super::guest_log::GuestLog), PluginError> {
        let (stdout, stderr) = super::guest_log::GuestLog::pair(self.name.clone());
        let log = stdout.clone();
        let mut builder = WasiCtx::builder();
        builder.stdout(stdout).stderr(stderr);
        for (name, value) in &self.grants.env {
            builder.env(name, value);
        }
        for (host, guest) in &self.grants.read_only_dirs {
            builder
                .preopened_dir(host, guest, wasmtime_wasi::FsPerms::ReadOnly)
                .map_err(|e| PluginError::Init {
                    plugin: self.name.to_string(),
                    reason: format!(
                        "granting read access to {} as {guest}: {e:#}",
                        host.display()
                    ),
                })?;
        }
        Ok((builder.build(), log))
    }

    fn instantiate_with_interest(
        &self,
        counters: Option<Arc<GuestCounters>>,
    ) -> Result<(PluginInstance, Interest), PluginError> {
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.limits.max_resources);
        let (wasi, log) = self.wasi_context()?;
        let state = PluginState {
            wasi,
            table,
            limits: PluginLimiter::new(self.limits.memory_bytes),
            plugin: self.name.clone(),
            log,
            counters,
        };
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|state| &mut state.limits);
        let timeout = self.limits.timeout;
        store.set_epoch_deadline(deadline_ticks(timeout));
        let instance = run_bounded(&self.name, timeout, self.pre.instantiate_async(&mut store))?;
        let missing = || PluginError::WrongWorld {
            plugin: self.name.to_string(),
            world: self.world(),
            reason: "an export found at load is missing from the instance".to_owned(),
        };
        let init = instance
            .get_func(&mut store, self.init)
            .ok_or_else(missing)?
            .typed::<(&str,), (InitAnswer,)>(&store)
            .map_err(|e| classify(&self.name, e))?;
        let answer = instance
            .get_func(&mut store, self.answer)
            .ok_or_else(missing)?;
        store.set_epoch_deadline(deadline_ticks(timeout));
        store.data().log.start_call();
        let (interest,) = with_budget(INIT_BUDGET, || {
            run_bounded(
                &self.name,
                timeout,
                init.call_async(&mut store, (self.config_json.as_str(),)),
            )
        })
        .map_err(|e| with_guest_stderr(e, store.data().log.call_stderr()))?;
        let interest = interest.map_err(|reason| PluginError::Init {
            plugin: self.name.to_string(),
            reason: capped(reason.0),
        })?;
        Ok((
            PluginInstance {
                store,
                world: self.world(),
                version: self.version,
                answer,
                timeout,
            },
            interest.into(),
        ))
    }
}

/// Hex SHA-256 of `bytes`.
pub fn hex_sha256(bytes: &[u8]) -> String {
    crate::codec::hex(&Sha256::digest(bytes))
}
