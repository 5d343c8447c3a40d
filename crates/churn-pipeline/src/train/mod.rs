//! Training: `churn train`. A feature table in; a model artifact, one candidate per family
//! and a training summary out.
//!
//! 1. Split the labelled rows into train and test (stratified, seeded; or given test ids).
//! 2. For each family, evaluate a seeded sequence of hyperparameter configs (the defaults
//!    first, then random draws) by stratified k-fold cross-validation on the train split,
//!    folds in parallel; the preprocessing is refitted inside every fold.
//! 3. Refit each family's best config on the whole train split; fit its calibration and
//!    decision threshold on its out-of-fold predictions; score the untouched test split
//!    with the finished artifact through churn-core's scorer.
//! 4. The champion is the family with the best cross-validated metric.
//!
//! Everything random is drawn from the seed, and work is combined in a fixed order, so the
//! same table and seed give the same artifacts bit for bit. A `--time-budget` may cut the
//! search short (logged), which makes the result depend on the machine's speed.

pub mod calibrate;
pub mod data;
pub mod encode;
pub mod family;
pub mod linear;
pub mod split;
pub mod threshold;
pub mod tree;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use churn_core::metrics::{self, Confusion};
use churn_core::model::{Model, TreeEnsemble};
use churn_core::{ARTIFACT_SCHEMA_VERSION, Component, Lineage, ModelArtifact, Scorer, fnv64_hex};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};
use crate::progress::Progress;
use crate::rng::Rng;
use calibrate::CalibrationKind;
use data::Dataset;
use encode::{Encoded, ScalingKind, Style};
use family::{Config, Family};
use threshold::ThresholdRule;
use tree::bins::{BinMapper, Binned};

/// The metric that selects models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionMetric {
    /// Area under the ROC curve.
    RocAuc,
    /// Average precision (area under the precision-recall curve).
    PrAuc,
}

impl SelectionMetric {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            SelectionMetric::RocAuc => "roc_auc",
            SelectionMetric::PrAuc => "pr_auc",
        }
    }

    fn compute(self, labels: &[bool], scores: &[f64]) -> f64 {
        match self {
            SelectionMetric::RocAuc => metrics::roc_auc(labels, scores),
            SelectionMetric::PrAuc => metrics::average_precision(labels, scores),
        }
        .unwrap_or(0.5)
    }
}

/// How churners are weighted against stayers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClassWeight {
    /// Equal weights.
    None,
    /// Weights that make both classes weigh the same in total.
    Balanced,
}

/// Options of a training run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Cross-validation folds.
    pub folds: usize,
    /// Share of labelled rows held out for the test split.
    pub test_fraction: f64,
    /// Ids of the test split, instead of a random one (e.g. a reference split).
    pub test_ids: Option<Vec<String>>,
    /// Families to train.
    pub families: Vec<Family>,
    /// Configs tried per family (the default config included).
    pub trials: BTreeMap<Family, usize>,
    /// Stop starting new trials after this long.
    pub time_budget: Option<Duration>,
    /// The metric that picks configs and the champion.
    pub metric: SelectionMetric,
    /// The calibration fitted on out-of-fold predictions.
    pub calibration: CalibrationKind,
    /// How the decision threshold is chosen.
    pub threshold: ThresholdRule,
    /// Scaling of linear-model inputs.
    pub scaling: ScalingKind,
    /// Class weighting.
    pub class_weight: ClassWeight,
    /// When the run started, for lineage (`trained_at`).
    pub trained_at: String,
    /// The search cross-validates on a stratified sample of at most this many training
    /// rows; the final models are fitted on all of them.
    pub search_rows: usize,
    /// Final boosters per selected boosting config, each refitted with its own seed
    /// (its own row and column samples) and averaged: a steadier model on small data,
    /// at the cost of scoring that many times the trees. 1 refits once, and so does a
    /// train split of more than [`BAG_MAX_ROWS`] rows, where variance is low and a refit
    /// costs minutes.
    pub bags: usize,
}

/// Train splits larger than this refit each booster once, whatever [`TrainOptions::bags`].
pub const BAG_MAX_ROWS: usize = 100_000;

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            folds: 5,
            test_fraction: 0.2,
            test_ids: None,
            families: Family::ALL.to_vec(),
            trials: [
                (Family::Linear, 8),
                (Family::Forest, 3),
                (Family::Boosting, 16),
            ]
            .into_iter()
            .collect(),
            time_budget: None,
            metric: SelectionMetric::RocAuc,
            calibration: CalibrationKind::Platt,
            threshold: ThresholdRule::MaxF1,
            scaling: ScalingKind::Standard,
            class_weight: ClassWeight::None,
            trained_at: String::new(),
            search_rows: 100_000,
            bags: 3,
        }
    }
}

