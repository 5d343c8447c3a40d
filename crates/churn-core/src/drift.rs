//! How far a feature's values have moved from its reference: the profile kept at training
//! time, and the effect sizes a monitor decides on.
//!
//! Effect sizes, not p-values: at a million rows every test rejects, so a decision on a
//! p-value pages someone for every harmless wobble (a standing complaint in Evidently's,
//! Alibi Detect's and whylogs' trackers). Numbers: population stability index (PSI) on
//! the reference's quantile bins, the Kolmogorov–Smirnov statistic, and the Wasserstein
//! distance divided by the reference's standard deviation. Categories: Jensen–Shannon
//! distance (base 2, so 0 to 1) and Cramér's V of the reference-against-current table.
//!
//! A [`NumericProfile`] keeps [`QUANTILES`] + 1 quantiles; the KS statistic and the
//! Wasserstein distance against a new sample are exact up to that grid (KS within
//! 1 / [`QUANTILES`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Quantile steps a numeric profile keeps: its quantiles are at `i / QUANTILES`.
pub const QUANTILES: usize = 200;

/// PSI bins: deciles of the reference, as the PSI's usual reading assumes.
pub const PSI_BINS: usize = 10;

/// PSI at or above this is worth a look.
pub const PSI_WARN: f64 = 0.1;

/// PSI at or above this is a shift worth acting on.
pub const PSI_ALERT: f64 = 0.25;

/// The bucket of categories too rare to list.
pub const OTHER: &str = "(other)";

/// A numeric feature's reference distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumericProfile {
    /// Rows seen, missing values included.
    pub rows: u64,
    /// Rows without a value.
    pub missing: u64,
    /// Mean of the values.
    pub mean: f64,
    /// Standard deviation of the values (population).
    pub std: f64,
    /// The values' quantiles at `0, 1/Q, …, 1` (`Q` = [`QUANTILES`]): the first is the
    /// minimum, the last the maximum. Empty when every value is missing.
    pub quantiles: Vec<f64>,
}

impl NumericProfile {
    /// The profile of `values` (NaN is missing).
    pub fn of(values: &[f64]) -> NumericProfile {
        let mut present: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        present.sort_by(f64::total_cmp);
        let count = present.len();
        let (mean, std) = if count == 0 {
            (0.0, 0.0)
        } else {
            let mean = present.iter().sum::<f64>() / count as f64;
            let variance =
                present.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / count as f64;
            (mean, variance.sqrt())
        };
        NumericProfile {
            rows: values.len() as u64,
            missing: (values.len() - count) as u64,
            mean,
            std,
            quantiles: if count == 0 {
                Vec::new()
            } else {
                (0..=QUANTILES)
                    .map(|i| quantile_of_sorted(&present, i as f64 / QUANTILES as f64))
                    .collect()
            },
        }
    }

    /// Share of rows without a value.
    pub fn missing_rate(&self) -> f64 {
        self.missing as f64 / self.rows.max(1) as f64
    }

    /// The quantile at `u` in `[0, 1]`, read off the grid by linear interpolation.
    pub fn quantile(&self, u: f64) -> Option<f64> {
        let last = self.quantiles.len().checked_sub(1)?;
        let position = u.clamp(0.0, 1.0) * last as f64;
        let below = (position.floor() as usize).min(last);
        let above = (below + 1).min(last);
        let weight = position - below as f64;
        Some(self.quantiles[below] + (self.quantiles[above] - self.quantiles[below]) * weight)
    }

    /// The share of values at or below `x`, read off the grid (the inverse of
    /// [`NumericProfile::quantile`]; flat stretches count up to their right end).
    pub fn cdf(&self, x: f64) -> f64 {
        let grid = &self.quantiles;
        let Some(&last) = grid.last() else {
            return 0.0;
        };
        if x < grid[0] {
            return 0.0;
        }
        if x >= last {
            return 1.0;
        }
        // grid[i] <= x < grid[i + 1]
        let i = grid.partition_point(|&q| q <= x) - 1;
        let steps = (grid.len() - 1) as f64;
        let span = grid[i + 1] - grid[i];
        let within = if span > 0.0 {
            (x - grid[i]) / span
        } else {
            1.0
        };
        (i as f64 + within) / steps
    }
}

