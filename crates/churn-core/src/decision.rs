//! The decision a score leads to: the flagging threshold and the risk tiers, chosen at
//! training time and stored with the model.

use serde::{Deserialize, Serialize};

/// Risk tier of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Below the medium cut.
    Low,
    /// Above the typical customer's risk, below the decision threshold.
    Medium,
    /// At or above the decision threshold: act.
    High,
}

impl Tier {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Low => "low",
            Tier::Medium => "medium",
            Tier::High => "high",
        }
    }
}

/// Threshold and tiers, on calibrated probabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Flag (and tier "high") at or above this probability.
    pub threshold: f64,
    /// How the threshold was chosen (`max_f1`, `recall>=0.80`, `max_profit`...).
    pub rule: String,
    /// Tier "medium" at or above this probability (below `threshold`).
    pub medium_from: f64,
}

impl Decision {
    /// The tier of a probability.
    pub fn tier(&self, probability: f64) -> Tier {
        if probability >= self.threshold {
            Tier::High
        } else if probability >= self.medium_from {
            Tier::Medium
        } else {
            Tier::Low
        }
    }
}