/// One config's cross-validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// Hyperparameters.
    pub params: BTreeMap<String, String>,
    /// Metric per fold.
    pub folds: Vec<f64>,
    /// Mean over folds.
    pub mean: f64,
    /// Boosting: trees kept per fold by early stopping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trees: Vec<usize>,
    /// Wall time of the trial.
    pub seconds: f64,
}

/// Held-out metrics of one model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldOut {
    /// ROC-AUC.
    pub roc_auc: f64,
    /// Average precision.
    pub pr_auc: f64,
    /// Log loss of the calibrated probabilities.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
    /// Accuracy at the threshold.
    pub accuracy: f64,
    /// Precision at the threshold.
    pub precision: f64,
    /// Recall at the threshold.
    pub recall: f64,
    /// F1 at the threshold.
    pub f1: f64,
    /// The threshold.
    pub threshold: f64,
    /// Confusion at the threshold.
    pub confusion: Confusion,
}

impl HeldOut {
    /// Metrics of calibrated `probabilities` against `labels` at `threshold`.
    pub fn compute(labels: &[bool], probabilities: &[f64], threshold: f64) -> Self {
        let confusion = Confusion::at(labels, probabilities, threshold);
        Self {
            roc_auc: metrics::roc_auc(labels, probabilities).unwrap_or(f64::NAN),
            pr_auc: metrics::average_precision(labels, probabilities).unwrap_or(f64::NAN),
            log_loss: metrics::log_loss(labels, probabilities),
            brier: metrics::brier_score(labels, probabilities),
            accuracy: confusion.accuracy(),
            precision: confusion.precision(),
            recall: confusion.recall(),
            f1: confusion.f1(),
            threshold,
            confusion,
        }
    }

