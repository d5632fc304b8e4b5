//! Statistical checks of ratio sampling over many trace ids, through the whole processor.

use weft_plugin_sample::{Sample, ratio};
use weft_sdk::testing::{BatchBuilder, SplitMix64, run};
use weft_sdk::{Edit, Processor, TraceId};

const TRACES: usize = 100_000;
const BATCH: usize = 1_000;

/// `TRACES` distinct pseudo-random trace ids.
fn trace_ids(seed: u64) -> Vec<TraceId> {
    let mut random = SplitMix64(seed);
    (0..TRACES)
        .map(|_| TraceId {
            high: random.next(),
            low: random.next(),
        })
        .collect()
}

/// Whether `sampler` keeps a span of each trace, one span per trace, in batches.
fn verdicts(sampler: &mut Sample, ids: &[TraceId]) -> Vec<bool> {
    ids.chunks(BATCH)
        .flat_map(|chunk| {
            let batch = chunk
                .iter()
                .fold(BatchBuilder::new(), |builder, &trace_id| {
                    builder.span_with("op", |s| s.trace_id = trace_id)
                })
                .build();
            let mut kept = vec![true; chunk.len()];
            for edit in run(sampler, &batch).unwrap() {
                if let Edit::DropSpan(index) = edit {
                    kept[index as usize] = false;
                }
            }
            kept
        })
        .collect()
}

fn sampler(ratio: f64) -> Sample {
    Sample::init(&format!(r#"{{"default_ratio": {ratio}}}"#)).unwrap()
}

#[test]
fn kept_share_is_within_four_standard_deviations() {
    let ids = trace_ids(0x5eed);
    for ratio in [0.1, 0.5] {
        let kept = verdicts(&mut sampler(ratio), &ids)
            .iter()
            .filter(|&&kept| kept)
            .count() as f64;
        let n = TRACES as f64;
        let expected = n * ratio;
        let deviation = (n * ratio * (1.0 - ratio)).sqrt();
        assert!(
            (kept - expected).abs() <= 4.0 * deviation,
            "ratio {ratio}: kept {kept}, expected {expected} ± {}",
            4.0 * deviation
        );
    }
}

#[test]
fn verdicts_depend_on_the_trace_id_alone() {
    let ids = trace_ids(0xc0ffee);
    for ratio in [0.1, 0.5] {
        // Two separately initialised processors, seeing the ids in different batches and
        // orders, agree on every trace, and with the pure function.
        let first = verdicts(&mut sampler(ratio), &ids);
        let reversed: Vec<TraceId> = ids.iter().rev().copied().collect();
        let mut second = verdicts(&mut sampler(ratio), &reversed);
        second.reverse();
        assert_eq!(first, second, "ratio {ratio}");
        for (trace_id, kept) in ids.iter().zip(&first).step_by(97) {
            assert_eq!(ratio::sampled(*trace_id, ratio), *kept);
        }
    }
}

#[test]
fn lower_ratios_keep_a_subset_of_higher_ones() {
    let ids = trace_ids(0xbeef);
    let tenth = verdicts(&mut sampler(0.1), &ids);
    let half = verdicts(&mut sampler(0.5), &ids);
    assert!(tenth.iter().zip(&half).all(|(&low, &high)| !low || high));
}
