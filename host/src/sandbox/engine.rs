//! The shared wasmtime engine and the epoch ticker that enforces CPU deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, OptLevel, ProfilingStrategy};

/// How often the epoch advances. A plugin's CPU deadline is a whole number of ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The environment variable that, set to `1`, makes the engine write a perf map
/// (`/tmp/perf-<pid>.map`) naming every compiled plugin function, so `perf record`/`perf report`
/// on a running `weft` show plugin code by function instead of as anonymous JIT addresses.
/// Plugins built without stripping their names (`strip = false`) give readable names.
pub const PERF_MAP_ENV: &str = "WEFT_PERF_MAP";

/// The engine every plugin is compiled and run with, plus its epoch ticker thread.
///
/// The ticker stops when the last clone of the `PluginEngine` is dropped.
#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    _ticker: Arc<EpochTicker>,
}

impl PluginEngine {
    /// Builds the engine: component model on, epoch interruption on, Cranelift optimising for speed.
    pub fn new() -> wasmtime::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(OptLevel::Speed);
        if std::env::var_os(PERF_MAP_ENV).is_some_and(|value| value == "1") {
            config.profiler(ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let ticker = Arc::new(EpochTicker::start(engine.clone()));
        Ok(PluginEngine {
            engine,
            _ticker: ticker,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// A thread that increments the engine's epoch every [`EPOCH_TICK`].
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        EpochTicker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
