//! A running instance of a plugin, owned by one worker: its calls, each within the plugin's
//! deadline (in wasm and in host calls alike) and with its answer lifted within a budget.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Store;
use wasmtime::component::Func;

use super::answers::{DecideAnswer, LiftedEdit, LiftedEditV0_2, ProcessAnswer};
use super::engine::EPOCH_TICK;
use super::error::{
    FailureKind, PluginError, capped, classify, truncate_at_char, with_guest_stderr,
};
use super::lift::with_budget;
use super::state::{PluginState, World};
use super::versions::ContractVersion;
use crate::contract::bindings::{Batch, Decision, Edit, Range as TraceRange};
use crate::contract::packed::view_span_count;

/// One live instance of a plugin, owned by one worker.
pub struct PluginInstance {
    pub(super) store: Store<PluginState>,
    /// The world the instance implements.
    pub(super) world: World,
    /// The contract version it was built against.
    pub(super) version: ContractVersion,
    /// `process` or `decide`, called with a typed signature whose answer is lifted within a
    /// budget (see `super::lift`).
    pub(super) answer: Func,
    /// The deadline of one call.
    pub(super) timeout: Duration,
}

impl PluginInstance {
    /// Calls `process` on `batch` within the plugin's deadline.
    ///
    /// After a `Trap` error the instance must be discarded: wasmtime refuses to enter it again.
    pub fn process(&mut self, batch: &Batch) -> Result<Vec<Edit>, PluginError> {
        let (name, timeout) = self.arm_deadline();
        if self.world != World::Processor {
            return Err(not_a(&name, World::Processor));
        }
        match self.version {
            ContractVersion::V0_3 => self.call_process::<LiftedEdit>(&name, timeout, batch),
            ContractVersion::V0_2 => self.call_process::<LiftedEditV0_2>(&name, timeout, batch),
        }
    }

    /// Calls `process`, lifting its answer as a list of `E`, the `edit` of the instance's
    /// contract version.
    fn call_process<E>(
        &mut self,
        name: &str,
        timeout: Duration,
        batch: &Batch,
    ) -> Result<Vec<Edit>, PluginError>
    where
        E: wasmtime::component::Lift + Send + Sync + 'static,
        Edit: From<E>,
    {
        let process = self
            .answer
            .typed::<(&Batch,), (ProcessAnswer<E>,)>(&self.store)
            .map_err(|e| classify(name, e))?;
        let budget = output_cap(view_span_count(batch), batch.arena.len());
        let store = &mut self.store;
        let (answer,) = with_budget(budget, || {
            run_bounded(name, timeout, process.call_async(store, (batch,)))
        })
        .map_err(|e| self.with_guest_stderr(e))?;
        match answer {
            Ok(edits) => Ok(edits.0.into_iter().map(Edit::from).collect()),
            Err(error) => Err(PluginError::Guest {
                plugin: name.to_string(),
                reason: capped(error.message.0),
            }),
        }
    }

    /// Calls a policy's `decide` on the traces `traces` (ranges of `batch.spans`) within the
    /// plugin's deadline. A policy that answers with a different number of decisions than
    /// traces fails the call.
    ///
    /// After a `Trap` error the instance must be discarded.
    pub fn decide(
        &mut self,
        batch: &Batch,
        traces: &[TraceRange],
        now_unix_nano: u64,
    ) -> Result<Vec<Decision>, PluginError> {
        let (name, timeout) = self.arm_deadline();
        if self.world != World::TraceSampler {
            return Err(not_a(&name, World::TraceSampler));
        }
        let decide = self
            .answer
            .typed::<(&Batch, &[TraceRange], u64), (DecideAnswer,)>(&self.store)
            .map_err(|e| classify(&name, e))?;
        let budget = DECIDE_BUDGET_FLOOR.saturating_add(
            traces
                .len()
                .saturating_mul(std::mem::size_of::<Decision>() + MAX_REASON),
        );
        let store = &mut self.store;
        let (answer,) = with_budget(budget, || {
            run_bounded(
                &name,
                timeout,
                decide.call_async(store, (batch, traces, now_unix_nano)),
            )
        })
        .map_err(|e| self.with_guest_stderr(e))?;
        let decisions: Vec<Decision> = match answer {
            Ok(decisions) => decisions
                .0
                .into_iter()
                .map(|d| {
                    let mut decision = Decision::from(d);
                    truncate_at_char(&mut decision.reason, MAX_REASON);
                    decision
                })
                .collect(),
            Err(error) => {
                return Err(PluginError::Guest {
                    plugin: name.to_string(),
                    reason: capped(error.message.0),
                });
            }
        };
        if decisions.len() != traces.len() {
            return Err(PluginError::InvalidEdit {
                plugin: name.to_string(),
                reason: format!(
                    "{} decisions for {} traces (one per trace, in order)",
                    decisions.len(),
                    traces.len()
                ),
            });
        }
        Ok(decisions)
    }