/// The linear-interpolation quantile (NumPy's default) of sorted values.
fn quantile_of_sorted(sorted: &[f64], u: f64) -> f64 {
    let position = u * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

/// Population stability index of `actual` (NaN ignored) on [`PSI_BINS`] quantile bins of
/// the reference (a value goes to the first bin whose upper edge it does not exceed):
/// bins whose edges coincide (a value many rows share) are merged, and each bin's
/// reference share is read off the reference's distribution function. Shares are floored
/// at 1e-4 so an empty bin stays finite.
pub fn psi(reference: &NumericProfile, actual: &[f64]) -> Option<f64> {
    if reference.quantiles.is_empty() {
        return None;
    }
    let mut edges: Vec<f64> = Vec::new();
    for i in 1..PSI_BINS {
        let edge = reference.quantile(i as f64 / PSI_BINS as f64)?;
        if edges.last() != Some(&edge) {
            edges.push(edge);
        }
    }
    // The reference's share of each bin, from its distribution function: a value many
    // rows share makes its bin hold more than a tenth.
    let mut below = 0.0;
    let mut expected: Vec<f64> = edges
        .iter()
        .map(|&edge| {
            let at = reference.cdf(edge);
            let share = at - below;
            below = at;
            share
        })
        .collect();
    expected.push(1.0 - below);
    let mut counts = vec![0.0f64; edges.len() + 1];
    let mut total = 0.0f64;
    for value in actual.iter().filter(|v| !v.is_nan()) {
        counts[edges.partition_point(|edge| edge < value)] += 1.0;
        total += 1.0;
    }
    if total == 0.0 {
        return None;
    }
    Some(
        expected
            .iter()
            .zip(&counts)
            .map(|(&e, &count)| {
                let (e, a) = (e.max(1e-4), (count / total).max(1e-4));
                (a - e) * (a / e).ln()
            })
            .sum(),
    )
}

/// Kolmogorov–Smirnov statistic: the largest gap between the reference's distribution
/// function and `actual`'s empirical one (NaN ignored).
pub fn kolmogorov_smirnov(reference: &NumericProfile, actual: &[f64]) -> Option<f64> {
    kolmogorov_smirnov_sorted(reference, &sorted_present(actual))
}

/// The values without NaN, sorted: what the `_sorted` forms take, so a caller measuring
/// several figures of one column sorts it once.
pub fn sorted_present(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// [`kolmogorov_smirnov`] of values already sorted, without NaN ([`sorted_present`]).
pub fn kolmogorov_smirnov_sorted(reference: &NumericProfile, sorted: &[f64]) -> Option<f64> {
    if sorted.is_empty() || reference.quantiles.is_empty() {
        return None;
    }
    let n = sorted.len() as f64;
    let mut largest = 0.0f64;
    let mut i = 0;
    while i < sorted.len() {
        let x = sorted[i];
        let below = i as f64 / n;
        while i < sorted.len() && sorted[i] == x {
            i += 1;
        }
        let at = i as f64 / n;
        let reference_at = reference.cdf(x);
        // Just below x the reference is at most its value at x.
        let reference_below = reference_at.min(reference.cdf(x - x.abs().max(1.0) * 1e-12));
        largest = largest
            .max((at - reference_at).abs())
            .max((below - reference_below).abs());
    }
    Some(largest)
}

/// Wasserstein-1 distance between the reference and `actual` (NaN ignored), divided by
/// the reference's standard deviation (Evidently's normalisation; 0.1 is its usual
/// threshold). The integral of the gap between the two quantile functions, on the
/// profile's grid.
pub fn wasserstein_normalised(reference: &NumericProfile, actual: &[f64]) -> Option<f64> {
    wasserstein_normalised_sorted(reference, &sorted_present(actual))
}

/// [`wasserstein_normalised`] of values already sorted, without NaN ([`sorted_present`]).
pub fn wasserstein_normalised_sorted(reference: &NumericProfile, sorted: &[f64]) -> Option<f64> {
    if sorted.is_empty() || reference.quantiles.is_empty() {
        return None;
    }
    // Midpoint rule on QUANTILES steps of u.
    let steps = QUANTILES;
    let distance = (0..steps)
        .map(|k| {
            let u = (k as f64 + 0.5) / steps as f64;
            (reference.quantile(u).unwrap_or(0.0) - quantile_of_sorted(sorted, u)).abs()
        })
        .sum::<f64>()
        / steps as f64;
    Some(if reference.std > 0.0 {
        distance / reference.std
    } else if distance > 0.0 {
        f64::INFINITY
    } else {
        0.0
    })
}

/// A categorical feature's reference distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryProfile {
    /// Rows seen, missing values included.
    pub rows: u64,
    /// Rows without a value.
    pub missing: u64,
    /// Rows per category; rare categories are counted under [`OTHER`].
    pub counts: BTreeMap<String, u64>,
}

impl CategoryProfile {
    /// The profile of `values` (`None` is missing), keeping at most `most` categories (the
    /// most frequent, ties by name) and counting the rest under [`OTHER`].
    pub fn of<'a>(values: impl IntoIterator<Item = Option<&'a str>>, most: usize) -> Self {
        let mut all: BTreeMap<String, u64> = BTreeMap::new();
        let (mut rows, mut missing) = (0, 0);
        for value in values {
            rows += 1;
            match value {
                Some(value) => *all.entry(value.to_owned()).or_default() += 1,
                None => missing += 1,
            }
        }
        let mut ranked: Vec<(String, u64)> = all.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for (index, (name, count)) in ranked.into_iter().enumerate() {
            let key = if index < most { name } else { OTHER.to_owned() };
            *counts.entry(key).or_default() += count;
        }
        CategoryProfile {
            rows,
            missing,
            counts,
        }
    }

    /// `actual`'s counts on the reference's categories: a category the reference does
    /// not list goes to [`OTHER`]. Also the categories that are new (not in the reference
    /// at all, when the reference has no [`OTHER`]).
    pub fn align(&self, actual: &CategoryProfile) -> (BTreeMap<String, u64>, Vec<String>) {
        let mut aligned: BTreeMap<String, u64> =
            self.counts.keys().map(|k| (k.clone(), 0)).collect();
        let mut new = Vec::new();
        for (name, &count) in &actual.counts {
            if let Some(slot) = aligned.get_mut(name) {
                *slot += count;
            } else {
                if !self.counts.contains_key(OTHER) && name != OTHER {
                    new.push(name.clone());
                }
                *aligned.entry(OTHER.to_owned()).or_default() += count;
            }
        }
        (aligned, new)
    }
}

