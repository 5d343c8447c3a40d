//! The reference profile of a feature table, written beside a trained model
//! (`profile.json`): per feature, the distribution a monitor compares new features with
//! ([`churn_core::drift`]).

use std::collections::BTreeMap;

use churn_core::drift::{CategoryProfile, NumericProfile};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::data::{Dataset, FeatureColumn};

/// Categories a profile lists by name; the rarer ones are counted together.
pub const MOST_CATEGORIES: usize = 50;

/// One feature's reference distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FeatureProfile {
    /// Numbers, and yes/no as 1/0.
    Numeric(NumericProfile),
    /// Categories.
    Categorical(CategoryProfile),
}

/// The profile of every feature of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableProfile {
    /// Rows profiled.
    pub rows: u64,
    /// Per feature name.
    pub features: BTreeMap<String, FeatureProfile>,
}

/// The profile of every row of `data` (the features on every core).
pub fn profile(data: &Dataset) -> TableProfile {
    let features = data
        .spec
        .features
        .par_iter()
        .zip(&data.columns)
        .map(|(feature, column)| {
            let profile = match column {
                FeatureColumn::Numeric(values) => {
                    FeatureProfile::Numeric(NumericProfile::of(values))
                }
                FeatureColumn::Boolean(values) => {
                    let numbers: Vec<f64> = values
                        .iter()
                        .map(|v| v.map_or(f64::NAN, |b| f64::from(u8::from(b))))
                        .collect();
                    FeatureProfile::Numeric(NumericProfile::of(&numbers))
                }
                FeatureColumn::Categorical { codes, levels } => {
                    FeatureProfile::Categorical(CategoryProfile::of(
                        codes
                            .iter()
                            .map(|&code| levels.get(code as usize).map(String::as_str)),
                        MOST_CATEGORIES,
                    ))
                }
            };
            (feature.name.clone(), profile)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    TableProfile {
        rows: data.len() as u64,
        features,
    }
}
