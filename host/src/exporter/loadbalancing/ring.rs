//! The consistent-hash ring: each backend owns the arcs before its points, so adding or
//! removing one backend moves only the keys of the arcs it gains or loses (about 1/N).

/// Points each backend places on the ring: enough that shares stay within a few percent.
const POINTS_PER_BACKEND: usize = 160;

/// Backends placed on a ring of 64-bit hashes.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    /// (point, backend index), sorted by point.
    points: Vec<(u64, usize)>,
    backends: Vec<String>,
}

impl Ring {
    /// A ring of `backends` (their order does not matter).
    pub fn new(backends: impl IntoIterator<Item = String>) -> Ring {
        let mut backends: Vec<String> = backends.into_iter().collect();
        backends.sort();
        backends.dedup();
        let mut points = Vec::with_capacity(backends.len() * POINTS_PER_BACKEND);
        for (index, backend) in backends.iter().enumerate() {
            for point in 0..POINTS_PER_BACKEND {
                points.push((hash(format!("{backend}#{point}").as_bytes()), index));
            }
        }
        points.sort_unstable();
        Ring { points, backends }
    }

    /// The backends on the ring, sorted.
    pub fn backends(&self) -> &[String] {
        &self.backends
    }

    /// Whether no backend is on the ring.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// The index (in [`Ring::backends`]) of the backend that owns `key`.
    pub fn owner(&self, key: &[u8]) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let at = hash(key);
        let next = self.points.partition_point(|(point, _)| *point < at);
        Some(self.points[next % self.points.len()].1)
    }
}

/// FNV-1a over `bytes`, then a final mix (SplitMix64's) so that keys differing in a few
/// bits land far apart.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> impl Iterator<Item = [u8; 16]> {
        (0u64..30_000).map(|n| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&n.to_be_bytes());
            id[8..].copy_from_slice(&(n * 7919).to_le_bytes());
            id
        })
    }

    fn owners(ring: &Ring) -> Vec<String> {
        keys()
            .map(|k| ring.backends()[ring.owner(&k).unwrap()].clone())
            .collect()
    }

    #[test]
    fn keys_spread_evenly_and_a_removal_moves_only_the_removed_backends_keys() {
        let names = |n: usize| (0..n).map(|i| format!("10.0.0.{i}:4317"));
        let three = Ring::new(names(3));
        let before = owners(&three);
        for backend in three.backends() {
            let share = before.iter().filter(|o| *o == backend).count() as f64 / 30_000.0;
            assert!((0.25..0.42).contains(&share), "{backend}: {share}");
        }
        let two = Ring::new(names(2));
        let after = owners(&two);
        for (was, now) in before.iter().zip(&after) {
            if was != "10.0.0.2:4317" {
                assert_eq!(was, now, "a key of a backend that stayed moved");
            }
        }
        // Adding a fourth takes about a quarter, from all three.
        let four = owners(&Ring::new(names(4)));
        let moved = before.iter().zip(&four).filter(|(a, b)| a != b).count();
        let moved = moved as f64 / 30_000.0;
        assert!((0.17..0.33).contains(&moved), "{moved}");
    }

    #[test]
    fn the_order_backends_are_listed_in_does_not_matter() {
        let a = Ring::new(["b:1".to_owned(), "a:1".to_owned()]);
        let b = Ring::new(["a:1".to_owned(), "b:1".to_owned(), "a:1".to_owned()]);
        assert_eq!(owners(&a), owners(&b));
        assert!(Ring::new([]).owner(b"x").is_none());
    }
}
