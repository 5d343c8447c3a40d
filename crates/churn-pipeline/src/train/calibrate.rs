//! Fitting the calibration map on out-of-fold predictions: Platt scaling (a logistic
//! regression on the margin) or isotonic regression (pool-adjacent-violators).

use churn_core::calibration::{Calibration, logit, sigmoid};

/// Which calibration to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationKind {
    /// None: the model's own probabilities.
    None,
    /// Platt scaling.
    Platt,
    /// Isotonic regression.
    Isotonic,
}

/// Fits a calibration of `margins` (log-odds, or probabilities when
/// `margin_is_probability`) to `labels`.
pub fn fit(
    kind: CalibrationKind,
    margins: &[f64],
    labels: &[bool],
    margin_is_probability: bool,
) -> Calibration {
    match kind {
        CalibrationKind::None => Calibration::None,
        CalibrationKind::Platt => {
            let scores: Vec<f64> = margins
                .iter()
                .map(|&m| if margin_is_probability { logit(m) } else { m })
                .collect();
            platt(&scores, labels)
        }
        CalibrationKind::Isotonic => {
            let probabilities: Vec<f64> = margins
                .iter()
                .map(|&m| if margin_is_probability { m } else { sigmoid(m) })
                .collect();
            isotonic(&probabilities, labels)
        }
    }
}

/// Maximum-likelihood `(a, b)` of `sigmoid(a s + b)` by damped Newton steps.
fn platt(scores: &[f64], labels: &[bool]) -> Calibration {
    let (mut a, mut b) = (1.0, 0.0);
    let loss = |a: f64, b: f64| -> f64 {
        scores
            .iter()
            .zip(labels)
            .map(|(&s, &y)| {
                let z = a * s + b;
                let z = if y { -z } else { z };
                z.max(0.0) + (-z.abs()).exp().ln_1p()
            })
            .sum()
    };
    let mut current = loss(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-12, 0.0, 1e-12);
        for (&s, &y) in scores.iter().zip(labels) {
            let p = sigmoid(a * s + b);
            let r = p - f64::from(u8::from(y));
            let w = p * (1.0 - p);
            ga += r * s;
            gb += r;
            haa += w * s * s;
            hab += w * s;
            hbb += w;
        }
        let determinant = haa * hbb - hab * hab;
        if determinant.abs() < 1e-18 {
            break;
        }
        let (da, db) = (
            (hbb * ga - hab * gb) / determinant,
            (haa * gb - hab * ga) / determinant,
        );
        let mut step = 1.0;
        let mut improved = false;
        while step > 1e-6 {
            let (na, nb) = (a - step * da, b - step * db);
            let candidate = loss(na, nb);
            if candidate <= current {
                (a, b, current) = (na, nb, candidate);
                improved = true;
                break;
            }
            step /= 2.0;
        }
        if !improved || da.abs().max(db.abs()) < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a, b }
}

/// Isotonic regression of the labels on the probabilities.
fn isotonic(probabilities: &[f64], labels: &[bool]) -> Calibration {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&i, &j| probabilities[i].total_cmp(&probabilities[j]));
    // Blocks of (sum of x, sum of y, count), merged while they violate monotonicity.
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for index in order {
        blocks.push((
            probabilities[index],
            f64::from(u8::from(labels[index])),
            1.0,
        ));
        while blocks.len() >= 2 {
            let (x2, y2, n2) = blocks[blocks.len() - 1];
            let (x1, y1, n1) = blocks[blocks.len() - 2];
            if y1 / n1 <= y2 / n2 {
                break;
            }
            blocks.pop();
            let last = blocks.len() - 1;
            blocks[last] = (x1 + x2, y1 + y2, n1 + n2);
        }
    }
    let mut x: Vec<f64> = Vec::with_capacity(blocks.len());
    let mut y: Vec<f64> = Vec::with_capacity(blocks.len());
    for (sx, sy, n) in blocks {
        let (mx, my) = (sx / n, sy / n);
        match x.last() {
            Some(&last) if mx <= last => {
                // Equal mean inputs: keep one knot with the larger (later) output.
                let end = y.len() - 1;
                y[end] = y[end].max(my);
            }
            _ => {
                x.push(mx);
                y.push(my);
            }
        }
    }
    for i in 1..y.len() {
        y[i] = y[i].max(y[i - 1]);
    }
    if x.is_empty() {
        return Calibration::None;
    }
    Calibration::Isotonic { x, y }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn calibration_repairs_overconfident_scores() {
        let mut rng = Rng::new(5);
        let truth: Vec<f64> = (0..20_000).map(|_| rng.normal()).collect();
        let labels: Vec<bool> = truth.iter().map(|&t| rng.chance(sigmoid(t))).collect();
        // The model is three times too confident.
        let margins: Vec<f64> = truth.iter().map(|t| 3.0 * t).collect();
        let raw = churn_core::metrics::log_loss(
            &labels,
            &margins.iter().map(|&m| sigmoid(m)).collect::<Vec<_>>(),
        );
        for kind in [CalibrationKind::Platt, CalibrationKind::Isotonic] {
            let calibration = fit(kind, &margins, &labels, false);
            assert!(calibration.validate().is_ok());
            let probabilities: Vec<f64> = margins
                .iter()
                .map(|&m| calibration.probability(m, false))
                .collect();
            let calibrated = churn_core::metrics::log_loss(&labels, &probabilities);
            assert!(calibrated < raw - 0.05, "{kind:?}: {calibrated} vs {raw}");
        }
        if let Calibration::Platt { a, .. } = fit(CalibrationKind::Platt, &margins, &labels, false)
        {
            assert!((a - 1.0 / 3.0).abs() < 0.03, "slope {a}");
        }
    }
}