    /// The headline numbers, for artifact metadata.
    pub fn as_map(&self) -> BTreeMap<String, f64> {
        [
            ("test_roc_auc", self.roc_auc),
            ("test_pr_auc", self.pr_auc),
            ("test_log_loss", self.log_loss),
            ("test_brier", self.brier),
            ("test_accuracy", self.accuracy),
            ("test_precision", self.precision),
            ("test_recall", self.recall),
            ("test_f1", self.f1),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// What training found for one family.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FamilyResult {
    /// The family.
    pub family: String,
    /// Every config tried.
    pub trials: Vec<Trial>,
    /// The trials averaged into the final model, best first.
    pub members: Vec<usize>,
    /// Cross-validated metric of that average.
    pub cv_metric: f64,
    /// The final model on the test split.
    pub test: HeldOut,
    /// Seconds to refit, calibrate and test the final model.
    pub final_seconds: f64,
    /// The finished artifact (written to `candidates/<family>.json`, not to the summary).
    #[serde(skip, default)]
    pub artifact: Option<ModelArtifact>,
}

/// Everything a training run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOutcome {
    /// Program that trained.
    pub generated_by: String,
    /// The feature folder trained on.
    pub features: String,
    /// Fingerprint of the table.
    pub data_hash: String,
    /// Labelled rows.
    pub rows: usize,
    /// Rows in the train split.
    pub train_rows: usize,
    /// Rows in the test split.
    pub test_rows: usize,
    /// Churners among the labelled rows.
    pub positives: usize,
    /// Seed.
    pub seed: u64,
    /// Folds.
    pub folds: usize,
    /// The selection metric.
    pub metric: String,
    /// The winning family.
    pub champion: String,
    /// Per family, in training order.
    pub families: Vec<FamilyResult>,
    /// Ids of the test split (what `churn evaluate` scores).
    pub test_ids: Vec<String>,
    /// Seconds of the search and in all.
    pub seconds: BTreeMap<String, f64>,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

impl TrainOutcome {
    /// The champion's result.
    pub fn champion(&self) -> &FamilyResult {
        // `train` always produces at least one family.
        self.families
            .iter()
            .find(|family| family.family == self.champion)
            .unwrap_or(&self.families[0])
    }
}

/// A fold's data, encoded once per style and shared by every config.
struct FoldData {
    train: Vec<usize>,
    valid: Vec<usize>,
    linear: Option<(Encoded, Vec<f64>)>,
    trees: Option<TreeData>,
}

/// Trees' view of some rows: the bin mapper fitted on the training rows, and both binned.
struct TreeData {
    encoded: Encoded,
    valid_matrix: Vec<f64>,
    mapper: BinMapper,
    train: Binned,
    valid: Binned,
}

fn labels_of(data: &Dataset, rows: &[usize]) -> Vec<bool> {
    rows.iter().map(|&r| data.labels[r]).collect()
}

fn prepare_fold(
    data: &Dataset,
    train: Vec<usize>,
    valid: Vec<usize>,
    styles: &[Style],
    seed: u64,
) -> FoldData {
    let mut fold = FoldData {
        linear: None,
        trees: None,
        train,
        valid,
    };
    for style in styles {
        let encoded = encode::fit(data, &fold.train, *style, seed);
        let valid_matrix = encode::encode(data, &encoded.preprocessing, &fold.valid);
        match style {
            Style::Linear(_) => fold.linear = Some((encoded, valid_matrix)),
            Style::Trees => {
                let width = encoded.preprocessing.width();
                let mapper = BinMapper::fit(&encoded.matrix, width);
                let train = mapper.apply(&encoded.matrix, width);
                let valid = mapper.apply(&valid_matrix, width);
                fold.trees = Some(TreeData {
                    encoded,
                    valid_matrix,
                    mapper,
                    train,
                    valid,
                });
            }
        }
    }
    fold
}

/// A fitted model of one config on one fold: margins of the validation rows.
struct FoldFit {
    margins: Vec<f64>,
    trees: usize,
}

fn fit_model(
    config: &Config,
    fold: &FoldData,
    data: &Dataset,
    with_validation: bool,
    seed: u64,
) -> (Model, usize) {
    let train_labels = labels_of(data, &fold.train);
    match config {
        Config::Linear(params) => {
            let Some((encoded, _)) = &fold.linear else {
                unreachable!("linear data is prepared for linear configs")
            };
            let width = encoded.preprocessing.width();
            (
                Model::Linear(linear::fit(&encoded.matrix, width, &train_labels, params)),
                0,
            )
        }
        Config::Boosting(params) => {
            let Some(trees) = &fold.trees else {
                unreachable!("tree data is prepared for tree configs")
            };
            let valid_labels = labels_of(data, &fold.valid);
            let valid = with_validation.then_some((&trees.valid, valid_labels.as_slice()));
            let boosted = tree::boosting::fit(
                &trees.mapper,
                &trees.train,
                &train_labels,
                valid,
                params,
                seed,
            );
            (Model::Trees(boosted.ensemble), boosted.trees)
        }
        Config::Forest(params) => {
            let Some(trees) = &fold.trees else {
                unreachable!("tree data is prepared for tree configs")
            };
            let ensemble: TreeEnsemble =
                tree::forest::fit(&trees.mapper, &trees.train, &train_labels, params, seed);
            let count = ensemble.trees.len();
            (Model::Trees(ensemble), count)
        }
    }
}

fn validation_margins(model: &Model, fold: &FoldData) -> Vec<f64> {
    let (matrix, width): (&[f64], usize) = match (model, &fold.linear, &fold.trees) {
        (Model::Linear(_), Some((encoded, valid)), _) => (valid, encoded.preprocessing.width()),
        (Model::Trees(_), _, Some(trees)) => {
            (&trees.valid_matrix, trees.encoded.preprocessing.width())
        }
        _ => return Vec::new(),
    };
    matrix
        .chunks(width.max(1))
        .map(|row| model.margin(row))
        .collect()
}

fn cross_validate(config: &Config, folds: &[FoldData], data: &Dataset, seed: u64) -> Vec<FoldFit> {
    folds
        .par_iter()
        .enumerate()
        .map(|(index, fold)| {
            let (model, trees) = fit_model(config, fold, data, true, seed ^ (index as u64 + 1));
            FoldFit {
                margins: validation_margins(&model, fold),
                trees,
            }
        })
        .collect()
}

/// Trains every requested family on a dataset.
pub fn train(
    data: &Dataset,
    options: &TrainOptions,
    progress: &dyn Progress,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    if data.len() < 20 {
        return Err(PipelineError::InvalidInput(format!(
            "only {} labelled rows: too few to train and test a model",
            data.len()
        )));
    }
    if options.families.is_empty() {
        return Err(PipelineError::InvalidInput(
            "no model family to train".into(),
        ));
    }
    if !(0.05..=0.5).contains(&options.test_fraction) && options.test_ids.is_none() {
        return Err(PipelineError::InvalidInput(format!(
            "--test-fraction {} is out of range: use 0.05 to 0.5",
            options.test_fraction
        )));
    }
    let mut warnings = data.warnings.clone();
    let (train_rows, test_rows) = match &options.test_ids {
        Some(ids) => {
            let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..data.len()).partition(|&r| wanted.contains(data.ids[r].as_str()));
            if test.len() < ids.len() {
                warnings.push(format!(
                    "{} test ids are not in the table",
                    ids.len() - test.len()
                ));
            }
            (train, test)
        }
        None => split::train_test(&data.labels, options.test_fraction, options.seed),
    };
    let test_labels = labels_of(data, &test_rows);
    if !test_labels.iter().any(|l| *l) || test_labels.iter().all(|l| *l) {
        return Err(PipelineError::InvalidInput(
            "the test split needs churners and stayers: give more rows or another --test-fraction"
                .into(),
        ));
    }
    let search_rows = if train_rows.len() > options.search_rows {
        warnings.push(format!(
            "the search cross-validated on a stratified sample of {} of the {} training rows; the final models use all of them",
            options.search_rows,
            train_rows.len()
        ));
        split::sample(&data.labels, &train_rows, options.search_rows, options.seed)
    } else {
        train_rows.clone()
    };
    let search_labels = labels_of(data, &search_rows);
    let folds = split::folds(&data.labels, &search_rows, options.folds, options.seed)?;
    let train_labels = labels_of(data, &train_rows);
    let positives = train_labels.iter().filter(|l| **l).count();
    let balanced_weight = (train_labels.len() - positives) as f64 / positives.max(1) as f64;
    let positive_weight = match options.class_weight {
        ClassWeight::None => 1.0,
        ClassWeight::Balanced => balanced_weight,
    };

    let mut styles: Vec<Style> = options
        .families
        .iter()
        .map(|f| f.style(options.scaling))
        .collect();
    styles.dedup();
    styles.sort_by_key(|s| matches!(s, Style::Trees));
    styles.dedup();
    progress.begin("prepare folds", None, "");
    let fold_data: Vec<FoldData> = folds
        .par_iter()
        .enumerate()
        .map(|(index, valid)| {
            let train = split::complement(&search_rows, valid);
            prepare_fold(
                data,
                train,
                valid.clone(),
                &styles,
                options.seed ^ (0x1000 + index as u64),
            )
        })
        .collect();
    progress.end();

    // The search: trial i of every family before trial i + 1 of any, so that a time budget
    // shares out fairly.
    let width_of = |family: Family| match family.style(options.scaling) {
        Style::Linear(_) => fold_data[0]
            .linear
            .as_ref()
            .map_or(1, |(e, _)| e.preprocessing.width()),
        Style::Trees => fold_data[0]
            .trees
            .as_ref()
            .map_or(1, |t| t.encoded.preprocessing.width()),
    };
    let mut trials: BTreeMap<Family, Vec<(Config, Trial, Vec<FoldFit>)>> = BTreeMap::new();
    let most = options
        .families
        .iter()
        .map(|f| options.trials.get(f).copied().unwrap_or(1))
        .max()
        .unwrap_or(1);
    let total: usize = options
        .families
        .iter()
        .map(|f| options.trials.get(f).copied().unwrap_or(1).max(1))
        .sum();
    progress.begin("search", Some(total as u64), "trials");
    let mut cut_short = false;
    'search: for round in 0..most.max(1) {
        for &family in &options.families {
            let wanted = options.trials.get(&family).copied().unwrap_or(1).max(1);
            if round >= wanted {
                continue;
            }
            if round > 0
                && options
                    .time_budget
                    .is_some_and(|budget| started.elapsed() > budget)
            {
                cut_short = true;
                break 'search;
            }
            let mut rng = Rng::for_stream(
                options.seed,
                0xc0f1_6000 + 97 * family as u64 + round as u64,
            );
            let config = Config::preset(family, round, width_of(family))
                .unwrap_or_else(|| Config::sample(family, width_of(family), &mut rng))
                .with_positive_weight(positive_weight);
            let trial_started = Instant::now();
            let fits = cross_validate(
                &config,
                &fold_data,
                data,
                options.seed ^ (round as u64) << 8,
            );
            let scores: Vec<f64> = fits
                .iter()
                .zip(&fold_data)
                .map(|(fit, fold)| {
                    options
                        .metric
                        .compute(&labels_of(data, &fold.valid), &fit.margins)
                })
                .collect();
            let trial = Trial {
                params: config.describe(),
                mean: scores.iter().sum::<f64>() / scores.len() as f64,
                folds: scores,
                trees: if family == Family::Boosting {
                    fits.iter().map(|f| f.trees).collect()
                } else {
                    Vec::new()
                },
                seconds: trial_started.elapsed().as_secs_f64(),
            };
            tracing::debug!(
                family = family.name(),
                round,
                mean = trial.mean,
                seconds = trial.seconds,
                "trial"
            );
            trials
                .entry(family)
                .or_default()
                .push((config, trial, fits));
            progress.advance(1);
        }
    }
    progress.end();
    if cut_short {
        warnings.push(format!(
            "the search stopped at the time budget ({:.0} s) before every trial ran: results now depend on this machine's speed; raise --time-budget or lower --trials for a reproducible run",
            options.time_budget.map_or(0.0, |b| b.as_secs_f64())
        ));
    }
    let search_seconds = started.elapsed().as_secs_f64();

