//! The blend: `w · logistic regression + (1 - w) · boosting` in log-odds, `w` chosen on
//! the two families' out-of-fold predictions, kept only when it beats both.

use std::collections::BTreeMap;
use std::time::Instant;

use churn_core::{Component, Lineage, ModelArtifact, Scorer, fnv64_hex};

use super::options::ValidTrainOptions;
use super::outcome::{FamilyResult, HeldOut};
use super::search::FoldData;
use super::{calibrate, labels_of, score_rows, threshold};
use crate::error::{PipelineError, Result};
use crate::features::data::Dataset;

/// What a blend needs to know about the run.
pub(super) struct BlendInputs<'a> {
    pub(super) data: &'a Dataset,
    pub(super) search_rows: &'a [usize],
    pub(super) search_labels: &'a [bool],
    pub(super) test_rows: &'a [usize],
    pub(super) test_labels: &'a [bool],
    pub(super) folds: &'a [FoldData],
    pub(super) options: &'a ValidTrainOptions,
}

/// A blend of the logistic regression and the booster: `w · lr + (1 - w) · gbdt` in
/// log-odds, `w` chosen on their out-of-fold predictions. A linear model catches additive
/// effects that trees approximate in many small steps, and the trees catch interactions
/// the linear model cannot: together they often beat both. `None` when the best weight
/// gives all to one model.
pub(super) fn blend(
    linear: &FamilyResult,
    linear_oof: &[f64],
    boosted: &FamilyResult,
    boosted_oof: &[f64],
    inputs: &BlendInputs<'_>,
) -> Result<Option<FamilyResult>> {
    let started = Instant::now();
    let (Some(linear_artifact), Some(boosted_artifact)) = (&linear.artifact, &boosted.artifact)
    else {
        return Ok(None);
    };
    let position: BTreeMap<usize, usize> = inputs
        .search_rows
        .iter()
        .enumerate()
        .map(|(position, &row)| (row, position))
        .collect();
    let cv_of = |weight: f64| -> f64 {
        inputs
            .folds
            .iter()
            .map(|fold| {
                let positions: Vec<usize> = fold.valid.iter().map(|row| position[row]).collect();
                let margins: Vec<f64> = positions
                    .iter()
                    .map(|&p| weight * linear_oof[p] + (1.0 - weight) * boosted_oof[p])
                    .collect();
                inputs
                    .options
                    .metric
                    .compute(&labels_of(inputs.data, &fold.valid), &margins)
            })
            .sum::<f64>()
            / inputs.folds.len() as f64
    };
    let (weight, cv_metric) = (0..=10)
        .map(|step| f64::from(step) / 10.0)
        .map(|weight| (weight, cv_of(weight)))
        .fold((0.0, f64::NEG_INFINITY), |best, candidate| {
            if candidate.1 > best.1 + 1e-9 {
                candidate
            } else {
                best
            }
        });
    if weight == 0.0 || weight == 1.0 {
        return Ok(None);
    }
    let oof: Vec<f64> = linear_oof
        .iter()
        .zip(boosted_oof)
        .map(|(l, b)| weight * l + (1.0 - weight) * b)
        .collect();
    let calibration = calibrate::fit(
        inputs.options.calibration,
        &oof,
        inputs.search_labels,
        false,
    );
    let probabilities: Vec<f64> = oof
        .iter()
        .map(|&m| calibration.probability(m, false))
        .collect();
    let decision = threshold::decide(
        inputs.options.threshold,
        inputs.search_labels,
        &probabilities,
    );
    let mut components = Vec::new();
    for (artifact, share) in [(linear_artifact, weight), (boosted_artifact, 1.0 - weight)] {
        for component in &artifact.components {
            components.push(Component {
                weight: share * component.weight,
                ..component.clone()
            });
        }
    }
    let mut parameters = BTreeMap::new();
    parameters.insert(
        "logistic_regression_weight".to_owned(),
        format!("{weight:.1}"),
    );
    parameters.insert(
        "gradient_boosting_weight".to_owned(),
        format!("{:.1}", 1.0 - weight),
    );
    for (prefix, artifact) in [("lr", linear_artifact), ("gbdt", boosted_artifact)] {
        for (key, value) in &artifact.lineage.parameters {
            parameters.insert(format!("{prefix}.{key}"), value.clone());
        }
    }
    let mut artifact = ModelArtifact {
        model_id: format!(
            "blend-{}",
            &fnv64_hex(
                format!(
                    "{}{}{weight}",
                    linear_artifact.model_id, boosted_artifact.model_id
                )
                .as_bytes()
            )[..8]
        ),
        family: "blend".to_owned(),
        components,
        calibration,
        decision,
        metrics: BTreeMap::new(),
        lineage: Lineage {
            parameters,
            ..linear_artifact.lineage.clone()
        },
        ..linear_artifact.clone()
    };
    let scorer = Scorer::new(artifact.clone())
        .map_err(|e| PipelineError::InvalidInput(format!("built an invalid blend: {e}")))?;
    let probabilities = score_rows(&scorer, inputs.data, inputs.test_rows);
    let test = HeldOut::compute(
        inputs.test_labels,
        &probabilities,
        artifact.decision.threshold,
    );
    artifact.metrics.extend(test.as_map());
    artifact
        .metrics
        .insert(format!("cv_{}", inputs.options.metric.name()), cv_metric);
    Ok(Some(FamilyResult {
        family: "blend".to_owned(),
        trials: Vec::new(),
        members: Vec::new(),
        cv_metric,
        test,
        final_seconds: started.elapsed().as_secs_f64(),
        artifact: Some(artifact),
    }))
}

/// The blend `measured` with its two models replaced by the same configurations refitted
/// on every labelled row (the weight, calibration and threshold stay: they were chosen
/// out of fold).
pub(super) fn refitted(
    measured: &ModelArtifact,
    linear: &ModelArtifact,
    boosted: &ModelArtifact,
) -> Result<ModelArtifact> {
    let parts: Vec<&Component> = linear
        .components
        .iter()
        .chain(&boosted.components)
        .collect();
    if parts.len() != measured.components.len() {
        return Err(PipelineError::InvalidInput(format!(
            "refitting the blend gave {} models for its {}",
            parts.len(),
            measured.components.len()
        )));
    }
    let mut refit = ModelArtifact {
        model_id: format!(
            "blend-{}",
            &fnv64_hex(
                format!(
                    "{}{}{}",
                    measured.model_id, linear.model_id, boosted.model_id
                )
                .as_bytes()
            )[..8]
        ),
        components: measured
            .components
            .iter()
            .zip(parts)
            .map(|(old, new)| Component {
                weight: old.weight,
                ..new.clone()
            })
            .collect(),
        lineage: Lineage {
            training_rows: linear.lineage.training_rows,
            ..measured.lineage.clone()
        },
        ..measured.clone()
    };
    refit = super::ensemble::refitted(refit, measured);
    Ok(refit)
}
