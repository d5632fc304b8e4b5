//! Consistent probability sampling, as the OpenTelemetry specification defines it.
//!
//! Every participant that samples a trace (SDKs, collectors, this plugin) compares the same
//! 56-bit randomness value `R` with its own rejection threshold `T`, and keeps the span if and
//! only if `R >= T`. Because `R` belongs to the trace, not to the participant, a participant
//! with a higher probability (a lower `T`) keeps every trace that a participant with a lower
//! probability keeps: the decisions are *consistent*, across instances, languages and spans of
//! one trace.
//!
//! - `R` is the least-significant 56 bits of the trace id: bytes 9 to 16, which W3C Trace
//!   Context Level 2 requires to be random. [`trace_randomness`] extracts it. (A span whose
//!   trace-state carries an explicit `ot=rv:` value uses that instead; see
//!   the sample plugin's `tracestate` module.)
//! - `T = 2^56 - round(ratio * 2^56)`, see [`Threshold::from_ratio`]. `T = 0` keeps everything
//!   (ratio 1); `T = 2^56` keeps nothing (ratio 0), since `R < 2^56` always.
//!
//! Reference: <https://opentelemetry.io/docs/specs/otel/trace/tracestate-probability-sampling/>.

use crate::TraceId;

/// `2^56`: the number of distinct randomness values, and the adjusted count of a span kept
/// with the smallest representable probability `2^-56`.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;

/// The smallest sampling probability other than zero that a threshold can express: `2^-56`.
pub const MIN_PROBABILITY: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

/// The 56-bit randomness of a trace: the least-significant 7 bytes of its id.
///
/// `trace_id.low` holds bytes 8 to 15 (0-based) big-endian, so its low 56 bits are bytes 9 to
/// 15, the bytes W3C Trace Context Level 2 requires to be random.
pub fn trace_randomness(trace_id: TraceId) -> u64 {
    trace_id.low & (MAX_ADJUSTED_COUNT - 1)
}

/// Whether a trace is kept at `ratio`: the whole decision of a ratio sampler, as a pure
/// function of the trace id.
///
/// ```
/// use weft_sdk::sampling::ratio::sampled;
/// use weft_sdk::TraceId;
///
/// let trace_id = TraceId { high: 0x4bf92f3577b34da6, low: 0xa3ce929d0e0e4736 };
/// assert!(sampled(trace_id, 1.0));
/// assert!(!sampled(trace_id, 0.0));
/// // R = 0xce929d0e0e4736 is above the 0.5 threshold 0x80000000000000.
/// assert!(sampled(trace_id, 0.5));
/// ```
pub fn sampled(trace_id: TraceId, ratio: f64) -> bool {
    Threshold::from_ratio(ratio).keeps(trace_randomness(trace_id))
}

/// A rejection threshold: a span is kept if and only if its randomness is at least this value.
///
/// Thresholds run from [`Threshold::ALWAYS`] (`0`, probability 1) to [`Threshold::NEVER`]
/// (`2^56`, probability 0). A higher threshold is a lower probability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Threshold(u64);

impl Threshold {
    /// Keeps every span (probability 1, encoded `th:0`).
    pub const ALWAYS: Threshold = Threshold(0);

    /// Keeps no span (probability 0). Not expressible in a trace-state: no kept span carries it.
    pub const NEVER: Threshold = Threshold(MAX_ADJUSTED_COUNT);

    /// The threshold with this 56-bit value, or `None` above `2^56`.
    pub fn new(value: u64) -> Option<Threshold> {
        (value <= MAX_ADJUSTED_COUNT).then_some(Threshold(value))
    }

    /// The threshold for keeping a share `ratio` of traces:
    /// `T = 2^56 - round(ratio * 2^56)`.
    ///
    /// This is `round((1 - ratio) * 2^56)` computed without first rounding `1 - ratio` to a
    /// float (which would lose the low bits of small ratios); it is the computation of the
    /// OpenTelemetry Collector's `pkg/sampling.ProbabilityToThreshold`, at full precision.
    /// Multiplying by `2^56` is exact in floating point; only the final rounding (half away
    /// from zero, like Go's `math.Round`) is lossy.
    ///
    /// `ratio` must lie in `[0, 1]` (the config guarantees it); values outside are clamped and
    /// NaN is treated as 0.
    pub fn from_ratio(ratio: f64) -> Threshold {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        let kept = (ratio * MAX_ADJUSTED_COUNT as f64).round() as u64;
        Threshold(MAX_ADJUSTED_COUNT - kept)
    }

    /// The 56-bit value (`2^56` for [`Threshold::NEVER`]).
    pub fn value(self) -> u64 {
        self.0
    }

    /// Whether a span with this randomness is kept: `randomness >= threshold`.
    pub fn keeps(self, randomness: u64) -> bool {
        randomness >= self.0
    }

    /// The probability of keeping a span: `(2^56 - T) / 2^56`.
    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT - self.0) as f64 / MAX_ADJUSTED_COUNT as f64
    }
}

