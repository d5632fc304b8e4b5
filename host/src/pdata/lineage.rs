//! Where a batch's data came from, as tokens the data keeps alive.
//!
//! The pipeline gives each accepted request a token (the persistent queue's record that holds
//! it); every part of the request's data carries the token along — through the chain, into
//! the tail-sampling stage's fragments, into the batches joined from them — and drops it when
//! that part is sent on or dropped. What the token means is its owner's business: this module
//! only keeps the set, without duplicates.

use std::any::Any;
use std::sync::Arc;

/// One token: shared, and alive while any data that came from its source is.
pub type Token = Arc<dyn Any + Send + Sync>;

/// The tokens of every source a batch's data came from; empty when nobody tracks sources.
#[derive(Clone, Default)]
pub struct Lineage(Vec<Token>);

impl Lineage {
    /// The lineage of data from one source.
    pub fn of(token: Token) -> Self {
        Lineage(vec![token])
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every token, each once.
    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.0.iter()
    }

    /// Adds `other`'s tokens that this lineage does not hold yet.
    pub fn merge(&mut self, other: &Lineage) {
        for token in &other.0 {
            if !self.0.iter().any(|held| Arc::ptr_eq(held, token)) {
                self.0.push(token.clone());
            }
        }
    }

    /// The lineage of data joined from parts with these lineages (many parts may share a
    /// source: each is kept once, found by its address).
    pub fn gather<'a>(parts: impl IntoIterator<Item = &'a Lineage>) -> Lineage {
        let mut seen = std::collections::HashSet::new();
        let mut all = Lineage::default();
        for token in parts.into_iter().flat_map(|part| &part.0) {
            if seen.insert(Arc::as_ptr(token) as *const () as usize) {
                all.0.push(token.clone());
            }
        }
        all
    }
}

impl std::fmt::Debug for Lineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Lineage({} sources)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathering_keeps_each_source_once_and_alive() {
        let first: Token = Arc::new(1u64);
        let second: Token = Arc::new(2u64);
        let a = Lineage::of(first.clone());
        let mut b = Lineage::of(second.clone());
        b.merge(&a);
        let all = Lineage::gather([&a, &b, &a]);
        assert_eq!(all.tokens().count(), 2);
        drop((a, b));
        assert_eq!(Arc::strong_count(&first), 2, "held by `first` and `all`");
        drop(all);
        assert_eq!(Arc::strong_count(&second), 1);
    }
}
