//! The memory cap of a plugin instance, over everything it can grow.
//!
//! wasmtime's stock `StoreLimits` caps each linear memory and each table on its own, so a
//! component with sixteen memories (or a table grown to millions of entries) could take many
//! times its cap. This limiter charges every linear memory and every table element of the
//! instance to one budget; growth past it traps, and the batch follows `on_error`.

use wasmtime::ResourceLimiter;

/// Bytes one table element takes in the host (a pointer and wasmtime's lazy-init tag, rounded
/// up).
const TABLE_ELEMENT_BYTES: usize = 16;

/// Core instances a component may create (CPython components use dozens).
const MAX_INSTANCES: usize = 100;
/// Tables a component may create.
const MAX_TABLES: usize = 100;
/// Linear memories a component may create.
const MAX_MEMORIES: usize = 16;

/// Why a growth trapped: the instance's memory cap. Guest calls that fail with it are
/// classified as memory failures by type, not by reading the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverCap {
    /// A growth the cap does not allow.
    #[error(
        "memory limit exceeded: growing {what} by {extra} bytes would take the plugin to \
         {total} bytes, past its {cap}-byte cap (all linear memories and tables)"
    )]
    Growth {
        /// `a linear memory` or `a table`.
        what: &'static str,
        /// Bytes asked for.
        extra: usize,
        /// What the instance would then hold.
        total: usize,
        /// The cap.
        cap: usize,
    },
    /// A growth the cap allowed that the engine then failed to make.
    #[error("memory limit: a {what} growth failed: {reason}")]
    Failed {
        /// `memory` or `table`.
        what: &'static str,
        /// The engine's reason.
        reason: String,
    },
}

/// One instance's budget of linear memory and table space.
#[derive(Debug)]
pub struct PluginLimiter {
    cap: usize,
    used: usize,
}

impl PluginLimiter {
    /// A budget of `cap` bytes.
    pub fn new(cap: usize) -> Self {
        PluginLimiter { cap, used: 0 }
    }

    /// Bytes charged so far.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used
    }

    fn grow(&mut self, what: &'static str, extra: usize) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(extra);
        if total > self.cap {
            // An error (not `Ok(false)`) traps: a plugin cannot carry on past its cap and fail
            // in some stranger way later.
            return Err(wasmtime::Error::new(OverCap::Growth {
                what,
                extra,
                total,
                cap: self.cap,
            }));
        }
        self.used = total;
        Ok(true)
    }
}

impl ResourceLimiter for PluginLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        self.grow("a linear memory", desired.saturating_sub(current))
    }

    /// A growth that failed after it was allowed traps, and the instance is discarded; what
    /// it was charged is never given back (wasmtime can report a failure for a growth it
    /// never asked about, so giving back "the last one" could be gamed).
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(OverCap::Failed {
            what: "memory",
            reason: format!("{error:#}"),
        }))
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let extra = desired
            .saturating_sub(current)
            .saturating_mul(TABLE_ELEMENT_BYTES);
        self.grow("a table", extra)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(OverCap::Failed {
            what: "table",
            reason: format!("{error:#}"),
        }))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 64 << 10;

    #[test]
    fn memories_and_tables_share_one_cap() {
        let mut limiter = PluginLimiter::new(10 * PAGE);
        assert!(limiter.memory_growing(0, 4 * PAGE, None).unwrap());
        assert!(
            limiter.memory_growing(0, 4 * PAGE, None).unwrap(),
            "a second memory"
        );
        // 2 pages left: a table of PAGE / 16 * 2 elements fits, one more element does not.
        let elements = 2 * PAGE / TABLE_ELEMENT_BYTES;
        let error = limiter.table_growing(0, elements + 1, None).unwrap_err();
        assert!(
            matches!(
                error.downcast_ref(),
                Some(OverCap::Growth {
                    what: "a table",
                    ..
                })
            ),
            "{error}"
        );
        assert!(limiter.table_growing(0, elements, None).unwrap());
        assert_eq!(limiter.used(), 10 * PAGE);
        assert!(limiter.memory_growing(4 * PAGE, 5 * PAGE, None).is_err());
    }

    #[test]
    fn a_failed_growth_traps_and_is_not_given_back() {
        let mut limiter = PluginLimiter::new(10 * PAGE);
        assert!(limiter.memory_growing(0, 6 * PAGE, None).unwrap());
        let error = limiter
            .table_grow_failed(wasmtime::format_err!("overflow"))
            .unwrap_err();
        assert!(
            matches!(
                error.downcast_ref(),
                Some(OverCap::Failed { what: "table", .. })
            ),
            "{error:#}"
        );
        assert_eq!(limiter.used(), 6 * PAGE);
        assert!(!limiter.memory_growing(0, 2 * PAGE, Some(PAGE)).unwrap());
        assert_eq!(
            limiter.used(),
            6 * PAGE,
            "growth past the declared maximum is not charged"
        );
    }
}
