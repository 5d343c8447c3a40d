//! The search: every fold encoded once per input style, then a seeded sequence of configs
//! per family, cross-validated in batches of trials whose folds are fitted side by side.
//! A random config is raced: fitted on its first folds, and dropped there when it trails
//! its family's best of the earlier batches (see [`RACE_FOLDS`]).
//!
//! Trial `i` of every family runs before trial `i + 1` of any, so that a time budget
//! shares the search out fairly; trials are combined in a fixed order and batches are a
//! fixed size, so the result depends only on the data and the seed (unless the budget
//! cuts the search short).

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

/// Forests in the search have at most this many trees: enough to rank configs (a forest's
/// score settles long before its 200th tree), half the cost. The final forest has the
/// config's own count.
const SEARCH_FOREST_TREES: usize = 100;

/// Fits `config` on a fold's training rows. In the search (`with_validation`), boosting
/// stops early on the fold's validation rows and a forest has at most
/// [`SEARCH_FOREST_TREES`] trees.
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
            let mut params = *params;
            if with_validation {
                params.trees = params.trees.min(SEARCH_FOREST_TREES);
            }
            let ensemble: TreeEnsemble =
                tree::forest::fit(&trees.mapper, &trees.train, &train_labels, &params, seed);
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

/// Trials cross-validated together: their fold fits share the threads, so a slow fold of
/// one trial does not leave a core idle. Racing compares with the trials of the chunks
/// before, so this is a fixed number: nothing depends on the machine's threads.
const TRIALS_AT_ONCE: usize = 8;

/// A random config is raced: fitted on this many folds first, and dropped there when it
/// trails its family's best so far on the same folds by more than [`RACE_MARGIN`]
/// (successive halving with one cut). Presets and a family's first trial always run in
/// full. Two folds, not one: on Orange one fold's noise dropped the configs that became
/// the final average.
const RACE_FOLDS: usize = 2;

/// How far (in the search metric) a raced config may trail on its first folds and still
/// finish.
const RACE_MARGIN: f64 = 0.002;

/// The mean of a trial's first [`RACE_FOLDS`] fold scores.
fn first_folds_mean(scores: &[f64]) -> f64 {
    let first = &scores[..RACE_FOLDS.min(scores.len())];
    first.iter().sum::<f64>() / first.len().max(1) as f64
}

