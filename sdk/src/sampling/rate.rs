//! A token bucket that keeps time by the timestamps it is given.
//!
//! A plugin has no clock of its own (WASI grants none). The sample processor feeds the bucket
//! span end timestamps: spans arrive in batches, late, and out of order, so the time they
//! *happened* is what a "spans per second" limit should be measured in. A tail-sampling policy
//! feeds it the host's decision time (`now-unix-nano`). Either way the bucket's clock is the
//! latest timestamp it has seen.
//!
//! - The bucket holds up to `per_second` tokens (one second of burst) and starts full.
//! - As its clock advances it refills at `per_second` tokens per second.
//! - Each span it lets through takes one token; with no token left, the span is refused.
//! - A span that ended before the clock refills nothing (the time was already counted), so
//!   spans arriving out of order cannot inflate the rate.
//! - A span that ended more than [`SKEW_RESET_NANOS`] before the clock re-anchors it there
//!   (without refilling). Otherwise one span from a host whose clock runs far ahead would
//!   stall the bucket until real time caught up.
//! - A span without an end time (`0`) does not move the clock.
//!
//! Arithmetic is in nano-tokens (10⁻⁹ token), so refills are exact integers with no drift.

use std::num::NonZeroU32;

/// Nanoseconds in a second, and nano-tokens in a token.
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// How far behind its clock a span may end before the bucket re-anchors its clock: one minute.
pub const SKEW_RESET_NANOS: u64 = 60 * NANOS_PER_SECOND;

/// A token bucket refilling at a fixed rate of spans per second of span time.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens added per second, and the bucket's capacity.
    per_second: u64,
    /// Nano-tokens in the bucket, at most `per_second * 10^9`.
    tokens: u64,
    /// The latest span end time seen (Unix nanoseconds); `None` before the first span.
    clock: Option<u64>,
}

impl TokenBucket {
    /// A full bucket letting through `per_second` spans per second, with a burst of as many.
    pub fn new(per_second: NonZeroU32) -> TokenBucket {
        let per_second = u64::from(per_second.get());
        TokenBucket {
            per_second,
            tokens: per_second * NANOS_PER_SECOND,
            clock: None,
        }
    }

    /// Whether a span that ended at `end_unix_nano` may pass; if so, it takes a token.
    pub fn try_take(&mut self, end_unix_nano: u64) -> bool {
        self.advance(end_unix_nano);
        match self.tokens.checked_sub(NANOS_PER_SECOND) {
            Some(rest) => {
                self.tokens = rest;
                true
            }
            None => false,
        }
    }

    /// Moves the clock to `now` and refills for the time elapsed.
    fn advance(&mut self, now: u64) {
        if now == 0 {
            return;
        }
        match self.clock {
            Some(last) if now > last => {
                // Beyond one second the bucket is full anyway; capping keeps the product
                // below 2^63 (10^9 * u32::MAX).
                let elapsed = (now - last).min(NANOS_PER_SECOND);
                let capacity = self.per_second * NANOS_PER_SECOND;
                self.tokens = (self.tokens + elapsed * self.per_second).min(capacity);
                self.clock = Some(now);
            }
            Some(last) if last - now > SKEW_RESET_NANOS => self.clock = Some(now),
            Some(_) => {}
            None => self.clock = Some(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000_000_000;
    const MS: u64 = 1_000_000;

    fn bucket(per_second: u32) -> TokenBucket {
        TokenBucket::new(NonZeroU32::new(per_second).unwrap())
    }

    /// How many of `n` spans ending at `at` pass.
    fn passes(bucket: &mut TokenBucket, n: usize, at: u64) -> usize {
        (0..n).filter(|_| bucket.try_take(at)).count()
    }

    #[test]
    fn starts_full_with_one_second_of_burst() {
        let mut b = bucket(10);
        assert_eq!(passes(&mut b, 15, T0), 10);
    }

    #[test]
    fn refills_at_the_configured_rate_of_span_time() {
        let mut b = bucket(10);
        assert_eq!(passes(&mut b, 10, T0), 10);
        // 100 ms of span time is one token at 10 per second; 50 ms is half of one.
        assert_eq!(passes(&mut b, 5, T0 + 50 * MS), 0);
        assert_eq!(passes(&mut b, 5, T0 + 100 * MS), 1);
        assert_eq!(passes(&mut b, 5, T0 + 350 * MS), 2);
        // A long pause refills to capacity, no more.
        assert_eq!(passes(&mut b, 50, T0 + 3600 * NANOS_PER_SECOND), 10);
    }

    #[test]
    fn sustains_the_rate_over_many_seconds() {
        let mut b = bucket(100);
        // 1000 spans a second for 10 seconds, evenly spread: 100 a second pass (plus the
        // initial burst of 100).
        let passed = (0..10_000u64).filter(|i| b.try_take(T0 + i * MS)).count();
        assert!((1090..=1110).contains(&passed), "{passed}");
    }

    #[test]
    fn late_spans_do_not_refill() {
        let mut b = bucket(10);
        assert_eq!(passes(&mut b, 10, T0 + NANOS_PER_SECOND), 10);
        // Spans that ended earlier than the clock (arriving out of order) add no time.
        for back in [900, 500, 100] {
            assert_eq!(passes(&mut b, 1, T0 + NANOS_PER_SECOND - back * MS), 0);
        }
        assert_eq!(passes(&mut b, 1, T0 + NANOS_PER_SECOND), 0);
    }

    #[test]
    fn a_span_from_the_future_does_not_stall_the_bucket() {
        let mut b = bucket(10);
        assert_eq!(passes(&mut b, 10, T0), 10);
        // A host whose clock runs an hour ahead moves the clock there...
        let future = T0 + 3600 * NANOS_PER_SECOND;
        assert_eq!(passes(&mut b, 10, future), 10);
        // ...the next honest span re-anchors it, and refills resume with real time.
        assert_eq!(passes(&mut b, 1, T0 + NANOS_PER_SECOND), 0);
        assert_eq!(passes(&mut b, 10, T0 + 2 * NANOS_PER_SECOND), 10);
    }

    #[test]
    fn spans_without_an_end_time_do_not_move_the_clock() {
        let mut b = bucket(1);
        assert!(b.try_take(T0));
        assert!(!b.try_take(0));
        assert!(b.try_take(T0 + NANOS_PER_SECOND));
    }

    #[test]
    fn the_largest_rate_does_not_overflow() {
        let mut b = bucket(u32::MAX);
        assert!(b.try_take(T0));
        assert!(b.try_take(T0 + 10 * NANOS_PER_SECOND));
        assert!(b.try_take(u64::MAX));
    }
}
