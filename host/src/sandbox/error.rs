//! Why a plugin could not be loaded or could not handle a batch, and how a guest call's
//! failure is classified (by type: a trap, the memory cap, the resource table).

pub use crate::codec::truncate_at_char;
use wasmtime::Trap;
use wasmtime::component::ResourceTableError;

use super::limiter::OverCap;
use super::state::World;

/// Why a plugin could not be loaded or could not handle a batch.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a valid component.
    #[error("plugin {plugin:?} is not a valid WebAssembly component: {reason}")]
    Compile {
        /// Processor name.
        plugin: String,
        /// What the compiler said.
        reason: String,
    },
    /// The component does not target the world its stage needs, or imports more.
    #[error(
        "plugin {plugin:?} does not implement the {world} world of weft:plugin@0.3.0 (or 0.2.0): \
         {reason}"
    )]
    WrongWorld {
        /// Processor name.
        plugin: String,
        /// The world the stage needs.
        world: World,
        /// What did not match.
        reason: String,
    },
    /// `init` returned an error.
    #[error("plugin {plugin:?} refused its config: {reason}")]
    Init {
        /// Processor name.
        plugin: String,
        /// The plugin's message.
        reason: String,
    },
    /// The guest trapped, ran out of time or memory.
    #[error("plugin {plugin:?} {kind}: {reason}")]
    Trap {
        /// Processor name.
        plugin: String,
        /// What kind of failure.
        kind: FailureKind,
        /// Details.
        reason: String,
    },
    /// `process` returned an error.
    #[error("plugin {plugin:?} failed the batch: {reason}")]
    Guest {
        /// Processor name.
        plugin: String,
        /// The plugin's message.
        reason: String,
    },
    /// The processor is quarantined after repeated failures; it was not called.
    #[error("plugin {plugin:?} is quarantined after repeated failures")]
    Quarantined {
        /// Processor name.
        plugin: String,
    },
    /// The plugin's answer pointed at more data than its budget allows; it was refused
    /// before the host copied it, and the instance is discarded.
    #[error("plugin {plugin:?} returned too large an answer: {reason}")]
    Amplification {
        /// Processor name.
        plugin: String,
        /// What was over the budget.
        reason: String,
    },
    /// The host panicked while handling the call (a bug in Weft): caught, counted, and the
    /// batch follows `on_error`; the instance is discarded.
    #[error("the host panicked handling plugin {plugin:?} (a bug in Weft): {reason}")]
    HostPanic {
        /// Processor name.
        plugin: String,
        /// What the panic said.
        reason: String,
    },
    /// The plugin returned edits that do not fit the batch.
    #[error("plugin {plugin:?} returned an invalid edit: {reason}")]
    InvalidEdit {
        /// Processor name.
        plugin: String,
        /// What was wrong.
        reason: String,
    },
    /// The component could not be had: a file that cannot be read, a registry that cannot
    /// be reached (and no cached copy), a digest that does not match.
    #[error("plugin {plugin:?} could not be fetched: {reason}")]
    Fetch {
        /// Processor name.
        plugin: String,
        /// What went wrong, naming the file or reference.
        reason: String,
    },
    /// `[pipeline.trust]` is set and the component carries no valid signature from a
    /// trusted key.
    #[error("plugin {plugin:?} is not trusted: {reason}")]
    Untrusted {
        /// Processor name.
        plugin: String,
        /// Which file or reference, and why (no signature, a bad one, an unknown key).
        reason: String,
    },
}

impl PluginError {
    /// The processor the error is about.
    pub fn plugin(&self) -> &str {
        match self {
            PluginError::Compile { plugin, .. }
            | PluginError::WrongWorld { plugin, .. }
            | PluginError::Init { plugin, .. }
            | PluginError::Trap { plugin, .. }
            | PluginError::Guest { plugin, .. }
            | PluginError::InvalidEdit { plugin, .. }
            | PluginError::Amplification { plugin, .. }
            | PluginError::HostPanic { plugin, .. }
            | PluginError::Fetch { plugin, .. }
            | PluginError::Untrusted { plugin, .. }
            | PluginError::Quarantined { plugin } => plugin,
        }
    }

    /// Whether the instance that failed must be discarded (wasmtime will not enter it again
    /// after a trap, nor after a call whose answer could not be lifted).
    pub fn ends_instance(&self) -> bool {
        matches!(
            self,
            PluginError::Trap { .. }
                | PluginError::Amplification { .. }
                | PluginError::HostPanic { .. }
        )
    }
}