    // Final models: per family, the average of its best trials when that scores better
    // out of fold (greedy ensemble selection), refitted on the whole train split.
    progress.begin("final models", Some(trials.len() as u64), "families");
    let mut results = Vec::new();
    let mut out_of_fold: BTreeMap<Family, Vec<f64>> = BTreeMap::new();
    for (family, family_trials) in trials {
        let final_started = Instant::now();
        let mut ranked: Vec<usize> = (0..family_trials.len()).collect();
        ranked.sort_by(|&a, &b| {
            family_trials[b]
                .1
                .mean
                .total_cmp(&family_trials[a].1.mean)
                .then(a.cmp(&b))
        });
        let averaged_margins = |members: &[usize], fold: usize| -> Vec<f64> {
            let mut total = vec![0.0; fold_data[fold].valid.len()];
            for &member in members {
                for (sum, margin) in total.iter_mut().zip(&family_trials[member].2[fold].margins) {
                    *sum += margin;
                }
            }
            total.iter().map(|sum| sum / members.len() as f64).collect()
        };
        let score_of = |members: &[usize]| -> f64 {
            (0..fold_data.len())
                .map(|fold| {
                    options.metric.compute(
                        &labels_of(data, &fold_data[fold].valid),
                        &averaged_margins(members, fold),
                    )
                })
                .sum::<f64>()
                / fold_data.len() as f64
        };
        let mut members = vec![ranked[0]];
        let mut cv_metric = family_trials[ranked[0]].1.mean;
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
        for (index, fold) in fold_data.iter().enumerate() {
            for (margin, &row) in averaged_margins(&members, index).iter().zip(&fold.valid) {
                oof_margins[row] = *margin;
            }
        }
        let oof_margins: Vec<f64> = search_rows.iter().map(|&r| oof_margins[r]).collect();
        out_of_fold.insert(family, oof_margins.clone());
        let configs: Vec<(&Config, &Trial)> = members
            .iter()
            .map(|&member| (&family_trials[member].0, &family_trials[member].1))
            .collect();
        let mut artifact = final_artifact(
            data,
            &train_rows,
            &search_labels,
            &oof_margins,
            &configs,
            options,
        );
        let scorer = Scorer::new(artifact.clone()).map_err(|e| {
            PipelineError::InvalidInput(format!("trained an invalid artifact: {e}"))
        })?;
        let probabilities = score_rows(&scorer, data, &test_rows);
        let test = HeldOut::compute(&test_labels, &probabilities, artifact.decision.threshold);
        artifact.metrics.extend(test.as_map());
        artifact
            .metrics
            .insert(format!("cv_{}", options.metric.name()), cv_metric);
        results.push(FamilyResult {
            family: family.name().to_owned(),
            cv_metric,
            members,
            trials: family_trials.iter().map(|(_, t, _)| t.clone()).collect(),
            test,
            final_seconds: final_started.elapsed().as_secs_f64(),
            artifact: Some(artifact),
        });
        progress.advance(1);
    }
    progress.end();
    if let (Some(linear), Some(boosted)) = (
        results
            .iter()
            .position(|r| r.family == Family::Linear.name()),
        results
            .iter()
            .position(|r| r.family == Family::Boosting.name()),
    ) {
        let blend = blend(
            &results[linear],
            &out_of_fold[&Family::Linear],
            &results[boosted],
            &out_of_fold[&Family::Boosting],
            &BlendInputs {
                data,
                search_rows: &search_rows,
                search_labels: &search_labels,
                test_rows: &test_rows,
                test_labels: &test_labels,
                folds: &fold_data,
                options,
            },
        )?;
        results.extend(blend);
    }
    let champion = results
        .iter()
        .max_by(|a, b| a.cv_metric.total_cmp(&b.cv_metric))
        .map_or_else(String::new, |r| r.family.clone());
    let seconds = [
        ("search".to_owned(), search_seconds),
        ("total".to_owned(), started.elapsed().as_secs_f64()),
    ]
    .into_iter()
    .collect();
    Ok(TrainOutcome {
        generated_by: format!("churn {}", env!("CARGO_PKG_VERSION")),
        features: String::new(),
        data_hash: data.hash.clone(),
        rows: data.len(),
        train_rows: train_rows.len(),
        test_rows: test_rows.len(),
        positives: data.positives(),
        seed: options.seed,
        folds: options.folds,
        metric: options.metric.name().to_owned(),
        champion,
        families: results,
        test_ids: test_rows.iter().map(|&r| data.ids[r].clone()).collect(),
        seconds,
        warnings,
    })
}

