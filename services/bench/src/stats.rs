//! The one percentile every workload reports.

/// The nearest-rank percentile (`p` in 0..=1) of `sorted` (ascending);
/// 0 when there are no samples.
pub(crate) fn nearest_rank(sorted: &[u64], p: f64) -> u64 {
    let n = sorted.len();
    if n == 0 {
        return 0;
    }
    sorted[((p * n as f64).ceil() as usize).clamp(1, n) - 1]
}

#[cfg(test)]
mod tests {
    use super::nearest_rank;

    #[test]
    fn nearest_rank_takes_the_sample_at_or_above_the_rank() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&samples, 0.50), 50);
        assert_eq!(nearest_rank(&samples, 0.99), 99);
        assert_eq!(nearest_rank(&samples, 1.0), 100);
        assert_eq!(nearest_rank(&samples, 0.0), 1);
        assert_eq!(nearest_rank(&[7], 0.99), 7);
        assert_eq!(nearest_rank(&[], 0.5), 0);
    }
}
