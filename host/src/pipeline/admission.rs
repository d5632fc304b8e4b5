//! Admission control by memory: requests reserve their decoded footprint from one budget
//! before they are decoded, and give it back once the pipeline has handed their spans on.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::telemetry::Metrics;

use super::footprint::Footprint;
use super::refusal::Refusal;

/// The memory ceiling shared by every receiver: the estimated decoded size of the requests
/// the pipeline holds, from admission until their spans reach the exporters' queues.
#[derive(Clone)]
pub struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    limit: usize,
    metrics: Arc<Metrics>,
}

/// A request's share of the [`MemoryBudget`]; dropping it gives the share back.
pub struct MemoryPermit {
    _permit: Option<OwnedSemaphorePermit>,
    bytes: usize,
    metrics: Arc<Metrics>,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize, metrics: Arc<Metrics>) -> Self {
        // A semaphore holds at most `Semaphore::MAX_PERMITS`; a permit is one byte.
        let limit = limit.clamp(1, Semaphore::MAX_PERMITS);
        metrics
            .memory_limit_bytes
            .store(limit as u64, Ordering::Relaxed);
        MemoryBudget {
            semaphore: Arc::new(Semaphore::new(limit)),
            limit,
            metrics,
        }
    }

    /// The ceiling, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Reserves `footprint`, waiting up to `timeout` for others to give memory back. A
    /// request larger than the whole budget is refused at once ([`Refusal::TooLarge`]:
    /// waiting cannot help); one that does not fit in time is refused as busy (retryable).
    pub async fn reserve(
        &self,
        footprint: Footprint,
        timeout: Duration,
    ) -> Result<MemoryPermit, Refusal> {
        if footprint.bytes > self.limit {
            return Err(Refusal::TooLarge {
                estimate: footprint.bytes,
                limit: self.limit,
            });
        }
        // Bounded by the limit, which fits a semaphore; u32 is what `acquire_many` takes.
        let bytes = footprint.bytes;
        let permit = match u32::try_from(bytes) {
            Ok(0) => None,
            Ok(n) => Some(self.acquire(n, timeout).await?),
            Err(_) => {
                return Err(Refusal::TooLarge {
                    estimate: bytes,
                    limit: u32::MAX as usize,
                });
            }
        };
        self.metrics
            .memory_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        Ok(MemoryPermit {
            _permit: permit,
            bytes,
            metrics: self.metrics.clone(),
        })
    }

    async fn acquire(&self, n: u32, timeout: Duration) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Ok(permit) = self.semaphore.clone().try_acquire_many_owned(n) {
            return Ok(permit);
        }
        match tokio::time::timeout(timeout, self.semaphore.clone().acquire_many_owned(n)).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(Refusal::ShuttingDown),
            Err(_) => {
                self.metrics.memory_refusals.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::Busy)
            }
        }
    }
}

impl MemoryPermit {
    /// The bytes this permit holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for MemoryPermit {
    fn drop(&mut self) {
        self.metrics
            .memory_bytes
            .fetch_sub(self.bytes as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footprint(bytes: usize) -> Footprint {
        Footprint { bytes, spans: 1 }
    }

    #[tokio::test]
    async fn waits_for_memory_given_back_and_refuses_when_none_comes() {
        let metrics = Arc::new(Metrics::default());
        let budget = MemoryBudget::new(1000, metrics.clone());
        let first = budget
            .reserve(footprint(600), Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(metrics.memory_bytes.load(Ordering::Relaxed), 600);
        let refused = budget
            .reserve(footprint(600), Duration::from_millis(20))
            .await;
        assert!(matches!(refused, Err(Refusal::Busy)));
        assert_eq!(metrics.memory_refusals.load(Ordering::Relaxed), 1);

        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move {
                budget
                    .reserve(footprint(600), Duration::from_secs(10))
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(first);
        let second = waiting.await.unwrap().unwrap();
        assert_eq!(second.bytes(), 600);
        assert_eq!(metrics.memory_bytes.load(Ordering::Relaxed), 600);
        drop(second);
        assert_eq!(metrics.memory_bytes.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn a_request_larger_than_the_whole_budget_is_refused_at_once() {
        let budget = MemoryBudget::new(1000, Arc::new(Metrics::default()));
        let refused = budget
            .reserve(footprint(1001), Duration::from_secs(60))
            .await;
        assert!(matches!(
            refused,
            Err(Refusal::TooLarge {
                estimate: 1001,
                limit: 1000
            })
        ));
    }
}
