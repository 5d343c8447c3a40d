//! Classification metrics over labels and scores: the numbers in every evaluation report,
//! and the statistics monitoring needs (PSI). Pure functions over slices.

use serde::{Deserialize, Serialize};

/// Indices of `scores` sorted by descending score (ties keep their order).
fn by_descending_score(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// Area under the ROC curve (the probability that a random positive scores above a random
/// negative, ties counting half). `None` when only one class is present.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Sum of the (tie-averaged, 1-based) ranks of the positives.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[start]] {
            end += 1;
        }
        let average_rank = (start + end) as f64 / 2.0 + 1.0;
        for &index in &order[start..=end] {
            if labels[index] {
                rank_sum += average_rank;
            }
        }
        start = end + 1;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// Average precision (area under the precision-recall curve, step-wise as scikit-learn
/// computes it). `None` without positives.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    if positives == 0.0 {
        return None;
    }
    let order = by_descending_score(scores);
    let (mut true_positives, mut seen, mut previous_recall, mut area) = (0.0, 0.0, 0.0, 0.0);
    let mut index = 0;
    while index < order.len() {
        // Every score tied with this one is one threshold.
        let score = scores[order[index]];
        while index < order.len() && scores[order[index]] == score {
            seen += 1.0;
            if labels[order[index]] {
                true_positives += 1.0;
            }
            index += 1;
        }
        let recall = true_positives / positives;
        area += (recall - previous_recall) * (true_positives / seen);
        previous_recall = recall;
    }
    Some(area)
}

/// Mean negative log-likelihood of the labels under the probabilities (clipped to
/// `[1e-15, 1 - 1e-15]`).
pub fn log_loss(labels: &[bool], probabilities: &[f64]) -> f64 {
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&label, &p)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if label { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    total / labels.len().max(1) as f64
}

/// Mean squared difference between probability and outcome.
pub fn brier_score(labels: &[bool], probabilities: &[f64]) -> f64 {
    let total: f64 = labels
        .iter()
        .zip(probabilities)
        .map(|(&label, &p)| (p - f64::from(u8::from(label))).powi(2))
        .sum();
    total / labels.len().max(1) as f64
}

/// Counts of a binary decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Churners flagged.
    pub true_positives: u64,
    /// Stayers flagged.
    pub false_positives: u64,
    /// Stayers not flagged.
    pub true_negatives: u64,
    /// Churners missed.
    pub false_negatives: u64,
}

impl Confusion {
    /// The confusion of flagging every probability at or above `threshold`.
    pub fn at(labels: &[bool], probabilities: &[f64], threshold: f64) -> Self {
        let mut confusion = Self::default();
        for (&label, &p) in labels.iter().zip(probabilities) {
            match (p >= threshold, label) {
                (true, true) => confusion.true_positives += 1,
                (true, false) => confusion.false_positives += 1,
                (false, false) => confusion.true_negatives += 1,
                (false, true) => confusion.false_negatives += 1,
            }
        }
        confusion
    }

    fn ratio(numerator: u64, denominator: u64) -> f64 {
        if denominator == 0 {
            0.0
        } else {
            numerator as f64 / denominator as f64
        }
    }

