//! The decision cache: recent verdicts by trace id, so late spans follow them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::fragments::TraceId;

/// Remembers up to `capacity` decisions for `ttl` each. The oldest are forgotten first.
#[derive(Debug)]
pub struct DecisionCache {
    verdicts: HashMap<TraceId, (bool, Instant)>,
    order: VecDeque<(TraceId, Instant)>,
    capacity: usize,
    ttl: Duration,
}

impl DecisionCache {
    /// An empty cache.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        DecisionCache {
            verdicts: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Changes the bounds (a reloaded config); excess entries go at the next insert.
    pub fn resize(&mut self, capacity: usize, ttl: Duration) {
        self.capacity = capacity.max(1);
        self.ttl = ttl;
    }

    /// The verdict for `key` (`true` = kept), if decided within the TTL.
    pub fn get(&self, key: &TraceId, now: Instant) -> Option<bool> {
        match self.verdicts.get(key) {
            Some((keep, at)) if now.saturating_duration_since(*at) < self.ttl => Some(*keep),
            _ => None,
        }
    }

    /// Records a verdict, forgetting expired and excess entries.
    pub fn insert(&mut self, key: TraceId, keep: bool, now: Instant) {
        self.verdicts.insert(key, (keep, now));
        self.order.push_back((key, now));
        while let Some(&(oldest, at)) = self.order.front() {
            let expired = now.saturating_duration_since(at) >= self.ttl;
            if !expired && self.order.len() <= self.capacity {
                break;
            }
            self.order.pop_front();
            // Only forget the entry if it was not decided again since.
            if self.verdicts.get(&oldest).is_some_and(|(_, t)| *t == at) {
                self.verdicts.remove(&oldest);
            }
        }
    }

    /// How many verdicts are remembered.
    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    /// Whether no verdict is remembered.
    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_within_capacity_and_ttl() {
        let now = Instant::now();
        let mut cache = DecisionCache::new(2, Duration::from_secs(10));
        cache.insert([1; 16], true, now);
        cache.insert([2; 16], false, now);
        assert_eq!(cache.get(&[1; 16], now), Some(true));
        assert_eq!(cache.get(&[2; 16], now), Some(false));
        cache.insert([3; 16], true, now);
        assert_eq!(cache.get(&[1; 16], now), None, "the oldest goes first");
        assert_eq!(cache.len(), 2);
        let later = now + Duration::from_secs(11);
        assert_eq!(cache.get(&[3; 16], later), None, "expired");
        cache.insert([4; 16], true, later);
        assert_eq!(cache.len(), 1);
    }
}
