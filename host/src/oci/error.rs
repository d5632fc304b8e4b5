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

/// The `message`s of a registry's `{"errors": [...]}` body, else its start.
pub(super) fn registry_message(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let messages: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v["errors"].as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let code = e["code"].as_str().unwrap_or_default();
                    let message = e["message"].as_str().unwrap_or_default();
                    format!("{code} {message}").trim().to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    if messages.is_empty() {
        let mut text = String::from_utf8_lossy(body).trim().to_owned();
        crate::codec::truncate_at_char(&mut text, 200);
        text
    } else {
        messages.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_errors_are_read_from_their_json() {
        let body =
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(registry_message(body), "MANIFEST_UNKNOWN manifest unknown");
        assert_eq!(registry_message(b"  plain text\n"), "plain text");
    }
}