/// Calibrated probabilities of `rows` through the scorer (the serving path).
pub fn score_rows(scorer: &Scorer, data: &Dataset, rows: &[usize]) -> Vec<f64> {
    let mut buffer = Vec::new();
    rows.iter()
        .map(|&row| {
            scorer
                .score_with(&data.row_values(row), &mut buffer)
                .map_or(f64::NAN, |score| score.probability)
        })
        .collect()
}

fn final_artifact(
    data: &Dataset,
    train_rows: &[usize],
    oof_labels: &[bool],
    oof_margins: &[f64],
    members: &[(&Config, &Trial)],
    options: &TrainOptions,
) -> ModelArtifact {
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
            other => **other,
        })
        .collect();
    // Boosters are bagged over seeds on small data; the linear model's fit has no
    // randomness, and a forest is a bag already.
    let bags = if family == Family::Boosting && train_rows.len() <= BAG_MAX_ROWS {
        options.bags.max(1)
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
    let model_json = serde_json::to_string(&model).unwrap_or_default();
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
    ModelArtifact {
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
        },
    }
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
            Model::Linear(churn_core::model::LinearModel { intercept, weights })
        }
        Model::Trees(first) => {
            let aggregation = first.aggregation;
            let mut base_total = 0.0;
            let mut trees = Vec::new();
            for model in models {
                if let Model::Trees(ensemble) = model {
                    match ensemble.aggregation {
                        churn_core::model::Aggregation::Sum { base_score } => {
                            base_total += base_score / k;
                            trees.extend(ensemble.trees.into_iter().map(|mut tree| {
                                for node in &mut tree.nodes {
                                    node.value /= k;
                                }
                                tree
                            }));
                        }
                        churn_core::model::Aggregation::Mean => trees.extend(ensemble.trees),
                    }
                }
            }
            Model::Trees(TreeEnsemble {
                aggregation: match aggregation {
                    churn_core::model::Aggregation::Sum { .. } => {
                        churn_core::model::Aggregation::Sum {
                            base_score: base_total,
                        }
                    }
                    churn_core::model::Aggregation::Mean => churn_core::model::Aggregation::Mean,
                },
                trees,
            })
        }
    }
}

/// What a blend needs to know about the run.
struct BlendInputs<'a> {
    data: &'a Dataset,
    search_rows: &'a [usize],
    search_labels: &'a [bool],
    test_rows: &'a [usize],
    test_labels: &'a [bool],
    folds: &'a [FoldData],
    options: &'a TrainOptions,
}

/// A blend of the logistic regression and the booster: `w · lr + (1 - w) · gbdt` in
/// log-odds, `w` chosen on their out-of-fold predictions. A linear model catches additive
/// effects that trees approximate in many small steps, and the trees catch interactions
/// the linear model cannot: together they often beat both. `None` when the best weight
/// gives all to one model.
fn blend(
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