    /// Share of flagged customers who churn.
    pub fn precision(&self) -> f64 {
        Self::ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    /// Share of churners flagged.
    pub fn recall(&self) -> f64 {
        Self::ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    /// Share of right decisions.
    pub fn accuracy(&self) -> f64 {
        let total =
            self.true_positives + self.false_positives + self.true_negatives + self.false_negatives;
        Self::ratio(self.true_positives + self.true_negatives, total)
    }
}

/// One point of a curve swept over thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The x coordinate (false-positive rate, or recall).
    pub x: f64,
    /// The y coordinate (true-positive rate, or precision).
    pub y: f64,
    /// Scores at or above this are flagged at this point.
    pub threshold: f64,
}

/// Sweeps thresholds from high to low, calling `point(tp, fp, threshold)` once per
/// distinct score.
fn sweep(labels: &[bool], scores: &[f64], mut point: impl FnMut(f64, f64, f64)) {
    let order = by_descending_score(scores);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut index = 0;
    while index < order.len() {
        let score = scores[order[index]];
        while index < order.len() && scores[order[index]] == score {
            if labels[order[index]] {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            index += 1;
        }
        point(tp, fp, score);
    }
}

/// The ROC curve: (false-positive rate, true-positive rate), from (0, 0) to (1, 1).
pub fn roc_curve(labels: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    let positives = labels.iter().filter(|l| **l).count().max(1) as f64;
    let negatives = (labels.len() as f64 - positives).max(1.0);
    let mut points = vec![CurvePoint {
        x: 0.0,
        y: 0.0,
        threshold: f64::INFINITY,
    }];
    sweep(labels, scores, |tp, fp, threshold| {
        points.push(CurvePoint {
            x: fp / negatives,
            y: tp / positives,
            threshold,
        });
    });
    points
}

/// The precision-recall curve: (recall, precision), from high thresholds to low.
pub fn pr_curve(labels: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    let positives = labels.iter().filter(|l| **l).count().max(1) as f64;
    let mut points = Vec::new();
    sweep(labels, scores, |tp, fp, threshold| {
        points.push(CurvePoint {
            x: tp / positives,
            y: tp / (tp + fp),
            threshold,
        });
    });
    points
}

/// Cumulative gains: after targeting the top `x` share of customers by score, the share
/// `y` of all churners reached. Lift at `x` is `y / x`.
pub fn cumulative_gains(labels: &[bool], scores: &[f64]) -> Vec<CurvePoint> {
    let positives = labels.iter().filter(|l| **l).count().max(1) as f64;
    let total = labels.len().max(1) as f64;
    let mut points = vec![CurvePoint {
        x: 0.0,
        y: 0.0,
        threshold: f64::INFINITY,
    }];
    sweep(labels, scores, |tp, fp, threshold| {
        points.push(CurvePoint {
            x: (tp + fp) / total,
            y: tp / positives,
            threshold,
        });
    });
    points
}

/// One bin of a calibration (reliability) curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Mean predicted probability in the bin.
    pub predicted: f64,
    /// Observed churn rate in the bin.
    pub observed: f64,
    /// Customers in the bin.
    pub count: u64,
}

/// Reliability curve over `bins` equal-width probability bins (empty bins omitted).
pub fn calibration_curve(
    labels: &[bool],
    probabilities: &[f64],
    bins: usize,
) -> Vec<CalibrationBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0.0, 0.0, 0u64); bins];
    for (&label, &p) in labels.iter().zip(probabilities) {
        let bin = ((p.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1);
        sums[bin].0 += p;
        sums[bin].1 += f64::from(u8::from(label));
        sums[bin].2 += 1;
    }
    sums.into_iter()
        .filter(|(_, _, count)| *count > 0)
        .map(|(predicted, observed, count)| CalibrationBin {
            predicted: predicted / count as f64,
            observed: observed / count as f64,
            count,
        })
        .collect()
}

/// Expected calibration error: the mean gap between predicted and observed churn over
/// the bins of [`calibration_curve`], weighted by their customers.
pub fn expected_calibration_error(bins: &[CalibrationBin]) -> Option<f64> {
    let total: u64 = bins.iter().map(|b| b.count).sum();
    (total > 0).then(|| {
        bins.iter()
            .map(|b| b.count as f64 * (b.predicted - b.observed).abs())
            .sum::<f64>()
            / total as f64
    })
}

/// Lift of the riskiest `fraction` of customers: their churn rate over everyone's (1 is
/// no better than random). `None` without positives or without customers in the top.
pub fn lift_at(labels: &[bool], scores: &[f64], fraction: f64) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count();
    let top = ((labels.len() as f64 * fraction).ceil() as usize).min(labels.len());
    if positives == 0 || top == 0 {
        return None;
    }
    let order = by_descending_score(scores);
    let caught = order[..top].iter().filter(|&&i| labels[i]).count();
    Some((caught as f64 / top as f64) / (positives as f64 / labels.len() as f64))
}