/// Classes of guest failure, used in logs and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Ran past its deadline, computing or waiting in a host call.
    Timeout,
    /// Tried to grow memory past its cap.
    Memory,
    /// Any other trap (`unreachable`, a panic, out-of-bounds access, ...).
    Trap,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::Timeout => "exceeded its deadline",
            FailureKind::Memory => "exceeded its memory limit",
            FailureKind::Trap => "trapped",
        })
    }
}

/// The longest guest-supplied message (an error, a trap's description) kept in host errors
/// and logs; the rest is cut.
pub const MAX_MESSAGE: usize = 4096;

/// Turns a wasmtime error from a guest call into a [`PluginError::Trap`].
pub(super) fn classify(plugin: &str, error: wasmtime::Error) -> PluginError {
    let text = format!("{error:#}");
    if error.downcast_ref::<super::lift::OverBudget>().is_some() {
        return PluginError::Amplification {
            plugin: plugin.to_owned(),
            reason: capped(text),
        };
    }
    let kind = match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => FailureKind::Timeout,
        _ if error.downcast_ref::<OverCap>().is_some() => FailureKind::Memory,
        // Host resources are host memory: a plugin leaking WASI handles hit its cap.
        _ if matches!(
            error.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        ) =>
        {
            FailureKind::Memory
        }
        _ => FailureKind::Trap,
    };
    PluginError::Trap {
        plugin: plugin.to_owned(),
        kind,
        reason: capped(text),
    }
}

/// `error` with what the guest wrote to stderr during the failed call (`stderr`, from
/// [`super::guest_log::GuestLog::call_stderr`]) put first, when the guest trapped: an
/// interpreter prints its traceback there before the runtime aborts, so the report reads as
/// the guest's own account of the failure followed by the wasm frames. Other errors carry the
/// guest's message already and are returned unchanged.
pub(super) fn with_guest_stderr(error: PluginError, stderr: Option<String>) -> PluginError {
    match (error, stderr) {
        (
            PluginError::Trap {
                plugin,
                kind,
                reason,
            },
            Some(stderr),
        ) => PluginError::Trap {
            plugin,
            kind,
            reason: capped(format!("{stderr}\n{reason}")),
        },
        (error, _) => error,
    }
}

/// `text`, cut to [`MAX_MESSAGE`] bytes.
pub(super) fn capped(mut text: String) -> String {
    if text.len() > MAX_MESSAGE {
        truncate_at_char(&mut text, MAX_MESSAGE);
        text.push_str("… (cut)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trap(reason: &str) -> PluginError {
        PluginError::Trap {
            plugin: "p".into(),
            kind: FailureKind::Trap,
            reason: reason.into(),
        }
    }

    #[test]
    fn a_trap_reports_the_guest_stderr_before_the_wasm_frames() {
        let traceback =
            "Traceback (most recent call last):\n  File \"app.py\", line 5\nKeyError: 'x'";
        let error = with_guest_stderr(trap("wasm backtrace:\n  0: abort"), Some(traceback.into()));
        assert_eq!(
            error.to_string(),
            format!("plugin \"p\" trapped: {traceback}\nwasm backtrace:\n  0: abort")
        );
        let quiet = with_guest_stderr(trap("wasm backtrace"), None);
        assert_eq!(quiet.to_string(), "plugin \"p\" trapped: wasm backtrace");
    }

    #[test]
    fn other_errors_keep_their_message_and_the_whole_stays_capped() {
        let guest = PluginError::Guest {
            plugin: "p".into(),
            reason: "TypeError: x is null".into(),
        };
        let error = with_guest_stderr(guest, Some("noise".into()));
        assert_eq!(
            error.to_string(),
            "plugin \"p\" failed the batch: TypeError: x is null"
        );
        let long = with_guest_stderr(
            trap(&"f\n".repeat(MAX_MESSAGE)),
            Some("Error: first".into()),
        );
        let PluginError::Trap { reason, .. } = long else {
            panic!("still a trap")
        };
        assert!(reason.starts_with("Error: first\nf\n"), "{reason:.40}");
        assert!(reason.len() <= MAX_MESSAGE + "… (cut)".len());
    }
}
