//! A family's final model: the average of its best trials when that scores better out of
//! fold (greedy ensemble selection), refitted on the whole train split, each boosting
//! config bagged over seeds on small data, then calibrated and given its decision
//! threshold on the out-of-fold predictions.

use std::collections::BTreeMap;

use churn_core::model::{Aggregation, LinearModel, Model, TreeEnsemble};
use churn_core::{ARTIFACT_SCHEMA_VERSION, Component, Lineage, ModelArtifact, fnv64_hex};

use super::family::{Config, Family};
use super::options::{BAG_MAX_ROWS, SelectionMetric, ValidTrainOptions};
use super::outcome::Trial;
use super::search::{FoldData, Tried, fit_model, prepare_fold};
use super::{calibrate, labels_of, threshold};
use crate::error::{PipelineError, Result};
use crate::features::data::Dataset;

/// The trials a family's final model averages and how they score out of fold.
pub(super) struct Selection {
    /// Indices into the family's trials, best first.
    pub(super) members: Vec<usize>,
    /// Cross-validated metric of their average.
    pub(super) cv_metric: f64,
    /// Their averaged out-of-fold margins, one per search row (in `search_rows` order).
    pub(super) oof_margins: Vec<f64>,
}

/// Picks the best trial, then the best 2, 3 or 5 averaged when that beats it by more
/// than 1e-4 out of fold.
pub(super) fn select(
    tried: &[Tried],
    folds: &[FoldData],
    data: &Dataset,
    search_rows: &[usize],
    metric: SelectionMetric,
) -> Selection {
    let mut ranked: Vec<usize> = (0..tried.len())
        .filter(|&index| !tried[index].trial.pruned)
        .collect();
    ranked.sort_by(|&a, &b| {
        tried[b]
            .trial
            .mean
            .total_cmp(&tried[a].trial.mean)
            .then(a.cmp(&b))
    });
    let averaged_margins = |members: &[usize], fold: usize| -> Vec<f64> {
        let mut total = vec![0.0; folds[fold].valid.len()];
        for &member in members {
            for (sum, margin) in total.iter_mut().zip(&tried[member].fits[fold].margins) {
                *sum += margin;
            }
        }
        total.iter().map(|sum| sum / members.len() as f64).collect()
    };
    let score_of = |members: &[usize]| -> f64 {
        (0..folds.len())
            .map(|fold| {
                metric.compute(
                    &labels_of(data, &folds[fold].valid),
                    &averaged_margins(members, fold),
                )
            })
            .sum::<f64>()
            / folds.len() as f64
    };
    let mut members = vec![ranked[0]];
    let mut cv_metric = tried[ranked[0]].trial.mean;
    for size in [2, 3, 5] {
        if size > ranked.len() {
            break;
        }
        let score = score_of(&ranked[..size]);
        if score > cv_metric + 1e-4 {
            members = ranked[..size].to_vec();
            cv_metric = score;
        }
    }
    let mut oof_margins = vec![0.0; data.len()];
    for (index, fold) in folds.iter().enumerate() {
        for (margin, &row) in averaged_margins(&members, index).iter().zip(&fold.valid) {
            oof_margins[row] = *margin;
        }
    }
    let oof_margins: Vec<f64> = search_rows.iter().map(|&r| oof_margins[r]).collect();
    Selection {
        members,
        cv_metric,
        oof_margins,
    }
}