/// Population stability index of `actual` against `expected`, over `bins` quantile bins
/// of `expected`. Below 0.1 is stable; above 0.25 is a shift worth acting on.
pub fn population_stability_index(expected: &[f64], actual: &[f64], bins: usize) -> Option<f64> {
    if expected.is_empty() || actual.is_empty() || bins < 2 {
        return None;
    }
    let mut sorted: Vec<f64> = expected.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bins)
        .map(|i| sorted[(i * sorted.len() / bins).min(sorted.len() - 1)])
        .collect();
    edges.dedup();
    let share = |values: &[f64]| -> Vec<f64> {
        let mut counts = vec![0.0; edges.len() + 1];
        for value in values.iter().filter(|v| !v.is_nan()) {
            counts[edges.partition_point(|edge| edge < value)] += 1.0;
        }
        let total: f64 = counts.iter().sum::<f64>().max(1.0);
        counts.into_iter().map(|c| (c / total).max(1e-4)).collect()
    };
    let (e, a) = (share(expected), share(actual));
    Some(e.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_counts() {
        // Pairs (pos, neg): (0.9 > 0.1), (0.9 > 0.4), (0.35 < 0.4), (0.35 > 0.1): 3 of 4.
        let labels = [true, false, true, false];
        let scores = [0.9, 0.1, 0.35, 0.4];
        assert_eq!(roc_auc(&labels, &scores), Some(0.75));
        assert_eq!(
            roc_auc(&[true, false], &[0.5, 0.5]),
            Some(0.5),
            "ties count half"
        );
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn average_precision_matches_scikit_learn() {
        // sklearn.metrics.average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.8333...
        let ap =
            average_precision(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).expect("ap");
        assert!((ap - 0.833_333_333_333_333_4).abs() < 1e-12, "{ap}");
    }

    #[test]
    fn confusion_rates() {
        let confusion = Confusion::at(&[true, false, true, false], &[0.9, 0.8, 0.2, 0.1], 0.5);
        assert_eq!(
            (confusion.true_positives, confusion.false_positives),
            (1, 1)
        );
        assert_eq!(
            (confusion.true_negatives, confusion.false_negatives),
            (1, 1)
        );
        assert_eq!(confusion.precision(), 0.5);
        assert_eq!(confusion.recall(), 0.5);
        assert_eq!(confusion.f1(), 0.5);
        assert_eq!(confusion.accuracy(), 0.5);
    }

    #[test]
    fn losses() {
        assert!((log_loss(&[true, false], &[0.8, 0.2]) - 0.223_143_551_314_209_7).abs() < 1e-12);
        assert!((brier_score(&[true, false], &[0.8, 0.2]) - 0.04).abs() < 1e-12);
    }

    #[test]
    fn curves_end_where_they_should() {
        let labels = [true, false, true, false, true];
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2];
        let roc = roc_curve(&labels, &scores);
        assert_eq!((roc[0].x, roc[0].y), (0.0, 0.0));
        let last = roc[roc.len() - 1];
        assert_eq!((last.x, last.y), (1.0, 1.0));
        let gains = cumulative_gains(&labels, &scores);
        assert_eq!(gains[gains.len() - 1].y, 1.0);
        let pr = pr_curve(&labels, &scores);
        assert_eq!(pr[0].y, 1.0);
        let bins = calibration_curve(&labels, &[0.05, 0.15, 0.95, 0.95, 0.55], 10);
        assert_eq!(bins.iter().map(|b| b.count).sum::<u64>(), 5);
    }

    #[test]
    fn calibration_error_and_lift() {
        let bins = [
            CalibrationBin {
                predicted: 0.1,
                observed: 0.2,
                count: 3,
            },
            CalibrationBin {
                predicted: 0.8,
                observed: 0.8,
                count: 1,
            },
        ];
        let ece = expected_calibration_error(&bins).expect("ece");
        assert!((ece - 0.075).abs() < 1e-12, "{ece}");
        assert_eq!(expected_calibration_error(&[]), None);
        // 10 customers, 2 churners; the top 10 % (one customer) churned: lift 1 / 0.2 = 5.
        let labels: Vec<bool> = (0..10).map(|i| i == 9 || i == 3).collect();
        let scores: Vec<f64> = (0..10).map(f64::from).collect();
        assert_eq!(lift_at(&labels, &scores, 0.1), Some(5.0));
        assert_eq!(lift_at(&labels, &scores, 1.0), Some(1.0));
        assert_eq!(lift_at(&[false, false], &[0.1, 0.2], 0.1), None);
    }

    #[test]
    fn psi_is_zero_for_the_same_sample_and_grows_with_shift() {
        let expected: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
        let same = population_stability_index(&expected, &expected, 10).expect("psi");
        assert!(same.abs() < 1e-9);
        let shifted: Vec<f64> = expected.iter().map(|v| v + 0.3).collect();
        let psi = population_stability_index(&expected, &shifted, 10).expect("psi");
        assert!(psi > 0.25, "{psi}");
    }
}
