//! One customer of a prediction day's list, as batch prediction writes it
//! (`predictions/dt=<day>/[shard=<part>/]customers.jsonl`, a JSON object a line) and the
//! API's ranked list reads it back, on either host: a store that cannot decode Parquet
//! (the scoring API's Lambda) reads the day from these files.

use serde::{Deserialize, Serialize};

use crate::Tier;

/// One scored customer of the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Listed {
    pub customer_id: String,
    pub probability: f64,
    pub tier: Tier,
    /// The value of the segment feature (`contract_type` unless prediction was told
    /// otherwise), if the table has it.
    #[serde(default)]
    pub segment: Option<String>,
    /// The monthly charge, if the table has it: what the customer is worth a month.
    #[serde(default)]
    pub monthly_charge: Option<f64>,
    /// The top reasons in plain words (batch prediction explains the tiers it is asked
    /// to, the high one by default).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}