/// The finished artifact of a family: `members` refitted on `train_rows` and averaged,
/// calibrated and thresholded on the out-of-fold margins.
pub(super) fn final_artifact(
    data: &Dataset,
    train_rows: &[usize],
    oof_labels: &[bool],
    oof_margins: &[f64],
    members: &[(Config, Trial)],
    options: &ValidTrainOptions,
) -> Result<ModelArtifact> {
    let family = members[0].0.family();
    let style = family.style(options.scaling);
    let fold = prepare_fold(
        data,
        train_rows.to_vec(),
        Vec::new(),
        &[style],
        options.seed ^ 0xf1a1,
    );
    // The final booster grows as many trees as early stopping kept on average, plus 10%
    // for the larger training set.
    let configs: Vec<Config> = members
        .iter()
        .map(|(config, trial)| match config {
            Config::Boosting(params) => {
                let kept =
                    trial.trees.iter().sum::<usize>() as f64 / trial.trees.len().max(1) as f64;
                let mut params = *params;
                params.max_trees = ((kept * 1.1).round() as usize).max(1);
                Config::Boosting(params)
            }
            other => *other,
        })
        .collect();
    // Boosters are bagged over seeds on small data; the linear model's fit has no
    // randomness, and a forest is a bag already.
    let bags = if family == Family::Boosting && train_rows.len() <= BAG_MAX_ROWS {
        options.bags
    } else {
        1
    };
    let models: Vec<Model> = configs
        .iter()
        .enumerate()
        .flat_map(|(index, config)| (0..bags).map(move |bag| (index + 1000 * bag, config)))
        .map(|(index, config)| {
            fit_model(
                config,
                &fold,
                data,
                false,
                options.seed ^ (0xf17a1 + index as u64),
            )
            .0
        })
        .collect();
    let model = average(models);
    let preprocessing = match (&fold.linear, &fold.trees) {
        (Some((encoded, _)), _) => encoded.preprocessing.clone(),
        (None, Some(trees)) => trees.encoded.preprocessing.clone(),
        (None, None) => unreachable!("the fold was prepared for the family's style"),
    };
    let margin_is_probability = model.margin_is_probability();
    let calibration = calibrate::fit(
        options.calibration,
        oof_margins,
        oof_labels,
        margin_is_probability,
    );
    let oof_probabilities: Vec<f64> = oof_margins
        .iter()
        .map(|&m| calibration.probability(m, margin_is_probability))
        .collect();
    let decision = threshold::decide(options.threshold, oof_labels, &oof_probabilities);
    let model_json = serde_json::to_string(&model).map_err(|source| PipelineError::Json {
        context: "encoding the model for its id".into(),
        source,
    })?;
    let mut parameters = BTreeMap::new();
    for (index, config) in configs.iter().enumerate() {
        for (key, value) in config.describe() {
            let key = if members.len() == 1 {
                key
            } else {
                format!("member{}.{key}", index + 1)
            };
            parameters.insert(key, value);
        }
    }
    parameters.insert("averaged_models".into(), members.len().to_string());
    if bags > 1 {
        parameters.insert("bags".into(), bags.to_string());
    }
    parameters.insert(
        "calibration".into(),
        format!("{:?}", options.calibration).to_lowercase(),
    );
    parameters.insert("folds".into(), options.folds.to_string());
    Ok(ModelArtifact {
        schema_version: ARTIFACT_SCHEMA_VERSION,
        model_id: format!(
            "{}-{}",
            family.name(),
            &fnv64_hex(format!("{}{model_json}{}", data.hash, options.seed).as_bytes())[..8]
        ),
        family: family.name().to_owned(),
        feature_spec: data.spec.clone(),
        components: vec![Component {
            weight: 1.0,
            preprocessing,
            model,
        }],
        calibration,
        decision,
        metrics: BTreeMap::new(),
        lineage: Lineage {
            created_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
            trained_at: options.trained_at.clone(),
            data_hash: data.hash.clone(),
            training_rows: train_rows.len() as u64,
            seed: options.seed,
            parameters,
            horizon_days: data.horizon_days,
        },
    })
}

/// A family's configuration refitted on every labelled row, after the test split has
/// measured it fitted on the train split (`measured`): it carries the measured model's
/// figures, and says in its parameters which rows it was fitted on.
pub(super) fn refitted(mut refit: ModelArtifact, measured: &ModelArtifact) -> ModelArtifact {
    refit.metrics = measured.metrics.clone();
    refit.lineage.parameters.insert(
        "fitted_on".into(),
        format!(
            "all {} labelled rows; the test figures are of model {} fitted on the {} train rows",
            refit.lineage.training_rows, measured.model_id, measured.lineage.training_rows
        ),
    );
    refit
}

/// The average of models of one family and preprocessing, as one model of that family:
/// linear weights averaged; boosted ensembles concatenated with leaves scaled by `1/k`
/// and base scores averaged; forests concatenated (a mean over all their trees).
fn average(mut models: Vec<Model>) -> Model {
    if models.len() == 1 {
        return models.remove(0);
    }
    let k = models.len() as f64;
    match &models[0] {
        Model::Linear(first) => {
            let mut weights = vec![0.0; first.weights.len()];
            let mut intercept = 0.0;
            for model in &models {
                if let Model::Linear(linear) = model {
                    intercept += linear.intercept / k;
                    for (total, w) in weights.iter_mut().zip(&linear.weights) {
                        *total += w / k;
                    }
                }
            }
            Model::Linear(LinearModel { intercept, weights })
        }
        Model::Trees(first) => {
            let aggregation = first.aggregation;
            let mut base_total = 0.0;
            let mut trees = Vec::new();
            for model in models {
                if let Model::Trees(ensemble) = model {
                    match ensemble.aggregation {
                        Aggregation::Sum { base_score } => {
                            base_total += base_score / k;
                            trees.extend(ensemble.trees.into_iter().map(|mut tree| {
                                for node in &mut tree.nodes {
                                    node.value /= k;
                                }
                                tree
                            }));
                        }
                        Aggregation::Mean => trees.extend(ensemble.trees),
                    }
                }
            }
            Model::Trees(TreeEnsemble {
                aggregation: match aggregation {
                    Aggregation::Sum { .. } => Aggregation::Sum {
                        base_score: base_total,
                    },
                    Aggregation::Mean => Aggregation::Mean,
                },
                trees,
            })
        }
    }
}