    /// Sets the epoch deadline for the next call and starts collecting its stderr; returns
    /// the plugin's name and its timeout.
    fn arm_deadline(&mut self) -> (Arc<str>, Duration) {
        self.store.set_epoch_deadline(deadline_ticks(self.timeout));
        self.store.data().log.start_call();
        (self.store.data().plugin.clone(), self.timeout)
    }

    /// `error`, a trap, with what the guest wrote to stderr during the call put first.
    fn with_guest_stderr(&self, error: PluginError) -> PluginError {
        with_guest_stderr(error, self.store.data().log.call_stderr())
    }
}

/// The error for calling an instance as the other world.
pub(super) fn not_a(plugin: &str, world: World) -> PluginError {
    PluginError::WrongWorld {
        plugin: plugin.to_owned(),
        world,
        reason: "the stage called it as the other kind of plugin".to_owned(),
    }
}

pub(super) fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
}

/// Runs one guest call to completion on this thread, ending it at `timeout` plus one epoch
/// tick whatever the guest is doing.
///
/// Two mechanisms share the deadline. While the guest computes, the epoch deadline traps it
/// (`Trap::Interrupt`). While it waits in a host call (a sleep, a `poll`, a read of a granted
/// file), no wasm runs to notice the epoch, so the call itself is a future raced against a
/// timer: when the timer wins, the future is dropped, and with it the host call it was
/// waiting on. Either way the failure is a [`FailureKind::Timeout`] trap and the instance
/// is discarded.
pub(super) fn run_bounded<R>(
    plugin: &str,
    timeout: Duration,
    call: impl Future<Output = wasmtime::Result<R>>,
) -> Result<R, PluginError> {
    let limit = timeout + EPOCH_TICK;
    // The timer is made inside the runtime `in_tokio` enters (a worker thread has none).
    let bounded = async move { tokio::time::timeout(limit, call).await };
    match wasmtime_wasi::runtime::in_tokio(bounded) {
        Ok(outcome) => outcome.map_err(|e| classify(plugin, e)),
        Err(_elapsed) => Err(PluginError::Trap {
            plugin: plugin.to_owned(),
            kind: FailureKind::Timeout,
            reason: format!(
                "the call was still waiting in a host call (a sleep, poll or read) after {} ms",
                limit.as_millis()
            ),
        }),
    }
}

/// The longest decision reason kept (the WIT asks for a short label); longer ones are cut.
pub const MAX_REASON: usize = 128;
/// Bytes of an `init` answer (the interest: a few key lists at most).
pub(super) const INIT_BUDGET: usize = 1 << 20;
/// Bytes of a policy's answer allowed whatever the number of traces.
const DECIDE_BUDGET_FLOOR: usize = 64 << 10;
/// How many bytes of answer a processor may return for a batch of `spans` spans whose
/// strings take `arena` bytes: room for ordinary enrichment (4 KiB a span), for rewriting
/// everything it read (4x the view's arena), and a floor. More is refused as output
/// amplification, before the host allocates for it.
pub fn output_cap(spans: usize, arena: usize) -> usize {
    (64usize << 10)
        .saturating_add(spans.saturating_mul(4 << 10))
        .saturating_add(arena.saturating_mul(4))
}
