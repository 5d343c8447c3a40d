//! Choosing the decision threshold and tiers on out-of-fold calibrated probabilities.

use churn_core::Decision;
use churn_core::metrics::Confusion;

/// How the decision threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// The threshold with the best F1 score.
    MaxF1,
    /// The highest threshold that still flags this share of churners.
    TargetRecall(f64),
    /// The threshold with the highest expected profit: a flagged churner is saved with
    /// `save_rate` and is worth `customer_value`; every flagged customer costs `offer_cost`.
    MaxProfit {
        /// Cost of the retention offer per flagged customer.
        offer_cost: f64,
        /// Value of keeping a churner (e.g. monthly charge x expected months).
        customer_value: f64,
        /// Share of flagged churners the offer keeps.
        save_rate: f64,
    },
}

impl ThresholdRule {
    /// The rule as stored in the artifact.
    pub fn describe(&self) -> String {
        match self {
            ThresholdRule::MaxF1 => "max_f1".into(),
            ThresholdRule::TargetRecall(recall) => format!("recall>={recall:.2}"),
            ThresholdRule::MaxProfit {
                offer_cost,
                customer_value,
                save_rate,
            } => format!(
                "max_profit(offer_cost={offer_cost},customer_value={customer_value},save_rate={save_rate})"
            ),
        }
    }
}

/// Picks the threshold on `probabilities` by `rule`; the medium tier starts at the base
/// churn rate (above-average risk), capped by the threshold.
pub fn decide(rule: ThresholdRule, labels: &[bool], probabilities: &[f64]) -> Decision {
    let mut candidates: Vec<f64> = probabilities.to_vec();
    candidates.sort_by(|a, b| b.total_cmp(a));
    candidates.dedup();
    let positives = labels.iter().filter(|l| **l).count().max(1) as f64;
    let base_rate = positives / labels.len().max(1) as f64;
    let objective = |threshold: f64| -> f64 {
        let confusion = Confusion::at(labels, probabilities, threshold);
        match rule {
            ThresholdRule::MaxF1 => confusion.f1(),
            ThresholdRule::TargetRecall(_) => threshold,
            ThresholdRule::MaxProfit {
                offer_cost,
                customer_value,
                save_rate,
            } => {
                confusion.true_positives as f64 * save_rate * customer_value
                    - (confusion.true_positives + confusion.false_positives) as f64 * offer_cost
            }
        }
    };
    // Coarsen long candidate lists: 512 quantiles are plenty for a threshold.
    let step = (candidates.len() / 512).max(1);
    let thresholds: Vec<f64> = candidates.iter().step_by(step).copied().collect();
    let threshold = match rule {
        ThresholdRule::TargetRecall(recall) => thresholds
            .iter()
            .copied()
            .find(|&t| Confusion::at(labels, probabilities, t).recall() >= recall)
            .unwrap_or(0.0),
        _ => thresholds
            .iter()
            .copied()
            .max_by(|a, b| objective(*a).total_cmp(&objective(*b)).then(a.total_cmp(b)))
            .unwrap_or(0.5),
    };
    let threshold = threshold.clamp(0.0, 1.0);
    Decision {
        threshold,
        rule: rule.describe(),
        medium_from: base_rate.min(threshold),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_pick_sensible_thresholds() {
        let labels = [true, true, false, true, false, false, false, false];
        let probabilities = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.05];
        let f1 = decide(ThresholdRule::MaxF1, &labels, &probabilities);
        assert_eq!(f1.threshold, 0.6);
        let recall = decide(ThresholdRule::TargetRecall(0.6), &labels, &probabilities);
        assert_eq!(recall.threshold, 0.8);
        // An offer cheap next to the customer: flag generously.
        let profit = decide(
            ThresholdRule::MaxProfit {
                offer_cost: 1.0,
                customer_value: 100.0,
                save_rate: 0.5,
            },
            &labels,
            &probabilities,
        );
        assert_eq!(profit.threshold, 0.6);
        assert_eq!(f1.medium_from, 3.0 / 8.0);
        assert_eq!(f1.tier(0.7), churn_core::Tier::High);
    }
}
