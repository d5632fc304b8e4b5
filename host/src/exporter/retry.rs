//! Retrying failed exports with exponential backoff.

use std::time::{Duration, Instant};

use crate::config::RetryConfig;

/// Why an export attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExportError {
    /// Whether the OTLP specification says the request may be retried.
    pub retryable: bool,
    /// How long the server asked us to wait, if it said.
    pub retry_after: Option<Duration>,
    /// What went wrong.
    pub message: String,
}

impl ExportError {
    /// A failure worth retrying.
    pub fn retryable(message: impl Into<String>) -> Self {
        ExportError {
            retryable: true,
            retry_after: None,
            message: message.into(),
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        ExportError {
            retryable: false,
            retry_after: None,
            message: message.into(),
        }
    }
}

/// Calls `attempt` until it succeeds, fails permanently, or the retry budget runs out.
/// `on_retry` is called before each wait. Returns the success's value, or the last error.
pub async fn with_retries<T, F, Fut>(
    config: &RetryConfig,
    mut attempt: F,
    mut on_retry: impl FnMut(&ExportError),
) -> Result<T, ExportError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ExportError>>,
{
    let started = Instant::now();
    let budget = Duration::from_millis(config.max_elapsed_ms);
    let mut backoff = Duration::from_millis(config.initial_backoff_ms.max(1));
    let max_backoff = Duration::from_millis(config.max_backoff_ms.max(config.initial_backoff_ms));
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let wait = error
            .retry_after
            .unwrap_or(backoff)
            .min(max_backoff.max(Duration::from_millis(1)));
        if !error.retryable || started.elapsed() + wait > budget {
            return Err(error);
        }
        on_retry(&error);
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(max_backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryConfig {
        RetryConfig {
            initial_backoff_ms: 1,
            max_backoff_ms: 4,
            max_elapsed_ms: 2_000,
        }
    }

    #[tokio::test]
    async fn retries_retryable_errors_until_success() {
        let calls = AtomicU32::new(0);
        let result = with_retries(
            &fast(),
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 3 {
                    Err(ExportError::retryable("busy"))
                } else {
                    Ok(())
                }
            },
            |_| {},
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn gives_up_at_once_on_permanent_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(
            &fast(),
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ExportError::permanent("bad request"))
            },
            |_| {},
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn stops_when_the_time_budget_is_spent() {
        let config = RetryConfig {
            initial_backoff_ms: 5,
            max_backoff_ms: 5,
            max_elapsed_ms: 30,
        };
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = with_retries(
            &config,
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(ExportError::retryable("down"))
            },
            |_| {},
        )
        .await;
        assert!(result.is_err());
        // The budget allows at most 30 / 5 + 1 attempts; a stalled machine may make fewer.
        let n = calls.load(Ordering::SeqCst);
        assert!((1..=7).contains(&n), "{n} attempts");
    }
}
