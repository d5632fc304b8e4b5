//! Why the pipeline refuses a request: what receivers turn into a retryable or a final answer.

/// Why a receiver could not hand a request to the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The queue stayed full for the whole enqueue timeout: the client should retry later.
    #[error("the pipeline is at capacity; retry later")]
    Busy,
    /// The pipeline is shutting down.
    #[error("the pipeline is shutting down")]
    ShuttingDown,
    /// The persistent queue reached its disk cap: the client should retry once exporters
    /// have caught up.
    #[error("the persistent queue is full; retry later")]
    DiskFull,
    /// Writing to the persistent queue failed (see the log): nothing more is accepted.
    #[error("the persistent queue cannot be written; retry later")]
    StorageFailed,
    /// Decoded, the request would take more than the pipeline's whole memory ceiling:
    /// retrying cannot help, the client must send smaller requests.
    #[error(
        "the request would take about {estimate} bytes decoded, more than the pipeline's \
         {limit}-byte memory ceiling; send smaller requests"
    )]
    TooLarge {
        /// Estimated decoded size of the request.
        estimate: usize,
        /// The ceiling.
        limit: usize,
    },
}

impl Refusal {
    /// The refusal for a request the persistent queue could not take.
    pub fn from_log(error: &crate::durable::LogError) -> Self {
        use crate::durable::LogError;
        match error {
            LogError::Full { .. } => Refusal::DiskFull,
            LogError::TooLarge { size, max } => Refusal::TooLarge {
                estimate: *size,
                limit: *max,
            },
            LogError::Closed => Refusal::ShuttingDown,
            LogError::Io { .. } => Refusal::StorageFailed,
        }
    }

    /// Whether the client should retry the same request later.
    pub fn retryable(self) -> bool {
        !matches!(self, Refusal::TooLarge { .. })
    }
}
