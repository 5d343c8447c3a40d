//! The search: every fold encoded once per input style, then a seeded sequence of configs
//! per family, each cross-validated with its folds fitted in parallel.
//!
//! Trial `i` of every family runs before trial `i + 1` of any, so that a time budget
//! shares the search out fairly; trials are combined in a fixed order, so the result
//! depends only on the data and the seed (unless the budget cuts the search short).

use std::collections::BTreeMap;
use std::time::Instant;

use churn_core::model::{Model, TreeEnsemble};
use rayon::prelude::*;

use super::encode::{self, Encoded, Style};
use super::family::{Config, Family};
use super::options::ValidTrainOptions;
use super::outcome::Trial;
use super::tree::bins::{BinMapper, Binned};
use super::{labels_of, linear, split, tree};
use crate::features::data::Dataset;
use crate::progress::Progress;
use crate::rng::Rng;

/// A fold's data, encoded once per style and shared by every config.
pub(super) struct FoldData {
    pub(super) train: Vec<usize>,
    pub(super) valid: Vec<usize>,
    pub(super) linear: Option<(Encoded, Vec<f64>)>,
    pub(super) trees: Option<TreeData>,
}

/// Trees' view of some rows: the bin mapper fitted on the training rows, and both binned.
pub(super) struct TreeData {
    pub(super) encoded: Encoded,
    valid_matrix: Vec<f64>,
    mapper: BinMapper,
    train: Binned,
    valid: Binned,
}

/// Encodes one fold for every style the trained families need.
pub(super) fn prepare_fold(
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
pub(super) struct FoldFit {
    pub(super) margins: Vec<f64>,
    pub(super) trees: usize,
}

pub(super) fn fit_model(
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

/// Every fold of the search rows, encoded once for every style the families need (linear
/// styles first), folds in parallel.
pub(super) fn prepare_folds(
    data: &Dataset,
    search_rows: &[usize],
    folds: &[Vec<usize>],
    options: &ValidTrainOptions,
    progress: &dyn Progress,
) -> Vec<FoldData> {
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
            let train = split::complement(search_rows, valid);
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
    fold_data
}

/// One config the search tried: its hyperparameters, its cross-validation, and the
/// fitted folds' validation margins (what ensembles and blends are chosen on).
pub(super) struct Tried {
    pub(super) config: Config,
    pub(super) trial: Trial,
    pub(super) fits: Vec<FoldFit>,
}

/// What the search found.
pub(super) struct Search {
    /// Per family, its trials in the order they ran.
    pub(super) trials: BTreeMap<Family, Vec<Tried>>,
    /// Whether the time budget stopped the search before every trial ran.
    pub(super) cut_short: bool,
}

/// Cross-validates the configs of every family on `folds`: the presets first, then
/// seeded random draws, with churners weighted by `positive_weight`. `started` is when
/// the run began, for the time budget.
pub(super) fn search(
    data: &Dataset,
    folds: &[FoldData],
    options: &ValidTrainOptions,
    positive_weight: f64,
    started: Instant,
    progress: &dyn Progress,
) -> Search {
    let width_of = |family: Family| match family.style(options.scaling) {
        Style::Linear(_) => folds[0]
            .linear
            .as_ref()
            .map_or(1, |(e, _)| e.preprocessing.width()),
        Style::Trees => folds[0]
            .trees
            .as_ref()
            .map_or(1, |t| t.encoded.preprocessing.width()),
    };
    let mut trials: BTreeMap<Family, Vec<Tried>> = BTreeMap::new();
    let most = options
        .families
        .iter()
        .map(|&f| options.trials_of(f))
        .max()
        .unwrap_or(1);
    let total: usize = options.families.iter().map(|&f| options.trials_of(f)).sum();
    progress.begin("search", Some(total as u64), "trials");
    let mut cut_short = false;
    'search: for round in 0..most {
        for &family in &options.families {
            if round >= options.trials_of(family) {
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
            let fits = cross_validate(&config, folds, data, options.seed ^ (round as u64) << 8);
            let scores: Vec<f64> = fits
                .iter()
                .zip(folds)
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
            trials.entry(family).or_default().push(Tried {
                config,
                trial,
                fits,
            });
            progress.advance(1);
        }
    }
    progress.end();
    Search { trials, cut_short }
}
