//! Activation range selection from calibration data.
//!
//! A [`Histogram`] is filled one batch at a time and never holds the values
//! themselves: 2048 bins whose range grows by doubling (merging bins in pairs,
//! which is exact) whenever a batch falls outside it, plus the exact minimum
//! and maximum. [`Histogram::range`] then picks the clipping range by
//! min/max, percentile or entropy (KL divergence).

use crate::Calibrate;

/// Bins of every histogram (even, so doubling merges pairs).
pub const BINS: usize = 2048;

/// Levels of the 8-bit target the entropy method simulates.
const LEVELS: usize = 255;

/// A growing histogram of the finite values seen.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    lo: f64,
    width: f64,
    bins: Vec<u64>,
    min: f32,
    max: f32,
    count: u64,
    /// Non-finite values seen (not binned).
    pub non_finite: u64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram { min: f32::INFINITY, max: f32::NEG_INFINITY, ..Histogram::default() }
    }

    /// Number of finite values seen.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact smallest and largest finite values seen.
    pub fn min_max(&self) -> Option<(f32, f32)> {
        (self.count > 0).then_some((self.min, self.max))
    }

    fn hi(&self) -> f64 {
        self.lo + self.width * BINS as f64
    }

    /// Adds a batch of values.
    pub fn add(&mut self, values: impl IntoIterator<Item = f32> + Clone) {
        let (mut bmin, mut bmax) = (f32::INFINITY, f32::NEG_INFINITY);
        for x in values.clone() {
            if x.is_finite() {
                bmin = bmin.min(x);
                bmax = bmax.max(x);
            } else {
                self.non_finite += 1;
            }
        }
        if bmin > bmax {
            return;
        }
        self.min = self.min.min(bmin);
        self.max = self.max.max(bmax);
        if self.bins.is_empty() {
            // Start on the batch's range widened to include 0.
            let (lo, hi) = (f64::from(bmin.min(0.0)), f64::from(bmax.max(0.0)));
            self.lo = lo;
            self.width = ((hi - lo) / BINS as f64).max(f64::from(f32::MIN_POSITIVE));
            self.bins = vec![0; BINS];
        }
        while f64::from(bmin) < self.lo {
            let mut nb = vec![0u64; BINS];
            for (i, c) in self.bins.iter().enumerate() {
                nb[BINS / 2 + i / 2] += c;
            }
            self.lo -= self.width * BINS as f64;
            self.width *= 2.0;
            self.bins = nb;
        }
        while f64::from(bmax) >= self.hi() {
            let mut nb = vec![0u64; BINS];
            for (i, c) in self.bins.iter().enumerate() {
                nb[i / 2] += c;
            }
            self.width *= 2.0;
            self.bins = nb;
        }
        for x in values {
            if x.is_finite() {
                let i = ((f64::from(x) - self.lo) / self.width) as usize;
                self.bins[i.min(BINS - 1)] += 1;
                self.count += 1;
            }
        }
    }

    /// The value below which a fraction `q` of the values lie (linear within a bin).
    fn quantile(&self, q: f64) -> f64 {
        let target = q * self.count as f64;
        let mut acc = 0f64;
        for (i, &c) in self.bins.iter().enumerate() {
            let next = acc + c as f64;
            if next >= target && c > 0 {
                let frac = (target - acc) / c as f64;
                return self.lo + (i as f64 + frac) * self.width;
            }
            acc = next;
        }
        self.hi()
    }

    /// The clipping range `[lo, hi]` chosen by `method` (before widening to include 0).
    pub fn range(&self, method: Calibrate) -> (f32, f32) {
        let Some((min, max)) = self.min_max() else { return (0.0, 0.0) };
        match method {
            Calibrate::MinMax => (min, max),
            Calibrate::Percentile(p) => {
                let tail = (100.0 - p) / 100.0;
                let lo = if min < 0.0 { self.quantile(tail).max(f64::from(min)) } else { f64::from(min) };
                let hi = if max > 0.0 { self.quantile(1.0 - tail).min(f64::from(max)) } else { f64::from(max) };
                (lo as f32, hi as f32)
            }
            Calibrate::Entropy => self.entropy_range(),
        }
    }

    /// The range minimising KL(P‖Q), where P is the histogram clipped to
    /// the candidate range (outliers folded into the edge bins) and Q is P
    /// quantized to 255 levels. Candidates are 128 thresholds `t` on |x|
    /// (range `[max(min, -t), min(max, t)]`), keeping at least one bin per level.
    fn entropy_range(&self) -> (f32, f32) {
        let (min, max) = (self.min, self.max);
        let first = self.bins.iter().position(|&c| c > 0).unwrap_or(0);
        let last = self.bins.iter().rposition(|&c| c > 0).unwrap_or(0) + 1;
        let zero = (((0.0 - self.lo) / self.width) as usize).clamp(first, last);
        if last - first <= LEVELS {
            return (min, max);
        }
        let mut best = (f64::INFINITY, first, last);
        const STEPS: usize = 128;
        // Thresholds on |x| (TensorRT's scheme): each candidate clips both
        // sides at the same distance from 0, so a short side is left whole.
        let reach = (zero - first).max(last - zero);
        for s in 1..=STEPS {
            let t = reach * s / STEPS;
            let a = first.max(zero.saturating_sub(t));
            let b = last.min(zero + t);
            if b - a < LEVELS {
                continue;
            }
            let kl = self.kl(a, b);
            if kl < best.0 {
                best = (kl, a, b);
            }
        }
        let lo = if best.1 == first { f64::from(min) } else { self.lo + best.1 as f64 * self.width };
        let hi = if best.2 == last { f64::from(max) } else { self.lo + best.2 as f64 * self.width };
        (lo as f32, hi as f32)
    }

    fn kl(&self, a: usize, b: usize) -> f64 {
        let slice = &self.bins[a..b];
        let mut p: Vec<f64> = slice.iter().map(|&c| c as f64).collect();
        let left: u64 = self.bins[..a].iter().sum();
        let right: u64 = self.bins[b..].iter().sum();
        p[0] += left as f64;
        let n = p.len();
        p[n - 1] += right as f64;
        // Q: each of the 255 level chunks spreads its mass over its non-empty bins.
        let mut q = vec![0f64; n];
        for l in 0..LEVELS {
            let (s, e) = (l * n / LEVELS, ((l + 1) * n / LEVELS).max(l * n / LEVELS + 1).min(n));
            let total: f64 = slice[s..e].iter().map(|&c| c as f64).sum();
            let nonzero = slice[s..e].iter().filter(|&&c| c > 0).count();
            if nonzero > 0 {
                for i in s..e {
                    if slice[i] > 0 {
                        q[i] = total / nonzero as f64;
                    }
                }
            }
        }
        let (ps, qs): (f64, f64) = (p.iter().sum(), q.iter().sum());
        if ps == 0.0 || qs == 0.0 {
            return f64::INFINITY;
        }
        let mut kl = 0f64;
        for (pi, qi) in p.iter().zip(&q) {
            if *pi > 0.0 {
                let pn = pi / ps;
                // The folded outliers may land in a bin Q left empty: smooth.
                let qn = (qi / qs).max(1e-12);
                kl += pn * (pn / qn).ln();
            }
        }
        kl
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exactly_and_keeps_min_max() {
        let mut h = Histogram::new();
        h.add((0..1000).map(|i| i as f32 / 1000.0));
        h.add([-5.0f32, 20.0, f32::NAN]);
        assert_eq!(h.min_max(), Some((-5.0, 20.0)));
        assert_eq!(h.count(), 1002);
        assert_eq!(h.non_finite, 1);
        assert_eq!(h.bins.iter().sum::<u64>(), 1002);
        assert_eq!(h.range(Calibrate::MinMax), (-5.0, 20.0));
    }

    #[test]
    fn percentile_and_entropy_clip_outliers() {
        let mut h = Histogram::new();
        // A bell-shaped bulk (sum of four uniforms, in [-2, 2]) and one far outlier.
        let u = |i: usize, k: usize| ((i * (7919 + 2 * k) + 13 * k) % 10007) as f32 / 10007.0 - 0.5;
        let bulk: Vec<f32> = (0..100_000).map(|i| (0..4).map(|k| u(i, k)).sum::<f32>()).collect();
        h.add(bulk.iter().copied());
        h.add([100.0f32]);
        let (lo, hi) = h.range(Calibrate::Percentile(99.9));
        assert!(lo < -1.0 && lo > -2.01 && hi > 1.0 && hi < 2.5, "{lo} {hi}");
        let (lo, hi) = h.range(Calibrate::Entropy);
        assert!(hi < 50.0 && hi > 1.0 && lo < -1.0, "entropy {lo} {hi}");
    }
}