/// Jensen–Shannon distance (the square root of the divergence, base 2: 0 for the same
/// shares, 1 for disjoint ones) between the reference's and `actual`'s category shares.
pub fn jensen_shannon(reference: &CategoryProfile, actual: &CategoryProfile) -> Option<f64> {
    let (aligned, _) = reference.align(actual);
    let p_total: u64 = reference.counts.values().sum();
    let q_total: u64 = aligned.values().sum();
    if p_total == 0 || q_total == 0 {
        return None;
    }
    let mut divergence = 0.0;
    for (name, &q) in &aligned {
        let p = reference.counts.get(name).copied().unwrap_or(0) as f64 / p_total as f64;
        let q = q as f64 / q_total as f64;
        let m = (p + q) / 2.0;
        for share in [p, q] {
            if share > 0.0 {
                divergence += 0.5 * share * (share / m).log2();
            }
        }
    }
    Some(divergence.max(0.0).sqrt())
}

/// Pearson's chi-square test of the 2 × k table (reference, actual) × category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChiSquare {
    pub statistic: f64,
    /// `k - 1` for the categories present on either side.
    pub degrees_of_freedom: u32,
    /// The chance of a statistic this large if nothing changed. Informative on small
    /// samples only: at a million rows every difference is "significant", which is why
    /// the monitor decides on effect sizes (PSI) instead.
    pub p_value: f64,
    /// Rows of both samples.
    pub rows: f64,
}

/// The chi-square test of the reference's and `actual`'s category counts (`None` when a
/// side is empty or only one category occurs).
pub fn chi_square(reference: &CategoryProfile, actual: &CategoryProfile) -> Option<ChiSquare> {
    let (aligned, _) = reference.align(actual);
    let rows: Vec<[f64; 2]> = aligned
        .iter()
        .map(|(name, &q)| {
            [
                reference.counts.get(name).copied().unwrap_or(0) as f64,
                q as f64,
            ]
        })
        .filter(|[p, q]| p + q > 0.0)
        .collect();
    let totals = [
        rows.iter().map(|r| r[0]).sum::<f64>(),
        rows.iter().map(|r| r[1]).sum::<f64>(),
    ];
    let n = totals[0] + totals[1];
    if totals[0] == 0.0 || totals[1] == 0.0 || rows.len() < 2 {
        return None;
    }
    let mut statistic = 0.0;
    for row in &rows {
        let row_total = row[0] + row[1];
        for side in 0..2 {
            let expected = row_total * totals[side] / n;
            statistic += (row[side] - expected).powi(2) / expected;
        }
    }
    let degrees_of_freedom = rows.len() as u32 - 1;
    Some(ChiSquare {
        statistic,
        degrees_of_freedom,
        p_value: chi_square_survival(statistic, degrees_of_freedom),
        rows: n,
    })
}

