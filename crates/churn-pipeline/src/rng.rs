//! A small seeded random number generator with the few distributions the generator and
//! trainers need.
//!
//! Ours, not `rand`'s: the synthetic data and every model must stay bit-for-bit the same
//! for a given seed across dependency upgrades, and `rand` does not promise stable streams
//! across versions. xoshiro256++ (Blackman and Vigna), seeded through SplitMix64.

/// SplitMix64: turns one `u64` into a well-mixed stream; used for seeding.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The xoshiro256++ generator.
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let mut mix = seed;
        Self {
            state: [
                splitmix64(&mut mix),
                splitmix64(&mut mix),
                splitmix64(&mut mix),
                splitmix64(&mut mix),
            ],
        }
    }

    /// An independent generator for stream `stream` of `seed` (customer `i`, tree `t`...).
    pub fn for_stream(seed: u64, stream: u64) -> Self {
        let mut mix = seed ^ 0x5851_f42d_4c95_7f2d;
        let base = splitmix64(&mut mix);
        let mut mix = base ^ stream.wrapping_mul(0x2545_f491_4f6c_dd1d);
        Self::new(splitmix64(&mut mix))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.state;
        let result = s0.wrapping_add(*s3).rotate_left(23).wrapping_add(*s0);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.f64()
    }

    /// Uniform integer in `[0, n)`; `n` must be positive. Lemire's multiply-shift (the
    /// bias is below 2^-32 for the sizes we use).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Standard normal, by the Box–Muller transform.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64(); // (0, 1]: ln is finite
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal with the given median and log-scale spread.
    pub fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }

    /// Poisson with mean `lambda`: Knuth's product method below 30, a rounded normal
    /// approximation above (plenty for synthetic event counts).
    pub fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda < 30.0 {
            let limit = (-lambda).exp();
            let mut count = 0;
            let mut product = self.f64();
            while product > limit {
                count += 1;
                product *= self.f64();
            }
            count
        } else {
            (lambda + lambda.sqrt() * self.normal()).round().max(0.0) as u64
        }
    }

    /// An index drawn with probability proportional to `weights` (not all zero).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut target = self.f64() * total;
        for (index, weight) in weights.iter().enumerate() {
            if target < *weight {
                return index;
            }
            target -= weight;
        }
        weights.len() - 1
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::for_stream(7, 1).next_u64()).collect();
        assert!(a.iter().all(|v| *v == a[0]));
        assert_ne!(
            Rng::for_stream(7, 1).next_u64(),
            Rng::for_stream(7, 2).next_u64()
        );
        assert_ne!(
            Rng::for_stream(7, 1).next_u64(),
            Rng::for_stream(8, 1).next_u64()
        );
    }

    #[test]
    fn xoshiro_reference_output() {
        // First outputs of xoshiro256++ from the state {1, 2, 3, 4} (reference C code).
        let mut rng = Rng {
            state: [1, 2, 3, 4],
        };
        assert_eq!(rng.next_u64(), 41_943_041);
        assert_eq!(rng.next_u64(), 58_720_359);
        assert_eq!(rng.next_u64(), 3_588_806_011_781_223);
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
        let normals: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let m = mean(&normals);
        let var = normals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.01, "normal mean {m}");
        assert!((var - 1.0).abs() < 0.02, "normal variance {var}");
        for lambda in [0.3, 4.0, 55.0] {
            let draws: Vec<f64> = (0..n).map(|_| rng.poisson(lambda) as f64).collect();
            let m = mean(&draws);
            assert!(
                (m - lambda).abs() < 0.03 * lambda.max(1.0),
                "poisson({lambda}) mean {m}"
            );
        }
        let uniform: Vec<f64> = (0..n).map(|_| rng.f64()).collect();
        assert!(uniform.iter().all(|u| (0.0..1.0).contains(u)));
        assert!((mean(&uniform) - 0.5).abs() < 0.01);
        let picks: Vec<f64> = (0..n).map(|_| rng.weighted(&[1.0, 3.0]) as f64).collect();
        assert!((mean(&picks) - 0.75).abs() < 0.01);
    }
}
