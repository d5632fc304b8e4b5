//! Panics the host's supervisors caught, counted per component, and which components keep
//! failing (for `/readyz`).
//!
//! A panic is a bug in Weft, never a plugin's doing (a plugin's traps are failures of its
//! own, counted per processor). Supervisors catch it where a batch is in hand, count it here,
//! put the batch on its processor's `on_error` path or count its spans as lost, and carry on
//! with fresh state, so one bad request never takes a worker, the tail-sampling thread or an
//! exporter down with it.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The parts of the host that run under a supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// A pipeline worker, outside any processor (queue, tail hand-off, exporter hand-off).
    Worker,
    /// The host's side of one processor call: its view, the call, its edits.
    Processor,
    /// The tail-sampling decision thread.
    Tail,
    /// An exporter's sending task.
    Exporter,
}

const COMPONENTS: [(Component, &str); 4] = [
    (Component::Worker, "worker"),
    (Component::Processor, "processor"),
    (Component::Tail, "tail"),
    (Component::Exporter, "exporter"),
];

/// A component with this many panics within [`FAILING_WINDOW`] keeps failing.
pub const FAILING_PANICS: usize = 3;
/// The window over which [`FAILING_PANICS`] are counted.
pub const FAILING_WINDOW: Duration = Duration::from_secs(60);

fn index(component: Component) -> usize {
    COMPONENTS
        .iter()
        .position(|(c, _)| *c == component)
        .unwrap_or(0)
}

/// Panics caught, per component.
#[derive(Debug, Default)]
pub struct Panics {
    counts: [AtomicU64; COMPONENTS.len()],
    recent: Mutex<[VecDeque<Instant>; COMPONENTS.len()]>,
}

impl Panics {
    /// Counts a panic caught in `component`, and logs it with what it said.
    pub fn record(&self, component: Component, payload: &(dyn Any + Send)) {
        let i = index(component);
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let times = &mut recent[i];
        times.push_back(now);
        while times.len() > FAILING_PANICS {
            times.pop_front();
        }
        tracing::error!(
            component = COMPONENTS[i].1,
            panic = %panic_message(payload),
            "Caught a panic (a bug in Weft); the component carries on with fresh state."
        );
    }

    /// Panics caught in `component` so far.
    pub fn count(&self, component: Component) -> u64 {
        self.counts[index(component)].load(Ordering::Relaxed)
    }

    /// The components that panicked [`FAILING_PANICS`] times within the last
    /// [`FAILING_WINDOW`].
    pub fn failing(&self) -> Vec<&'static str> {
        let now = Instant::now();
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        COMPONENTS
            .iter()
            .zip(recent.iter())
            .filter(|(_, times)| {
                times.len() >= FAILING_PANICS
                    && times
                        .front()
                        .is_some_and(|first| now.duration_since(*first) <= FAILING_WINDOW)
            })
            .map(|((_, name), _)| *name)
            .collect()
    }

    /// The Prometheus family `weft_internal_panics_total{component}`.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP weft_internal_panics_total Panics caught and survived (bugs in Weft), by component.\n\
             # TYPE weft_internal_panics_total counter"
        );
        for ((_, name), count) in COMPONENTS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "weft_internal_panics_total{{component=\"{name}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
    }
}

/// What a panic said, when it said it with a string.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_component_and_names_the_one_that_keeps_failing() {
        let panics = Panics::default();
        let payload: Box<dyn Any + Send> = Box::new("boom");
        for _ in 0..FAILING_PANICS - 1 {
            panics.record(Component::Tail, payload.as_ref());
        }
        panics.record(Component::Worker, payload.as_ref());
        assert!(panics.failing().is_empty(), "{:?}", panics.failing());
        panics.record(Component::Tail, payload.as_ref());
        assert_eq!(panics.failing(), ["tail"]);
        assert_eq!(panics.count(Component::Tail), FAILING_PANICS as u64);
        assert_eq!(panics.count(Component::Worker), 1);
        let mut text = String::new();
        panics.render(&mut text);
        assert!(text.contains("weft_internal_panics_total{component=\"tail\"} 3"));
        assert!(text.contains("weft_internal_panics_total{component=\"exporter\"} 0"));
    }

    #[test]
    fn a_panic_message_is_read_from_either_string_kind() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42u32), "(no message)");
    }
}
