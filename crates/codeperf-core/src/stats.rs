//! Summary statistics, summed in input order so the Python twin reproduces every bit.

pub(crate) fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut total = 0.0;
    for &v in values {
        total += v;
    }
    Some(total / values.len() as f64)
}

/// Sample standard deviation (n - 1); 0.0 for a single value.
pub(crate) fn stdev(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    if values.len() < 2 {
        return Some(0.0);
    }
    let mut ss = 0.0;
    for &v in values {
        let d = v - m;
        ss += d * d;
    }
    Some((ss / (values.len() - 1) as f64).sqrt())
}

/// Linear interpolation between closest ranks; the rank is computed in integers.
pub(crate) fn percentile(sorted: &[f64], p: usize) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (n - 1) * p;
    let lo = rank / 100;
    let hi = (lo + 1).min(n - 1);
    let frac = (rank % 100) as f64 / 100.0;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Float order for sorting without a reachable panic: NaN compares equal to everything,
/// which is also how Python's `sorted` treats it (stable, no reordering). Validated input
/// never holds NaN, but the crate's public functions accept any `Response`.
#[inline]
pub(crate) fn order(a: f64, b: f64) -> std::cmp::Ordering {
    a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        assert_eq!(mean(&[]), None);
        assert_eq!(stdev(&[3.0]), Some(0.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50), Some(2.5));
        assert_eq!(percentile(&[10.0], 95), Some(10.0));
    }
}
