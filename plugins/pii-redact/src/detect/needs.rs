//! Which detectors a value's [`Profile`] meets, found with one table look-up per profile field.

use super::{Needs, Profile};

/// Profile fields and minimums are told apart up to this; past it every count is this one.
/// Saturating both sides can only let more values through to a detector, never fewer.
const SATURATED: usize = 127;

/// The fields of a [`Profile`].
const FIELDS: usize = 8;

/// The detectors' [`Needs`], kept so that the detectors a value meets come out of eight table
/// look-ups and seven ANDs, whatever the number of detectors: for each profile field and each
/// count of it, the set of detectors whose minimum for that field the count reaches. A value
/// meets a detector's needs when it reaches all eight of its minimums.
#[derive(Default)]
pub(crate) struct NeedsTable {
    /// One block per 64 detectors, in the order they were pushed.
    blocks: Vec<Block>,
    /// The detectors pushed.
    len: usize,
}

/// Bit `d` of `reached[field][count]` is set when detector `d` of the block needs at most
/// `count` of `field`.
struct Block {
    reached: Box<[[u64; SATURATED + 1]; FIELDS]>,
}

impl NeedsTable {
    /// Adds the next detector's needs.
    pub(crate) fn push(&mut self, needs: &Needs) {
        if self.len.is_multiple_of(64) {
            self.blocks.push(Block {
                reached: Box::new([[0; SATURATED + 1]; FIELDS]),
            });
        }
        let bit = 1u64 << (self.len % 64);
        let block = self.blocks.last_mut().expect("a block was just pushed");
        for (row, minimum) in block.reached.iter_mut().zip(needs.saturated()) {
            for reached in &mut row[minimum..] {
                *reached |= bit;
            }
        }
        self.len += 1;
    }

    /// The indices of the detectors whose needs `profile` meets, in the order they were pushed.
    pub(crate) fn met_by(&self, profile: &Profile) -> impl Iterator<Item = usize> + '_ {
        let counts = profile.saturated();
        self.blocks
            .iter()
            .enumerate()
            .flat_map(move |(index, block)| {
                let met = block
                    .reached
                    .iter()
                    .zip(counts)
                    .fold(u64::MAX, |met, (row, count)| met & row[count]);
                Bits(met).map(move |bit| index * 64 + bit)
            })
    }
}

impl Profile {
    /// The eight fields, each at most [`SATURATED`].
    fn saturated(&self) -> [usize; FIELDS] {
        [
            self.len,
            self.digits,
            self.upper,
            self.at_signs,
            self.dots,
            self.colons,
            self.spaces,
            self.run_digits,
        ]
        .map(|count| count.min(SATURATED))
    }

    /// Whether this profile meets every minimum of `needs`, field by field (the table's rule,
    /// one detector at a time).
    #[cfg(test)]
    pub(crate) fn meets(&self, needs: &Needs) -> bool {
        self.saturated()
            .into_iter()
            .zip(needs.saturated())
            .all(|(count, minimum)| count >= minimum)
    }
}

/// The set bits of a word, lowest first.
struct Bits(u64);

impl Iterator for Bits {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs of every shape: each field's minimum 0, small, at the saturation point and past
    /// it, over more detectors than one block holds.
    fn assorted_needs() -> Vec<Needs> {
        let minimums = [0, 1, 2, 3, 8, 13, 126, 127, 128, 300];
        (0..150)
            .map(|n: usize| {
                let pick = |field: usize| minimums[(n * 7 + field * 3 + n / 10) % minimums.len()];
                Needs {
                    len: pick(0),
                    digits: pick(1),
                    upper: pick(2),
                    at_signs: pick(3),
                    dots: pick(4),
                    colons: pick(5),
                    spaces: pick(6),
                    run_digits: pick(7),
                }
            })
            .collect()
    }

    #[test]
    fn the_table_finds_exactly_the_detectors_a_profile_meets_in_order() {
        let needs = assorted_needs();
        let mut table = NeedsTable::default();
        for n in &needs {
            table.push(n);
        }
        // Profiles of real values, and profiles at every minimum (each needs read as a
        // profile meets itself, and falls one short of itself field by field).
        let mut profiles: Vec<Profile> = [
            "",
            "a",
            "GET /api/catalog/items/48213",
            "Mail bob@x.io: 42 % and 4111 1111 1111 1111",
            &"A1.: @%".repeat(40),
            &"9".repeat(500),
        ]
        .iter()
        .map(|text| Profile::of(text))
        .collect();
        for n in &needs {
            profiles.push(*n);
            profiles.push(Profile {
                len: n.len.saturating_sub(1),
                ..*n
            });
            profiles.push(Profile {
                run_digits: n.run_digits.saturating_sub(1),
                ..*n
            });
        }
        for profile in profiles {
            let expected: Vec<usize> = (0..needs.len())
                .filter(|&d| profile.meets(&needs[d]))
                .collect();
            let found: Vec<usize> = table.met_by(&profile).collect();
            assert_eq!(found, expected, "{profile:?}");
        }
    }

    #[test]
    fn an_empty_table_meets_nothing() {
        assert_eq!(NeedsTable::default().met_by(&Profile::of("x")).count(), 0);
    }
}
