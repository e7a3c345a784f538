//! A latency histogram with log-linear buckets (HDR-style: 64 linear sub-buckets per power of
//! two, so any recorded value is known within 1.6%), kept per worker and merged at the end.
//!
//! `hdrhistogram` is not in the lock file; this is the part of it the report needs, in a few
//! dozen lines and without a dependency.

use std::time::Duration;

/// log2 of the sub-buckets per power of two.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Values below this are counted exactly.
const LINEAR: u64 = 2 * SUB;
/// Enough buckets for any `u64`: the largest value's index is `(63 - SUB_BITS) * SUB + 2 * SUB - 1`.
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// Counts of nanosecond values.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max: 0 }
    }
}

fn index(value: u64) -> usize {
    if value < LINEAR {
        return value as usize;
    }
    let shift = (63 - value.leading_zeros()) - SUB_BITS;
    // `value >> shift` is in [SUB, 2 * SUB), so consecutive shifts tile the index space.
    (u64::from(shift) * SUB + (value >> shift)) as usize
}

/// The smallest and largest value counted in bucket `index`.
fn bounds(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < LINEAR {
        return (index, index);
    }
    let shift = index / SUB - 1;
    let mantissa = index - shift * SUB;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    pub(crate) fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub(crate) fn len(&self) -> u64 {
        self.total
    }

    /// The value at quantile `q` (0..=1) in nanoseconds: the middle of the bucket holding the
    /// `ceil(q * len)`-th smallest value, never above the largest value recorded; 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bounds(index);
                return (low + (high - low) / 2).min(self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_values_without_gaps() {
        let mut expected_low = 0;
        for index in 0..BUCKETS {
            let (low, high) = bounds(index);
            assert_eq!(low, expected_low, "bucket {index}");
            assert!(high >= low);
            assert_eq!(super::index(low), index);
            assert_eq!(super::index(high), index);
            expected_low = high.wrapping_add(1);
        }
        assert_eq!(expected_low, 0, "the last bucket ends at u64::MAX");
    }

    #[test]
    fn quantiles_are_within_the_bucket_precision() {
        let mut histogram = Histogram::default();
        // 1 µs .. 100 ms, one value per microsecond step: the exact q-quantile is q * 100_000 µs.
        for micros in 1..=100_000u64 {
            histogram.record(Duration::from_micros(micros));
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = q * 100_000_000.0;
            let got = histogram.quantile(q) as f64;
            assert!((got - exact).abs() / exact < 0.016, "q{q}: {got} vs {exact}");
        }
        assert_eq!(histogram.quantile(1.0), 100_000_000);
        assert_eq!(histogram.len(), 100_000);
    }

    #[test]
    fn merging_adds_counts() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(Duration::from_micros(10));
        b.record(Duration::from_micros(1000));
        b.record(Duration::from_micros(1000));
        a.merge(&b);
        assert_eq!(a.len(), 3);
        let p50 = a.quantile(0.5);
        assert!((990_000..=1_000_000).contains(&p50), "{p50}");
        assert_eq!(Histogram::default().quantile(0.5), 0);
    }
}
