//! Accuracy over time. A prediction made on day `D` for a horizon of `H` days matures
//! when the data covers `D + H - 1` (the label's last day, as features define it): its
//! customers are then joined to what happened (churned within the horizon or not) and
//! measured. Before that, its accuracy is estimated from the probabilities alone
//! ([`churn_core::estimate`]); a matured day keeps its estimate beside the realised
//! figures, so the monitor shows how good its own estimates are.

use std::collections::HashSet;

use churn_core::estimate::{Estimate, estimate};
use churn_core::metrics::{self, Confusion};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use super::scores::DayScores;
use crate::dates::{from_days, to_days};
use crate::error::{PolarsContext, Result};
use crate::features::asof::{Cutoff, Sources, outcomes};
use crate::features::catalog::ID_COLUMN;
use crate::features::horizon_end;

/// Share of the riskiest customers whose lift is reported.
pub const TOP_SHARE: f64 = 0.1;

/// One prediction day's accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayAccuracy {
    /// The day the features were taken.
    pub date: String,
    /// The model that scored it.
    pub model_id: String,
    /// Its horizon, in days.
    pub horizon_days: u32,
    /// The label's last day: realised figures exist once the data reaches it.
    pub matures_on: String,
    /// Customers scored.
    pub rows: u64,
    /// The decision threshold the precision and recall are at.
    pub threshold: f64,
    /// Expected from the probabilities (always: for a matured day, what the estimate said).
    pub estimated: Estimate,
    /// Measured against the labels, once matured.
    pub realised: Option<Realised>,
    /// Estimated minus realised ROC-AUC, once matured.
    pub estimate_error: Option<f64>,
}

/// Accuracy measured on matured labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Realised {
    /// Scored customers who churned within the horizon.
    pub positives: u64,
    pub churn_rate: f64,
    pub roc_auc: Option<f64>,
    /// Average precision.
    pub pr_auc: Option<f64>,
    pub precision: f64,
    pub recall: f64,
    /// Churn rate of the riskiest [`TOP_SHARE`] over everyone's.
    pub top_decile_lift: Option<f64>,
    pub brier: f64,
    /// Weighted mean gap between predicted and observed churn over ten probability bins.
    pub calibration_error: Option<f64>,
    /// Churns in the horizon of customers the day did not score (they joined after it,
    /// or the day's features missed them): not part of the figures, counted so a join
    /// that matches nobody shows.
    pub churned_unscored: u64,
}

/// The accuracy of `day`, horizon `horizon_days`: realised when `data_end` (a day
/// number) reaches the horizon's end and `sources` hold the labels, estimated always.
pub fn day_accuracy(
    day: &DayScores,
    horizon_days: u32,
    sources: Option<&Sources>,
    data_end: Option<i32>,
) -> Result<DayAccuracy> {
    let as_of = to_days(crate::dates::parse_date(&day.date, "the prediction day")?);
    let last = horizon_end(as_of, horizon_days);
    let threshold = day.summary.threshold;
    let estimated = estimate(&day.probabilities, threshold);
    let realised = match sources {
        Some(sources) if data_end.is_some_and(|end| end >= last) => {
            let cutoff = Cutoff {
                as_of,
                horizon_days: horizon_days as i32,
                label_known: true,
            };
            Some(realised(day, sources, cutoff, threshold)?)
        }
        _ => None,
    };
    let estimate_error = realised
        .as_ref()
        .and_then(|r| Some(estimated.roc_auc? - r.roc_auc?));
    Ok(DayAccuracy {
        date: day.date.clone(),
        model_id: day.summary.model_id.clone(),
        horizon_days,
        matures_on: from_days(last).to_string(),
        rows: day.probabilities.len() as u64,
        threshold,
        estimated,
        realised,
        estimate_error,
    })
}

/// The customers who churned within the horizon of `cutoff`, by the features' own label
/// rule.
pub(super) fn churned(sources: &Sources, cutoff: Cutoff) -> Result<HashSet<String>> {
    let churned = outcomes(sources, cutoff)
        .select([col(ID_COLUMN).cast(DataType::String)])
        .collect()
        .context(|| format!("reading the churns after {}", from_days(cutoff.as_of)))?;
    let ids = churned
        .column(ID_COLUMN)
        .context(|| "the churns".into())?
        .str()
        .context(|| "the churns' customer ids".into())?;
    Ok((0..ids.len())
        .filter_map(|row| ids.get(row).map(str::to_owned))
        .collect())
}

fn realised(
    day: &DayScores,
    sources: &Sources,
    cutoff: Cutoff,
    threshold: f64,
) -> Result<Realised> {
    let churned = churned(sources, cutoff)?;
    let (mut labels, mut probabilities) = (Vec::new(), Vec::new());
    for (id, &p) in day.ids.iter().zip(&day.probabilities) {
        if !p.is_nan() {
            labels.push(churned.contains(id));
            probabilities.push(p);
        }
    }
    let scored: HashSet<&str> = day.ids.iter().map(String::as_str).collect();
    let positives = labels.iter().filter(|l| **l).count() as u64;
    let confusion = Confusion::at(&labels, &probabilities, threshold);
    let calibration =
        metrics::calibration_curve(&labels, &probabilities, crate::reference::CALIBRATION_BINS);
    Ok(Realised {
        positives,
        churn_rate: positives as f64 / labels.len().max(1) as f64,
        roc_auc: metrics::roc_auc(&labels, &probabilities),
        pr_auc: metrics::average_precision(&labels, &probabilities),
        precision: confusion.precision(),
        recall: confusion.recall(),
        top_decile_lift: metrics::lift_at(&labels, &probabilities, TOP_SHARE),
        brier: metrics::brier_score(&labels, &probabilities),
        calibration_error: metrics::expected_calibration_error(&calibration),
        churned_unscored: churned
            .iter()
            .filter(|id| !scored.contains(id.as_str()))
            .count() as u64,
    })
}
