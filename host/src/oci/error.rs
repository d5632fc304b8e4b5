//! Why a pull or a push failed. Messages name the registry and what was asked for; the
//! caller adds the reference.

use super::reference::ReferenceError;

/// Why a pull or a push failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// No answer: the connection, TLS or a timeout failed. A tag falls back to its cached
    /// digest on this.
    #[error("cannot reach registry {registry}: {reason}")]
    Unreachable {
        /// `host[:port]`.
        registry: String,
        /// What failed.
        reason: String,
    },
    /// An HTTP error other than authentication or not-found.
    #[error("registry {registry} answered {status} to {what}: {message}")]
    Status {
        /// `host[:port]`.
        registry: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error message.
        message: String,
    },
    /// The registry wants credentials Weft does not have, or refused the ones it sent.
    #[error("registry {registry} refused access: {reason}")]
    Unauthorized {
        /// `host[:port]`.
        registry: String,
        /// Why, and where credentials come from.
        reason: String,
    },
    /// The manifest or blob does not exist.
    #[error("{what} not found in registry {registry}")]
    NotFound {
        /// `host[:port]`.
        registry: String,
        /// What was asked for.
        what: String,
    },
    /// Bytes that do not hash to the digest they were asked for or announced with.
    #[error("{what} digest mismatch: expected {expected}, actual {actual}{note}")]
    DigestMismatch {
        /// `manifest` or `layer`.
        what: &'static str,
        /// The digest asked for (pinned, or named by the manifest).
        expected: String,
        /// The digest of what was served.
        actual: String,
        /// More context, starting with a separator, or empty.
        note: String,
    },
    /// More bytes than a component may have.
    #[error("the {what} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// What was being read.
        what: String,
        /// The limit.
        limit: usize,
    },
    /// What the registry served is not a Wasm artifact Weft can load.
    #[error("{0}")]
    Invalid(String),
    /// A local problem: TLS settings, a file to push, the fetch thread.
    #[error("{0}")]
    Local(String),
}

impl OciError {
    /// Whether the registry could not be asked (no connection, a timeout, a 5xx answer):
    /// what a tag's cached digest stands in for.
    pub fn is_unavailable(&self) -> bool {
        match self {
            OciError::Unreachable { .. } => true,
            OciError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}
