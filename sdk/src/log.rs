//! Logging to the host's log, tagged with the processor's name.
//!
//! Inside `weft` the lines go to the host's log; in native tests they go to standard error.

use crate::Level;

/// Writes `message` to the host log at `level`.
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::weft::plugin::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Logs at debug level.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    log(Level::Error, message);
}

/// Adds `delta` to the plugin counter `name` (exported by the host as a metric). A no-op in
/// native tests.
pub fn counter_add(name: &str, delta: u64) {
    #[cfg(target_arch = "wasm32")]
    crate::bindings::weft::plugin::host::counter_add(name, delta);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (name, delta);
}