/// The threshold to record on a span this stage keeps with threshold `applied`, given the
/// threshold an earlier stage recorded (`incoming`) and the span's randomness.
///
/// Consistent samplers compose by taking the maximum threshold: a span that passed `T1` and
/// then `T2` passed `max(T1, T2)`. A later stage may raise a threshold, never lower it (that
/// would claim a higher probability than the span was kept with), so this is the OpenTelemetry
/// *equalizing* downstream sampler. An incoming threshold that the randomness does not satisfy
/// is inconsistent (the span could not have been kept with it) and is replaced.
pub fn outbound_threshold(
    applied: Threshold,
    incoming: Option<Threshold>,
    randomness: u64,
) -> Threshold {
    match incoming {
        Some(incoming) if incoming > applied && incoming.keeps(randomness) => incoming,
        _ => applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF: u64 = 1 << 55;

    fn id(low: u64) -> TraceId {
        TraceId {
            high: 0x0123_4567_89ab_cdef,
            low,
        }
    }

    #[test]
    fn ratio_one_keeps_everything() {
        assert_eq!(Threshold::from_ratio(1.0), Threshold::ALWAYS);
        assert!(sampled(id(0), 1.0));
        assert!(sampled(id(u64::MAX), 1.0));
        assert_eq!(Threshold::ALWAYS.probability(), 1.0);
    }

    #[test]
    fn ratio_zero_keeps_nothing() {
        assert_eq!(Threshold::from_ratio(0.0), Threshold::NEVER);
        assert!(!sampled(id(0), 0.0));
        assert!(!sampled(id(u64::MAX), 0.0));
        assert_eq!(Threshold::NEVER.probability(), 0.0);
    }

    #[test]
    fn ratio_half_splits_at_the_top_randomness_bit() {
        assert_eq!(Threshold::from_ratio(0.5).value(), HALF);
        // The boundary: R = 2^55 - 1 is rejected, R = 2^55 is kept.
        assert!(!sampled(id(HALF - 1), 0.5));
        assert!(sampled(id(HALF), 0.5));
        assert!(sampled(id(MAX_ADJUSTED_COUNT - 1), 0.5));
    }

    #[test]
    fn only_the_low_56_bits_count() {
        // Byte 8 (the top byte of `low`) and the whole `high` half are not randomness.
        for low in [HALF - 1, 0xff00_0000_0000_0000 | (HALF - 1)] {
            for high in [0, u64::MAX] {
                assert!(!sampled(TraceId { high, low }, 0.5));
            }
        }
        assert_eq!(trace_randomness(id(u64::MAX)), MAX_ADJUSTED_COUNT - 1);
    }

    #[test]
    fn same_trace_id_same_verdict() {
        let trace_id = TraceId {
            high: 0x4bf9_2f35_77b3_4da6,
            low: 0xa3ce_929d_0e0e_4736,
        };
        for ratio in [0.001, 0.1, 0.25, 0.5, 0.9] {
            let first = sampled(trace_id, ratio);
            assert!((0..10).all(|_| sampled(trace_id, ratio) == first));
        }
    }

    #[test]
    fn decisions_are_nested_across_ratios() {
        // Consistency: kept at a low ratio implies kept at every higher ratio.
        let ratios = [0.01, 0.1, 0.25, 0.5, 0.75, 1.0];
        let mut state = 7u64;
        for _ in 0..1000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let trace_id = id(state);
            let verdicts: Vec<bool> = ratios.iter().map(|&r| sampled(trace_id, r)).collect();
            assert!(verdicts.windows(2).all(|w| !w[0] || w[1]), "{verdicts:?}");
        }
    }

    #[test]
    fn thresholds_match_the_specification_examples() {
        // 0.1 is exact at full precision: 0.9 * 2^56 = 0xe6666666666666.66…, rounded down.
        assert_eq!(Threshold::from_ratio(0.1).value(), 0x00e6_6666_6666_6666);
        assert_eq!(Threshold::from_ratio(0.25).value(), 0x00c0_0000_0000_0000);
        assert_eq!(Threshold::from_ratio(0.125).value(), 0x00e0_0000_0000_0000);
        // The smallest probability keeps exactly one randomness value.
        let smallest = Threshold::from_ratio(MIN_PROBABILITY);
        assert_eq!(smallest.value(), MAX_ADJUSTED_COUNT - 1);
        assert!(smallest.keeps(MAX_ADJUSTED_COUNT - 1));
        assert!(!smallest.keeps(MAX_ADJUSTED_COUNT - 2));
    }

    #[test]
    fn probability_round_trips() {
        // Exact for ratios of at least 1/16, whose float spacing is no finer than 2^-56.
        for ratio in [1.0, 0.5, 0.25, 0.1, 0.3, 0.0625, 0.0] {
            assert_eq!(Threshold::from_ratio(ratio).probability(), ratio);
        }
        // Below, the threshold rounds to the nearest 2^-56.
        for ratio in [0.01, 0.001, 1e-9] {
            let error = (Threshold::from_ratio(ratio).probability() - ratio).abs();
            assert!(error <= MIN_PROBABILITY / 2.0, "{ratio}: {error}");
        }
    }

    #[test]
    fn out_of_range_ratios_are_clamped() {
        assert_eq!(Threshold::from_ratio(1.5), Threshold::ALWAYS);
        assert_eq!(Threshold::from_ratio(-1.0), Threshold::NEVER);
        assert_eq!(Threshold::from_ratio(f64::NAN), Threshold::NEVER);
        assert_eq!(Threshold::new(MAX_ADJUSTED_COUNT + 1), None);
    }

    #[test]
    fn outbound_threshold_only_ever_rises() {
        let tenth = Threshold::from_ratio(0.1);
        let half = Threshold::from_ratio(0.5);
        let r = MAX_ADJUSTED_COUNT - 1;
        // No earlier stage: ours.
        assert_eq!(outbound_threshold(half, None, r), half);
        // An earlier, more generous stage: ours (we raise it).
        assert_eq!(outbound_threshold(half, Some(Threshold::ALWAYS), r), half);
        // An earlier, stricter stage: theirs (we cannot lower it).
        assert_eq!(outbound_threshold(half, Some(tenth), r), tenth);
        // An earlier threshold the randomness contradicts is inconsistent: replaced.
        assert_eq!(outbound_threshold(half, Some(tenth), HALF), half);
    }
}
