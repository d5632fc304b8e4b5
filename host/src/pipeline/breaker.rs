//! The circuit breaker that quarantines a processor failing batch after batch.
//!
//! After `quarantine_after` failures in a row the processor is quarantined: for the backoff
//! period its batches follow its `on_error` policy without calling it. Then one batch is let
//! through as a trial; success closes the breaker, failure quarantines it again for twice as
//! long (up to five minutes). The breaker is shared by every worker and belongs to one loaded
//! version of the plugin, so a reload starts afresh.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What a breaker decided about one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Call the processor.
    Call,
    /// Skip it: it is quarantined.
    Skip,
}

/// A breaker; see the module docs.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    base_backoff: Duration,
    started: Instant,
    consecutive: AtomicU32,
    /// Milliseconds since `started` until which calls are skipped.
    open_until_ms: AtomicU64,
    backoff_ms: AtomicU64,
}

impl Breaker {
    /// A breaker that opens after `threshold` failures in a row (0: never) for `backoff` first.
    pub fn new(threshold: u32, backoff: Duration) -> Self {
        Breaker {
            threshold,
            base_backoff: backoff,
            started: Instant::now(),
            consecutive: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            backoff_ms: AtomicU64::new(backoff.as_millis() as u64),
        }
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether to call the processor for the next batch.
    pub fn verdict(&self) -> Verdict {
        if self.now_ms() < self.open_until_ms.load(Ordering::Acquire) {
            Verdict::Skip
        } else {
            Verdict::Call
        }
    }

    /// Whether the breaker is open now.
    pub fn is_open(&self) -> bool {
        self.verdict() == Verdict::Skip
    }

    /// Records a successful call.
    pub fn success(&self) {
        if self.consecutive.swap(0, Ordering::AcqRel) >= self.threshold && self.threshold > 0 {
            self.backoff_ms
                .store(self.base_backoff.as_millis() as u64, Ordering::Release);
        }
    }

    /// Records a failed call. Returns the quarantine period when this failure opened the breaker.
    pub fn failure(&self) -> Option<Duration> {
        let failures = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        if self.threshold == 0 || failures < self.threshold {
            return None;
        }
        let backoff = self.backoff_ms.load(Ordering::Acquire);
        self.open_until_ms
            .store(self.now_ms() + backoff, Ordering::Release);
        self.backoff_ms.store(
            (backoff * 2).min(MAX_BACKOFF.as_millis() as u64),
            Ordering::Release,
        );
        Some(Duration::from_millis(backoff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_and_backs_off_exponentially() {
        let breaker = Breaker::new(3, Duration::from_millis(40));
        assert_eq!(breaker.failure(), None);
        assert_eq!(breaker.failure(), None);
        assert_eq!(breaker.failure(), Some(Duration::from_millis(40)));
        assert_eq!(breaker.verdict(), Verdict::Skip);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            breaker.verdict(),
            Verdict::Call,
            "a trial batch after the backoff"
        );
        assert_eq!(
            breaker.failure(),
            Some(Duration::from_millis(80)),
            "a failed trial doubles the backoff"
        );
        std::thread::sleep(Duration::from_millis(90));
        breaker.success();
        assert_eq!(breaker.verdict(), Verdict::Call);
        assert_eq!(breaker.failure(), None, "success reset the count");
    }

    #[test]
    fn threshold_zero_never_opens() {
        let breaker = Breaker::new(0, Duration::from_millis(10));
        for _ in 0..100 {
            assert_eq!(breaker.failure(), None);
        }
        assert_eq!(breaker.verdict(), Verdict::Call);
    }
}
