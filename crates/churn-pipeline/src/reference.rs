//! A model's reference, written beside it at training time (`profile.json`): the
//! distribution of every feature of the training table (what the monitor's data drift
//! compares with) and of the model's own scores on it, with the tier shares and the
//! calibration measured on the test split (what prediction drift and the accuracy
//! estimates compare with).

use std::collections::BTreeMap;
use std::path::Path;

use churn_core::drift::NumericProfile;
use churn_core::metrics::{self, CalibrationBin};
use churn_core::{ModelArtifact, Scorer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};
use crate::features::data::Dataset;
use crate::features::profile::{TableProfile, profile};
use crate::train::{TrainOutcome, score_rows};

/// The reference's file in a model folder.
pub const PROFILE_FILE: &str = "profile.json";

/// Bins of the calibration table (equal width, as the evaluation report's).
pub const CALIBRATION_BINS: usize = 10;

/// What `profile.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// Every feature of the training table.
    #[serde(flatten)]
    pub table: TableProfile,
    /// The model's scores (absent in folders written before prediction drift).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scores: Option<ScoreReference>,
}

/// The deployed model's scores on its training table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreReference {
    /// The model they are the scores of.
    pub model_id: String,
    /// Its probabilities over every row of the training table.
    pub distribution: NumericProfile,
    /// Share of those rows per tier at the model's decision.
    pub tiers: BTreeMap<String, f64>,
    /// The decision threshold.
    pub threshold: f64,
    /// The champion as the test split measured it (before any refit on every row).
    pub holdout: Option<Holdout>,
}

/// The champion on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    pub rows: u64,
    pub positives: u64,
    pub roc_auc: Option<f64>,
    /// Reliability table: mean predicted and observed churn per probability bin.
    pub calibration: Vec<CalibrationBin>,
    /// Weighted mean gap of the table.
    pub calibration_error: Option<f64>,
}

impl Holdout {
    /// The figures of calibrated `probabilities` against `labels`.
    pub fn measure(labels: &[bool], probabilities: &[f64]) -> Self {
        let calibration = metrics::calibration_curve(labels, probabilities, CALIBRATION_BINS);
        Self {
            rows: labels.len() as u64,
            positives: labels.iter().filter(|l| **l).count() as u64,
            roc_auc: metrics::roc_auc(labels, probabilities),
            calibration_error: metrics::expected_calibration_error(&calibration),
            calibration,
        }
    }
}

/// The reference of a training run on `data`.
pub fn build(data: &Dataset, outcome: &TrainOutcome) -> Result<Reference> {
    let deployed = outcome
        .deployed()
        .ok_or_else(|| PipelineError::InvalidInput("training produced no model".into()))?;
    let all: Vec<usize> = (0..data.len()).collect();
    let scores = scores(deployed, data, &all)?;
    let decision = &deployed.decision;
    let mut tiers = BTreeMap::new();
    for &p in scores.iter().filter(|p| !p.is_nan()) {
        *tiers
            .entry(decision.tier(p).as_str().to_owned())
            .or_insert(0.0) += 1.0;
    }
    let scored: f64 = tiers.values().sum();
    for share in tiers.values_mut() {
        *share /= scored.max(1.0);
    }
    let holdout = match &outcome.champion().artifact {
        Some(measured) if !outcome.test_ids.is_empty() => {
            let wanted: std::collections::HashSet<&str> =
                outcome.test_ids.iter().map(String::as_str).collect();
            let rows: Vec<usize> = (0..data.len())
                .filter(|&row| wanted.contains(data.ids[row].as_str()))
                .collect();
            let probabilities = self::scores(measured, data, &rows)?;
            let labels: Vec<bool> = rows.iter().map(|&row| data.labels[row]).collect();
            Some(Holdout::measure(&labels, &probabilities))
        }
        _ => None,
    };
    Ok(Reference {
        table: profile(data),
        scores: Some(ScoreReference {
            model_id: deployed.model_id.clone(),
            distribution: NumericProfile::of(&scores),
            tiers,
            threshold: decision.threshold,
            holdout,
        }),
    })
}

/// The probabilities of `artifact` on `rows` of `data`, on every core.
fn scores(artifact: &ModelArtifact, data: &Dataset, rows: &[usize]) -> Result<Vec<f64>> {
    let scorer = Scorer::new(artifact.clone())
        .map_err(|e| PipelineError::InvalidInput(format!("the trained model: {e}")))?;
    Ok(rows
        .par_chunks(4096)
        .flat_map_iter(|chunk| score_rows(&scorer, data, chunk))
        .collect())
}

/// Reads the reference of a model folder.
pub fn read(dir: &Path) -> Result<Reference> {
    let path = dir.join(PROFILE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| PipelineError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|source| PipelineError::Json {
        context: format!("reading {}", path.display()),
        source,
    })
}
