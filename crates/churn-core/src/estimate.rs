//! Accuracy estimated before the labels arrive: confidence-based performance estimation
//! (the idea of NannyML's CBPE). When probabilities are calibrated, customer `i` churns
//! with probability `p_i`, so every count of the confusion matrix has an expected value
//! at every threshold, and so has the ROC curve: expected true positives above a
//! threshold are the sum of `p` there, expected false positives the sum of `1 - p`.
//!
//! Valid as far as the calibration holds on today's customers; the monitor records each
//! estimate beside the realised figure once the labels mature, so its error is known.

use serde::{Deserialize, Serialize};

/// A ROC-AUC below the floor the monitor holds a model to (what `PerformanceDegraded`
/// carries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    /// The prediction day.
    pub date: String,
    /// `realised` or `estimated`.
    pub figure: String,
    pub roc_auc: f64,
    pub floor: f64,
}

/// Expected accuracy of a day's probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Customers with a probability.
    pub rows: u64,
    /// Expected churn rate: the mean probability.
    pub churn_rate: f64,
    /// Expected ROC-AUC (`None` below two customers).
    pub roc_auc: Option<f64>,
    /// Expected precision at the threshold (`None` when nobody is flagged).
    pub precision: Option<f64>,
    /// Expected recall at the threshold (`None` when no churn is expected at all).
    pub recall: Option<f64>,
}

/// The expected accuracy of `probabilities` at `threshold` (NaN probabilities skipped).
pub fn estimate(probabilities: &[f64], threshold: f64) -> Estimate {
    let mut p: Vec<f64> = probabilities
        .iter()
        .copied()
        .filter(|v| !v.is_nan())
        .map(|v| v.clamp(0.0, 1.0))
        .collect();
    p.sort_by(|a, b| b.total_cmp(a));
    let positives: f64 = p.iter().sum();
    let negatives = p.len() as f64 - positives;
    let flagged: Vec<f64> = p.iter().copied().take_while(|&v| v >= threshold).collect();
    let caught: f64 = flagged.iter().sum();
    Estimate {
        rows: p.len() as u64,
        churn_rate: if p.is_empty() {
            0.0
        } else {
            positives / p.len() as f64
        },
        roc_auc: expected_roc_auc(&p, positives, negatives),
        precision: (!flagged.is_empty()).then(|| caught / flagged.len() as f64),
        recall: (positives > 0.0).then(|| caught / positives),
    }
}

/// The area under the expected ROC curve of probabilities sorted descending: one point
/// per distinct probability (ties move together, as in `metrics::roc_auc`), trapezoids
/// between them.
fn expected_roc_auc(sorted: &[f64], positives: f64, negatives: f64) -> Option<f64> {
    if sorted.len() < 2 || positives <= 0.0 || negatives <= 0.0 {
        return None;
    }
    let (mut tp, mut fp, mut area) = (0.0, 0.0, 0.0);
    let mut index = 0;
    while index < sorted.len() {
        let value = sorted[index];
        let (tp_before, fp_before) = (tp, fp);
        while index < sorted.len() && sorted[index] == value {
            tp += sorted[index];
            fp += 1.0 - sorted[index];
            index += 1;
        }
        area += (fp - fp_before) * (tp + tp_before) / 2.0;
    }
    Some(area / (positives * negatives))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::roc_auc;

    /// A small deterministic generator (splitmix64), for labels drawn from probabilities.
    fn uniform(state: &mut u64) -> f64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn on_calibrated_probabilities_the_estimate_is_close_to_the_realised_figures() {
        let mut state = 7;
        let rows = 100_000;
        // A skewed, churn-like spread of calibrated probabilities (mean about 0.15).
        let probabilities: Vec<f64> = (0..rows)
            .map(|_| uniform(&mut state).powi(4) * 0.75)
            .collect();
        let labels: Vec<bool> = probabilities
            .iter()
            .map(|&p| uniform(&mut state) < p)
            .collect();
        let threshold = 0.4;
        let estimated = estimate(&probabilities, threshold);
        let realised = roc_auc(&labels, &probabilities).expect("auc");
        let auc = estimated.roc_auc.expect("estimate");
        assert!((auc - realised).abs() < 0.01, "{auc} vs {realised}");
        let confusion = crate::metrics::Confusion::at(&labels, &probabilities, threshold);
        let precision = estimated.precision.expect("precision");
        let recall = estimated.recall.expect("recall");
        assert!(
            (precision - confusion.precision()).abs() < 0.02,
            "{precision}"
        );
        assert!((recall - confusion.recall()).abs() < 0.02, "{recall}");
        let rate = labels.iter().filter(|l| **l).count() as f64 / rows as f64;
        assert!((estimated.churn_rate - rate).abs() < 0.01);
    }

    #[test]
    fn overconfident_probabilities_overestimate_and_edges_are_none() {
        // Probabilities far more confident than the coin flips they describe: the
        // estimate is high, the truth is 0.5 — what the realised figure later shows.
        let mut state = 3;
        let probabilities: Vec<f64> = (0..20_000)
            .map(|i| if i % 2 == 0 { 0.05 } else { 0.95 })
            .collect();
        let labels: Vec<bool> = (0..20_000).map(|_| uniform(&mut state) < 0.5).collect();
        let auc = estimate(&probabilities, 0.5).roc_auc.expect("auc");
        let realised = roc_auc(&labels, &probabilities).expect("auc");
        assert!(
            auc > 0.9 && (realised - 0.5).abs() < 0.03,
            "{auc} {realised}"
        );
        // Ties: two customers at the same probability are one point of the curve.
        assert_eq!(estimate(&[0.5, 0.5], 0.5).roc_auc, Some(0.5));
        let edge = estimate(&[0.0, 0.0, f64::NAN], 0.5);
        assert_eq!(
            (edge.rows, edge.roc_auc, edge.precision, edge.recall),
            (2, None, None, None)
        );
        assert_eq!(estimate(&[], 0.5).churn_rate, 0.0);
    }
}