/// Cramér's V of the 2 × k table (reference, actual) × category: the chi-square statistic
/// scaled to 0 (same shares) .. 1, so it does not grow with the sample as the statistic
/// (and its p-value) does.
pub fn cramers_v(reference: &CategoryProfile, actual: &CategoryProfile) -> Option<f64> {
    // min(rows - 1, columns - 1) = 1 for two samples.
    chi_square(reference, actual).map(|test| (test.statistic / test.rows).sqrt())
}

/// `P(X >= x)` for a chi-square variable with `k` degrees of freedom: the regularised
/// upper incomplete gamma function `Q(k / 2, x / 2)`, by its series below `a + 1` and
/// its continued fraction above (Numerical Recipes, §6.2), to about 1e-14.
pub fn chi_square_survival(x: f64, k: u32) -> f64 {
    let (a, x) = (f64::from(k) / 2.0, x / 2.0);
    if x.is_nan() || x <= 0.0 || k == 0 {
        return 1.0;
    }
    let front = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        (1.0 - sum * front).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -f64::from(i) * (f64::from(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let step = d * c;
            h *= step;
            if (step - 1.0).abs() < 1e-16 {
                break;
            }
        }
        (front * h).clamp(0.0, 1.0)
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, nine terms: about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// How a drift figure reads against its thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Below the warning threshold.
    Stable,
    /// At or above the warning threshold.
    Warn,
    /// At or above the alert threshold.
    Alert,
}

impl Level {
    /// The level of `value` against `warn` and `alert`.
    pub fn of(value: f64, warn: f64, alert: f64) -> Level {
        if value >= alert {
            Level::Alert
        } else if value >= warn {
            Level::Warn
        } else {
            Level::Stable
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn chi_square_p_values_match_the_tables() {
        // The 5 % critical values of 1, 2 and 10 degrees of freedom, and 1 % of 4.
        for (x, k, p) in [
            (3.841_459, 1, 0.05),
            (5.991_465, 2, 0.05),
            (18.307_04, 10, 0.05),
            (13.276_70, 4, 0.01),
        ] {
            let got = chi_square_survival(x, k);
            assert!((got - p).abs() < 1e-6, "{x} with {k}: {got}");
        }
        assert_eq!(chi_square_survival(0.0, 3), 1.0);
        assert!(chi_square_survival(500.0, 3) < 1e-100);
        // ln Γ at known points: Γ(5) = 24, Γ(1/2) = √π.
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-13);
    }

    #[test]
    fn chi_square_of_counts_and_cramers_v_agree() {
        let reference =
            CategoryProfile::of((0..300).map(|i| Some(if i < 200 { "a" } else { "b" })), 50);
        let same = CategoryProfile::of((0..300).map(|i| Some(if i < 200 { "a" } else { "b" })), 50);
        let test = chi_square(&reference, &same).expect("test");
        assert_eq!((test.statistic, test.degrees_of_freedom), (0.0, 1));
        assert_eq!(test.p_value, 1.0);
        // 200/100 against 150/150: a 2 x 2 table with chi-square 17.14 (by hand).
        let shifted =
            CategoryProfile::of((0..300).map(|i| Some(if i < 150 { "a" } else { "b" })), 50);
        let test = chi_square(&reference, &shifted).expect("test");
        assert!((test.statistic - 17.142_857).abs() < 1e-5, "{test:?}");
        assert!(test.p_value < 1e-4);
        let v = cramers_v(&reference, &shifted).expect("v");
        assert!((v - (test.statistic / 600.0).sqrt()).abs() < 1e-15);
    }

    use super::*;

    fn normal_sample(count: usize, mean: f64, std: f64, seed: u64) -> Vec<f64> {
        // Box–Muller on a small xorshift, so the test needs no generator crate.
        let mut state = seed.max(1);
        let mut uniform = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..count)
            .map(|_| {
                let (u, v) = (uniform().max(1e-12), uniform());
                mean + std * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect()
    }

    #[test]
    fn the_same_distribution_reads_stable_and_a_shift_reads_as_its_size() {
        let reference = NumericProfile::of(&normal_sample(50_000, 10.0, 2.0, 1));
        assert!((reference.mean - 10.0).abs() < 0.05);
        assert!((reference.std - 2.0).abs() < 0.05);
        assert_eq!(reference.quantiles.len(), QUANTILES + 1);
        let same = normal_sample(50_000, 10.0, 2.0, 2);
        let psi_same = psi(&reference, &same).expect("psi");
        let ks_same = kolmogorov_smirnov(&reference, &same).expect("ks");
        let w_same = wasserstein_normalised(&reference, &same).expect("w");
        assert!(psi_same < 0.01, "{psi_same}");
        assert!(ks_same < 0.02, "{ks_same}");
        assert!(w_same < 0.03, "{w_same}");
        assert_eq!(Level::of(psi_same, PSI_WARN, PSI_ALERT), Level::Stable);
        // Half a standard deviation up: KS of two normals half a sd apart is
        // 2 * Phi(0.25) - 1 = 0.1974; the Wasserstein distance is the shift itself, 0.5 sd.
        let shifted = normal_sample(50_000, 11.0, 2.0, 3);
        let ks = kolmogorov_smirnov(&reference, &shifted).expect("ks");
        let w = wasserstein_normalised(&reference, &shifted).expect("w");
        let psi_shifted = psi(&reference, &shifted).expect("psi");
        assert!((ks - 0.1974).abs() < 0.01, "{ks}");
        assert!((w - 0.5).abs() < 0.02, "{w}");
        assert!(psi_shifted > PSI_WARN, "{psi_shifted}");
        // The same samples' sizes do not move the figures (effect sizes, not tests).
        let ks_small = kolmogorov_smirnov(&reference, &shifted[..5_000]).expect("ks");
        assert!((ks_small - ks).abs() < 0.03, "{ks_small} vs {ks}");
    }

    #[test]
    fn ties_merge_psi_bins_and_missing_values_are_counted_apart() {
        // 60 % zeros: the first six deciles coincide and become one bin of share 0.6.
        let mut values: Vec<f64> = (0..1000)
            .map(|i| if i < 600 { 0.0 } else { i as f64 })
            .collect();
        values.extend([f64::NAN; 250]);
        let reference = NumericProfile::of(&values);
        assert_eq!((reference.rows, reference.missing), (1250, 250));
        assert!((reference.missing_rate() - 0.2).abs() < 1e-12);
        assert_eq!(reference.quantiles[0], 0.0);
        assert_eq!(*reference.quantiles.last().expect("max"), 999.0);
        // Stable, though not zero: the decile between the zeros and 600 is interpolated
        // (240) and its bin, empty in the data, keeps half a percent of reference share.
        let psi_same = psi(&reference, &values).expect("psi");
        assert!(psi_same < 0.025, "{psi_same}");
        // All zeros now: the first bin holds everything.
        let zeros = vec![0.0; 500];
        let psi_zeros = psi(&reference, &zeros).expect("psi");
        assert!(psi_zeros > PSI_ALERT, "{psi_zeros}");
        assert!(psi(&NumericProfile::of(&[f64::NAN]), &zeros).is_none());
    }

    #[test]
    fn category_shares_compare_by_jensen_shannon_and_cramers_v() {
        let names = |spec: &[(&'static str, usize)]| -> Vec<Option<&'static str>> {
            spec.iter()
                .flat_map(|&(name, count)| std::iter::repeat_n(Some(name), count))
                .collect()
        };
        let reference = CategoryProfile::of(
            names(&[("monthly", 500), ("annual", 300), ("two-year", 200)]),
            10,
        );
        let same = CategoryProfile::of(
            names(&[("monthly", 5000), ("annual", 3000), ("two-year", 2000)]),
            10,
        );
        assert!(jensen_shannon(&reference, &same).expect("js") < 1e-9);
        assert!(cramers_v(&reference, &same).expect("v") < 1e-9);
        // Disjoint shares: JS distance 1.
        let other = CategoryProfile::of(names(&[("weekly", 100)]), 10);
        let (_, new) = reference.align(&other);
        assert_eq!(new, vec!["weekly".to_owned()]);
        assert!((jensen_shannon(&reference, &other).expect("js") - 1.0).abs() < 1e-9);
        // A moderate move: monthly 50 % -> 70 %.
        let moved = CategoryProfile::of(
            names(&[("monthly", 700), ("annual", 200), ("two-year", 100)]),
            10,
        );
        let js = jensen_shannon(&reference, &moved).expect("js");
        let v = cramers_v(&reference, &moved).expect("v");
        assert!(js > 0.1 && js < 0.3, "{js}");
        // Hand count: chi2 of [[500, 700], [300, 200], [200, 100]] is 86.67, n 2000.
        assert!((v - (86.666_667 / 2000.0f64).sqrt()).abs() < 1e-4, "{v}");
        // Rare categories fold into OTHER.
        let folded = CategoryProfile::of(names(&[("a", 5), ("b", 3), ("c", 1), ("d", 1)]), 2);
        assert_eq!(folded.counts.get(OTHER), Some(&2));
        assert_eq!(folded.counts.len(), 3);
    }
}
