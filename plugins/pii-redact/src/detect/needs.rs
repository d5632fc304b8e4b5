//! Which detectors a value's [`Profile`] meets, found with one table look-up per profile field
//! (and, for the credential detectors, the anchors of the value: see [`Anchors`]).

use super::secrets::Anchors;
use super::{Needs, Profile};

/// Profile fields and minimums are told apart up to this; past it every count is this one.
/// Saturating both sides can only let more values through to a detector, never fewer.
const SATURATED: usize = 127;

/// The fields of a [`Profile`].
const FIELDS: usize = 9;

/// The detectors' [`Needs`], kept so that the detectors a value meets come out of nine table
/// look-ups and eight ANDs, whatever the number of detectors: for each profile field and each
/// count of it, the set of detectors whose minimum for that field the count reaches. A value
/// meets a detector's needs when it reaches all nine of its minimums.
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
    /// The detectors that also need an anchor ([`Detector::anchors`](super::Detector::anchors)).
    gated: u64,
    /// Bit `d` of `by_anchor[a]` is set when detector `d` of the block needs anchor `a` (one
    /// of its anchors).
    by_anchor: [u64; 32],
}

impl NeedsTable {
    /// Adds the next detector's needs: its profile minimums and the anchors it needs one of
    /// (0: none).
    pub(crate) fn push(&mut self, needs: &Needs, anchors: u32) {
        if self.len.is_multiple_of(64) {
            self.blocks.push(Block {
                reached: Box::new([[0; SATURATED + 1]; FIELDS]),
                gated: 0,
                by_anchor: [0; 32],
            });
        }
        let bit = 1u64 << (self.len % 64);
        let block = self.blocks.last_mut().expect("a block was just pushed");
        for (row, minimum) in block.reached.iter_mut().zip(needs.saturated()) {
            for reached in &mut row[minimum..] {
                *reached |= bit;
            }
        }
        if anchors != 0 {
            block.gated |= bit;
            for anchor in Bits(u64::from(anchors)) {
                block.by_anchor[anchor] |= bit;
            }
        }
        self.len += 1;
    }

    /// The indices of the detectors whose needs `profile` (of `text`) meets, in the order they
    /// were pushed. When the profile meets a gated detector's minimums, the anchors of `text`
    /// are found (once) and the detector stays only if one of its anchors is there: a clean
    /// value costs one pass over it for all the credential detectors, and none is called.
    pub(crate) fn met_by<'a>(
        &'a self,
        profile: &Profile,
        text: &'a str,
    ) -> impl Iterator<Item = usize> + 'a {
        let counts = profile.saturated();
        let mut anchors = None;
        self.blocks
            .iter()
            .enumerate()
            .flat_map(move |(index, block)| {
                let mut met = block
                    .reached
                    .iter()
                    .zip(counts)
                    .fold(u64::MAX, |met, (row, count)| met & row[count]);
                if met & block.gated != 0 {
                    let found = *anchors.get_or_insert_with(|| Anchors::of(text.as_bytes()));
                    let anchored = Bits(u64::from(found.bits()))
                        .fold(0, |anchored, anchor| anchored | block.by_anchor[anchor]);
                    met &= !block.gated | anchored;
                }
                Bits(met).map(move |bit| index * 64 + bit)
            })
    }
}

impl Profile {
    /// The nine fields, each at most [`SATURATED`].
    fn saturated(&self) -> [usize; FIELDS] {
        [
            self.len,
            self.digits,
            self.upper,
            self.at_signs,
            self.dots,
            self.colons,
            self.spaces,
            self.key_separators,
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
                    key_separators: pick(7),
                    run_digits: pick(8),
                }
            })
            .collect()
    }

    #[test]
    fn the_table_finds_exactly_the_detectors_a_profile_meets_in_order() {
        let needs = assorted_needs();
        let mut table = NeedsTable::default();
        for n in &needs {
            table.push(n, 0);
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
            let found: Vec<usize> = table.met_by(&profile, "").collect();
            assert_eq!(found, expected, "{profile:?}");
        }
    }

    #[test]
    fn an_empty_table_meets_nothing() {
        assert_eq!(
            NeedsTable::default().met_by(&Profile::of("x"), "x").count(),
            0
        );
    }

    #[test]
    fn gated_detectors_stay_only_where_one_of_their_anchors_is() {
        use super::super::Credential;
        let mut table = NeedsTable::default();
        let aws = Credential::AwsAccessKey.detector();
        let github = Credential::GithubToken.detector();
        table.push(&Needs::NOTHING, 0);
        table.push(&aws.needs(), aws.anchors());
        table.push(&github.needs(), github.anchors());
        let met = |text: &str| -> Vec<usize> { table.met_by(&Profile::of(text), text).collect() };
        let padding = "x".repeat(40);
        assert_eq!(met(&format!("AKIA {padding}")), [0, 1]);
        assert_eq!(met(&format!("ghp_ AKIA {padding}")), [0, 1, 2]);
        assert_eq!(met(&format!("ghp_ {padding}")), [0, 2]);
        assert_eq!(met(&padding), [0]);
        // Short of the minimums, the anchors are not even looked for.
        assert_eq!(met("AKIA ghp_"), [0]);
    }
}
