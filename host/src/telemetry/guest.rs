//! Counters a plugin keeps itself (`host::counter-add`), exported per processor as
//! `weft_plugin_counter_total{processor,name}`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use super::exposition::{escape, family};

/// The most counter names one processor may use; `counter-add` calls for further names are
/// ignored (counted under [`OVERFLOW`]), so a plugin cannot grow the host's metrics without
/// bound.
pub const MAX_GUEST_COUNTERS: usize = 64;
/// Where the calls for names past the cap are counted.
pub const OVERFLOW: &str = "_other";
/// The longest counter name kept; longer names are cut.
const MAX_NAME: usize = 64;

/// One processor's plugin-defined counters, shared by every instance of it (across reloads).
#[derive(Debug, Default)]
pub struct GuestCounters {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl GuestCounters {
    /// Adds `delta` to counter `name`.
    pub fn add(&self, name: &str, delta: u64) {
        let mut name = name.to_owned();
        crate::codec::truncate_at_char(&mut name, MAX_NAME);
        let mut counts = crate::sync::lock(&self.counts);
        let full = counts.len() >= MAX_GUEST_COUNTERS && !counts.contains_key(&name);
        let slot = counts
            .entry(if full { OVERFLOW.to_owned() } else { name })
            .or_default();
        *slot = slot.saturating_add(delta);
    }

    /// The counters so far.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        crate::sync::lock(&self.counts).clone()
    }
}

/// Writes the `weft_plugin_counter_total` family for `processors`.
pub fn render<'a>(
    out: &mut String,
    processors: impl Iterator<Item = (&'a String, &'a GuestCounters)>,
) {
    family(
        out,
        "weft_plugin_counter_total",
        "counter",
        "Counters a plugin keeps with host::counter-add, by processor and name.",
    );
    for (processor, counters) in processors {
        for (name, value) in counters.snapshot() {
            let _ = writeln!(
                out,
                "weft_plugin_counter_total{{processor=\"{}\",name=\"{}\"}} {value}",
                escape(processor),
                escape(&name)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_cap_count_together_and_the_family_renders() {
        let counters = GuestCounters::default();
        for n in 0..MAX_GUEST_COUNTERS + 5 {
            counters.add(&format!("c{n}"), 2);
        }
        counters.add("c0", 1);
        counters.add("weird \"name\"", 1);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.len(), MAX_GUEST_COUNTERS + 1);
        assert_eq!(snapshot["c0"], 3);
        assert_eq!(snapshot[OVERFLOW], 5 * 2 + 1);
        let mut out = String::new();
        let name = "redact".to_owned();
        render(&mut out, [(&name, &counters)].into_iter());
        assert!(
            out.contains("weft_plugin_counter_total{processor=\"redact\",name=\"c0\"} 3\n"),
            "{out}"
        );
    }
}
