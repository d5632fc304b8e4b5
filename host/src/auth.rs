//! Bearer-token checks for the receivers and the admin server.
//!
//! Tokens are kept as SHA-256 digests and a presented token is compared with every one of them
//! without stopping at the first difference, so neither the comparison's time nor the memory
//! of the process gives a token away byte by byte.

use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

/// The tokens one server accepts.
#[derive(Clone)]
pub struct BearerTokens {
    digests: Vec<[u8; 32]>,
}

/// Why a request's credentials were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    /// No `authorization` header.
    #[error("no authorization header: send `authorization: Bearer <token>`")]
    Missing,
    /// A header that is not `Bearer <token>`.
    #[error("the authorization header is not `Bearer <token>`")]
    NotBearer,
    /// A token that is not one of the configured ones.
    #[error("the bearer token is not valid")]
    Invalid,
}

impl BearerTokens {
    /// Accepts exactly `tokens`.
    pub fn new<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Self {
        BearerTokens {
            digests: tokens.into_iter().map(digest).collect(),
        }
    }

    /// Checks the value of an `authorization` header.
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), Unauthenticated> {
        let header = header.ok_or(Unauthenticated::Missing)?;
        let token = bearer_token(header).ok_or(Unauthenticated::NotBearer)?;
        let presented = digest_bytes(token);
        let mut matched = 0u8;
        for known in &self.digests {
            let difference = known
                .iter()
                .zip(presented.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b));
            matched |= u8::from(difference == 0);
        }
        if matched == 1 {
            Ok(())
        } else {
            Err(Unauthenticated::Invalid)
        }
    }
}

impl std::fmt::Debug for BearerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BearerTokens({} tokens)", self.digests.len())
    }
}

/// A server's current tokens, replaced when a reload changes them; `None` lets every
/// request through.
#[derive(Debug, Default)]
pub struct TokenGate(RwLock<Option<Arc<BearerTokens>>>);

impl TokenGate {
    /// Requires `tokens` from now on (`None`: nothing).
    pub fn set(&self, tokens: Option<BearerTokens>) {
        *crate::sync::write(&self.0) = tokens.map(Arc::new);
    }

    /// Checks a request's `authorization` header against the current tokens.
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), Unauthenticated> {
        let tokens = crate::sync::read(&self.0).clone();
        match tokens {
            None => Ok(()),
            Some(tokens) => tokens.check(header),
        }
    }
}

/// The token of `Bearer <token>` (the scheme's case ignored, as HTTP says).
fn bearer_token(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

fn digest(token: &str) -> [u8; 32] {
    digest_bytes(token.as_bytes())
}

fn digest_bytes(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_configured_token_and_refuses_everything_else_with_the_reason() {
        let tokens = BearerTokens::new(["t0k3n-one", "t0k3n-two"]);
        assert_eq!(tokens.check(Some(b"Bearer t0k3n-one")), Ok(()));
        assert_eq!(tokens.check(Some(b"bearer t0k3n-two ")), Ok(()));
        assert_eq!(tokens.check(None), Err(Unauthenticated::Missing));
        assert_eq!(
            tokens.check(Some(b"Basic dXNlcjpwYXNz")),
            Err(Unauthenticated::NotBearer)
        );
        assert_eq!(
            tokens.check(Some(b"Bearer ")),
            Err(Unauthenticated::NotBearer)
        );
        assert_eq!(
            tokens.check(Some(b"Bearer t0k3n-one-and-more")),
            Err(Unauthenticated::Invalid)
        );
        assert_eq!(
            tokens.check(Some(b"Bearer t0k3n-on")),
            Err(Unauthenticated::Invalid)
        );
    }

    #[test]
    fn a_gate_lets_everything_through_until_tokens_are_set_and_follows_changes() {
        let gate = TokenGate::default();
        assert_eq!(gate.check(None), Ok(()));
        gate.set(Some(BearerTokens::new(["old"])));
        assert_eq!(gate.check(Some(b"Bearer old")), Ok(()));
        gate.set(Some(BearerTokens::new(["new"])));
        assert_eq!(
            gate.check(Some(b"Bearer old")),
            Err(Unauthenticated::Invalid)
        );
        assert_eq!(gate.check(Some(b"Bearer new")), Ok(()));
        assert!(!format!("{:?}", BearerTokens::new(["new"])).contains("new\""));
    }
}