/// One trial to run: its family, its round and its config.
struct Planned {
    family: Family,
    round: usize,
    config: Config,
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
    let most = options
        .families
        .iter()
        .map(|&f| options.trials_of(f))
        .max()
        .unwrap_or(1);
    // Every config is known before any runs: the presets, then draws seeded by family and
    // round. Trial `i` of every family comes before trial `i + 1` of any.
    let plan: Vec<Planned> = (0..most)
        .flat_map(|round| options.families.iter().map(move |&family| (round, family)))
        .filter(|&(round, family)| round < options.trials_of(family))
        .map(|(round, family)| {
            let mut rng = Rng::for_stream(
                options.seed,
                0xc0f1_6000 + 97 * family as u64 + round as u64,
            );
            let config = Config::preset(family, round, width_of(family))
                .unwrap_or_else(|| Config::sample(family, width_of(family), &mut rng))
                .with_positive_weight(positive_weight);
            Planned {
                family,
                round,
                config,
            }
        })
        .collect();
    let labels: Vec<Vec<bool>> = folds.iter().map(|f| labels_of(data, &f.valid)).collect();
    progress.begin("search", Some(plan.len() as u64), "trials");
    let mut trials: BTreeMap<Family, Vec<Tried>> = BTreeMap::new();
    let mut cut_short = false;
    // One fold of a trial: its validation margins, its seconds and its score.
    let fit_fold = |planned: &Planned, fold: usize| -> (FoldFit, f64, f64) {
        let fit_started = Instant::now();
        let (model, trees) = fit_model(
            &planned.config,
            &folds[fold],
            data,
            true,
            options.seed ^ ((planned.round as u64) << 8) ^ (fold as u64 + 1),
        );
        let fit = FoldFit {
            margins: validation_margins(&model, &folds[fold]),
            trees,
        };
        let score = options.metric.compute(&labels[fold], &fit.margins);
        (fit, fit_started.elapsed().as_secs_f64(), score)
    };
    // (trial, fold) pairs of a chunk, side by side.
    let run_folds =
        |chunk: &[&Planned], tasks: &[(usize, usize)]| -> Vec<(usize, (FoldFit, f64, f64))> {
            tasks
                .par_iter()
                .map(|&(trial, fold)| (trial, fit_fold(chunk[trial], fold)))
                .collect()
        };
    for chunk in plan.chunks(TRIALS_AT_ONCE) {
        // A family's default always runs; the budget stops the rest.
        let over_budget = options
            .time_budget
            .is_some_and(|budget| started.elapsed() > budget);
        let planned = chunk.len();
        let chunk: Vec<&Planned> = chunk
            .iter()
            .filter(|planned| planned.round == 0 || !over_budget)
            .collect();
        cut_short |= chunk.len() < planned;
        if chunk.is_empty() {
            break;
        }
        // Raced against the family's best in the chunks before: the trials of a chunk
        // run side by side, their results do not depend on each other.
        let raced: Vec<Option<f64>> = chunk
            .iter()
            .map(|planned| {
                let to_beat = trials.get(&planned.family).and_then(|done| {
                    done.iter()
                        .filter(|tried| !tried.trial.pruned)
                        .map(|tried| first_folds_mean(&tried.trial.folds))
                        .max_by(f64::total_cmp)
                });
                let is_preset =
                    Config::preset(planned.family, planned.round, width_of(planned.family))
                        .is_some();
                to_beat.filter(|_| !is_preset && folds.len() > RACE_FOLDS)
            })
            .collect();
        // Stage one: a raced trial's first folds, every fold of the others.
        let first: Vec<(usize, usize)> = (0..chunk.len())
            .flat_map(|trial| {
                let count = if raced[trial].is_some() {
                    RACE_FOLDS
                } else {
                    folds.len()
                };
                (0..count).map(move |fold| (trial, fold))
            })
            .collect();
        let mut done: Vec<Vec<(FoldFit, f64, f64)>> =
            (0..chunk.len()).map(|_| Vec::new()).collect();
        for (trial, fit) in run_folds(&chunk, &first) {
            done[trial].push(fit);
        }
        // Stage two: the raced trials still within reach of their family's best finish.
        let pruned: Vec<bool> = (0..chunk.len())
            .map(|trial| {
                raced[trial].is_some_and(|to_beat| {
                    let scores: Vec<f64> = done[trial].iter().map(|fit| fit.2).collect();
                    first_folds_mean(&scores) < to_beat - RACE_MARGIN
                })
            })
            .collect();
        let rest: Vec<(usize, usize)> = (0..chunk.len())
            .filter(|&trial| raced[trial].is_some() && !pruned[trial])
            .flat_map(|trial| (RACE_FOLDS..folds.len()).map(move |fold| (trial, fold)))
            .collect();
        for (trial, fit) in run_folds(&chunk, &rest) {
            done[trial].push(fit);
        }
        for (planned, (fits, pruned)) in chunk.iter().copied().zip(done.into_iter().zip(pruned)) {
            let mut fits_only = Vec::with_capacity(fits.len());
            let (mut scores, mut seconds) = (Vec::new(), 0.0);
            for (fit, fit_seconds, score) in fits {
                fits_only.push(fit);
                seconds += fit_seconds;
                scores.push(score);
            }
            let trial = Trial {
                params: planned.config.describe(),
                mean: scores.iter().sum::<f64>() / scores.len() as f64,
                trees: if planned.family == Family::Boosting {
                    fits_only.iter().map(|f| f.trees).collect()
                } else {
                    Vec::new()
                },
                folds: scores,
                seconds,
                pruned,
            };
            tracing::debug!(
                family = planned.family.name(),
                round = planned.round,
                mean = trial.mean,
                seconds = trial.seconds,
                pruned,
                "trial"
            );
            trials.entry(planned.family).or_default().push(Tried {
                config: planned.config,
                trial,
                fits: fits_only,
            });
        }
        progress.advance(chunk.len() as u64);
    }
    progress.end();
    Search { trials, cut_short }
}
