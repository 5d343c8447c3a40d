//! Target leakage: a feature that alone separates churners from stayers almost perfectly
//! is nearly always a copy of the label (a `churn_date`, a `cancel_reason` filled in at
//! cancellation, the target under another name), and a model trained on it is worthless
//! in production however good its report looks.
//!
//! Each feature is scored on its own: a number or flag by its value, a category by its
//! share of churners (only for categories holding [`MIN_ROWS_PER_CATEGORY`] rows on
//! average, so that an identifier-like column does not separate the classes by
//! memorising rows). Missing values rank below every other. The separation is the
//! ROC-AUC of that score, turned around when below 0.5.

use churn_core::metrics::roc_auc;

use super::data::{Dataset, FeatureColumn, MISSING_CODE};

/// A feature whose own ROC-AUC reaches this separates the classes almost perfectly.
pub const LEAKY_ROC_AUC: f64 = 0.99;

/// Categories must hold this many rows on average for their churn shares to be scored.
pub const MIN_ROWS_PER_CATEGORY: usize = 20;

/// A feature that alone separates the classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// The feature.
    pub feature: String,
    /// Its ROC-AUC alone (0.5 to 1).
    pub roc_auc: f64,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "feature '{}' alone separates churners from stayers (ROC-AUC {:.4}): it is \
             probably the label under another name or recorded after the churn",
            self.feature, self.roc_auc
        )
    }
}

/// The separation of one column's scores (missing as `None`) over labelled rows.
pub fn separation(scores: &[Option<f64>], labels: &[bool]) -> Option<f64> {
    let lowest = scores
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let filled: Vec<f64> = scores
        .iter()
        .map(|score| score.unwrap_or(lowest - 1.0))
        .collect();
    roc_auc(labels, &filled).map(|auc| auc.max(1.0 - auc))
}

/// Category codes (`None` missing) scored by their share of churners; `None` when there
/// are too many categories for the shares to mean anything.
pub fn category_scores(codes: &[Option<u32>], labels: &[bool]) -> Option<Vec<Option<f64>>> {
    let levels = codes.iter().flatten().max().map_or(0, |&c| c as usize + 1);
    if levels == 0 || codes.len() < levels * MIN_ROWS_PER_CATEGORY {
        return None;
    }
    let mut counts = vec![(0usize, 0usize); levels];
    for (code, &label) in codes.iter().zip(labels) {
        if let Some(code) = code {
            let slot = &mut counts[*code as usize];
            slot.0 += usize::from(label);
            slot.1 += 1;
        }
    }
    Some(
        codes
            .iter()
            .map(|code| code.map(|c| counts[c as usize].0 as f64 / counts[c as usize].1 as f64))
            .collect(),
    )
}

/// The features of `data` that separate the classes on `rows`, most separating first.
pub fn leaky_features(data: &Dataset, rows: &[usize]) -> Vec<Leak> {
    if data.labels.len() != data.len() {
        return Vec::new();
    }
    let labels: Vec<bool> = rows.iter().map(|&r| data.labels[r]).collect();
    let mut leaks: Vec<Leak> = data
        .spec
        .features
        .iter()
        .zip(&data.columns)
        .filter_map(|(feature, column)| {
            let scores: Vec<Option<f64>> = match column {
                FeatureColumn::Numeric(values) => rows
                    .iter()
                    .map(|&r| Some(values[r]).filter(|x| !x.is_nan()))
                    .collect(),
                FeatureColumn::Boolean(values) => {
                    rows.iter().map(|&r| values[r].map(f64::from)).collect()
                }
                FeatureColumn::Categorical { codes, .. } => {
                    let codes: Vec<Option<u32>> = rows
                        .iter()
                        .map(|&r| Some(codes[r]).filter(|&c| c != MISSING_CODE))
                        .collect();
                    category_scores(&codes, &labels)?
                }
            };
            let auc = separation(&scores, &labels)?;
            (auc >= LEAKY_ROC_AUC).then(|| Leak {
                feature: feature.name.clone(),
                roc_auc: auc,
            })
        })
        .collect();
    leaks.sort_by(|a, b| b.roc_auc.total_cmp(&a.roc_auc));
    leaks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_of_the_label_separates_and_noise_does_not() {
        let labels: Vec<bool> = (0..200).map(|i| i % 3 == 0).collect();
        let copy: Vec<Option<f64>> = labels.iter().map(|&l| Some(f64::from(l))).collect();
        assert_eq!(separation(&copy, &labels), Some(1.0));
        let inverted: Vec<Option<f64>> = labels.iter().map(|&l| Some(f64::from(!l))).collect();
        assert_eq!(separation(&inverted, &labels), Some(1.0));
        let noise: Vec<Option<f64>> = (0..200).map(|i| Some(((i * 37) % 101) as f64)).collect();
        assert!(separation(&noise, &labels).expect("auc") < 0.7);
        // Filled only for churners: the missing values give it away.
        let filled: Vec<Option<f64>> = labels.iter().map(|&l| l.then_some(5.0)).collect();
        assert_eq!(separation(&filled, &labels), Some(1.0));
    }

    #[test]
    fn categories_are_scored_only_when_they_hold_enough_rows() {
        let labels: Vec<bool> = (0..200).map(|i| i % 2 == 0).collect();
        let by_label: Vec<Option<u32>> = labels.iter().map(|&l| Some(u32::from(l))).collect();
        let scores = category_scores(&by_label, &labels).expect("two categories");
        assert_eq!(separation(&scores, &labels), Some(1.0));
        // One category per row would separate perfectly by memorising: not scored.
        let per_row: Vec<Option<u32>> = (0..200).map(Some).collect();
        assert!(category_scores(&per_row, &labels).is_none());
    }
}
