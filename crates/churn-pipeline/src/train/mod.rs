//! Training: `churn train`. A feature table in; a model artifact, one candidate per family
//! and a training summary out.
//!
//! 1. Split the labelled rows into train and test (stratified, seeded; or given test ids).
//! 2. For each family, evaluate a seeded sequence of hyperparameter configs (the defaults
//!    first, then random draws) by stratified k-fold cross-validation on the train split,
//!    folds in parallel, random configs raced on their first folds; the preprocessing is
//!    refitted inside every fold (`search`).
//! 3. Refit each family's best config (or the average of its best few) on the whole
//!    train split; fit its calibration and decision threshold on its out-of-fold
//!    predictions (`ensemble`); score the untouched test split with the finished
//!    artifact through churn-core's scorer. Blend logistic regression and boosting when
//!    that beats both (`blend`).
//! 4. The champion is the family with the best cross-validated metric.
//!
//! This module holds the run's order of steps; [`options`] checks what a caller asks for
//! before any of it starts. Everything random is drawn from the seed, and work is combined
//! in a fixed order, so the same table and seed give the same artifacts bit for bit. A
//! `--time-budget` may cut the search short (logged), which makes the result depend on the
//! machine's speed.

mod blend;
pub mod calibrate;
pub mod encode;
mod ensemble;
pub mod family;
pub mod linear;
pub mod options;
mod outcome;
mod search;
pub mod split;
pub mod threshold;
pub mod tree;

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;

use churn_core::Scorer;

use crate::error::{PipelineError, Result};
use crate::features::data::Dataset;
use crate::progress::Progress;
use family::{Config, Family};

pub use options::{
    BAG_MAX_ROWS, ClassWeight, MIN_SEARCH_ROWS, OptionError, SelectionMetric, TrainOptions,
    ValidTrainOptions,
};
pub use outcome::{FamilyResult, HeldOut, TrainOutcome, Trial};

fn labels_of(data: &Dataset, rows: &[usize]) -> Vec<bool> {
    rows.iter().map(|&r| data.labels[r]).collect()
}

/// Trains every requested family on a dataset.
pub fn train(
    data: &Dataset,
    options: &ValidTrainOptions,
    progress: &dyn Progress,
) -> Result<TrainOutcome> {
    let started = Instant::now();
    if data.len() < 20 {
        return Err(PipelineError::InvalidInput(format!(
            "only {} labelled rows: too few to train and test a model",
            data.len()
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
    let leaks = crate::features::leakage::leaky_features(data, &search_rows);
    if !leaks.is_empty() {
        let list = leaks
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if !options.allow_leaky {
            return Err(PipelineError::InvalidInput(format!(
                "{list}. Leave it out (--drop NAME when building from a table) or pass \
                 --allow-leaky to train anyway"
            )));
        }
        warnings.push(format!("{list}; trained anyway (--allow-leaky)"));
    }
    let search_labels = labels_of(data, &search_rows);
    let folds = split::folds(&data.labels, &search_rows, options.folds, options.seed)?;
    let train_labels = labels_of(data, &train_rows);
    let positives = train_labels.iter().filter(|l| **l).count();
    let balanced_weight = (train_labels.len() - positives) as f64 / positives.max(1) as f64;
    let positive_weight = match options.class_weight {
        ClassWeight::None => 1.0,
        ClassWeight::Balanced => balanced_weight,
    };

    let fold_data = search::prepare_folds(data, &search_rows, &folds, options, progress);
    let search = search::search(
        data,
        &fold_data,
        options,
        positive_weight,
        started,
        progress,
    );
    if search.cut_short {
        warnings.push(format!(
            "the search stopped at the time budget ({:.0} s) before every trial ran: results now depend on this machine's speed; raise --time-budget or lower --trials for a reproducible run",
            options.time_budget.map_or(0.0, |b| b.as_secs_f64())
        ));
    }
    let search_seconds = started.elapsed().as_secs_f64();

    progress.begin("final models", Some(search.trials.len() as u64), "families");
    // The families' final models side by side (each is parallel inside too, but a
    // family's few bags or folds leave a core idle).
    let finished: Vec<_> = search
        .trials
        .into_par_iter()
        .map(|(family, tried)| -> Result<_> {
            let final_started = Instant::now();
            let selection =
                ensemble::select(&tried, &fold_data, data, &search_rows, options.metric);
            let members: Vec<(Config, Trial)> = selection
                .members
                .iter()
                .map(|&member| (tried[member].config, tried[member].trial.clone()))
                .collect();
            let mut artifact = ensemble::final_artifact(
                data,
                &train_rows,
                &search_labels,
                &selection.oof_margins,
                &members,
                options,
            )?;
            let scorer = Scorer::new(artifact.clone()).map_err(|e| {
                PipelineError::InvalidInput(format!("trained an invalid artifact: {e}"))
            })?;
            let probabilities = score_rows(&scorer, data, &test_rows);
            let test = HeldOut::compute(&test_labels, &probabilities, artifact.decision.threshold);
            artifact.metrics.extend(test.as_map());
            artifact
                .metrics
                .insert(format!("cv_{}", options.metric.name()), selection.cv_metric);
            progress.advance(1);
            let result = FamilyResult {
                family: family.name().to_owned(),
                cv_metric: selection.cv_metric,
                trials: tried.iter().map(|t| t.trial.clone()).collect(),
                members: selection.members,
                test,
                final_seconds: final_started.elapsed().as_secs_f64(),
                artifact: Some(artifact),
            };
            Ok((family, selection.oof_margins, members, result))
        })
        .collect::<Result<_>>()?;
    let mut results = Vec::new();
    let mut out_of_fold: BTreeMap<Family, Vec<f64>> = BTreeMap::new();
    let mut chosen: BTreeMap<Family, Vec<(Config, Trial)>> = BTreeMap::new();
    for (family, oof_margins, members, result) in finished {
        out_of_fold.insert(family, oof_margins);
        chosen.insert(family, members);
        results.push(result);
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
        let blend = blend::blend(
            &results[linear],
            &out_of_fold[&Family::Linear],
            &results[boosted],
            &out_of_fold[&Family::Boosting],
            &blend::BlendInputs {
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
    let (refitted, final_rows) = if options.refit_on_all_rows {
        let mut all_rows: Vec<usize> = train_rows.iter().chain(&test_rows).copied().collect();
        all_rows.sort_unstable();
        progress.begin("refit on all rows", None, "");
        let refit = |family: Family| -> Result<churn_core::ModelArtifact> {
            ensemble::final_artifact(
                data,
                &all_rows,
                &search_labels,
                &out_of_fold[&family],
                &chosen[&family],
                options,
            )
        };
        let measured = results
            .iter()
            .find(|r| r.family == champion)
            .and_then(|r| r.artifact.as_ref());
        let refitted = match (measured, Family::ALL.iter().find(|f| f.name() == champion)) {
            (Some(measured), Some(&family)) => Some(ensemble::refitted(refit(family)?, measured)),
            (Some(measured), None) => {
                let (linear, boosted) =
                    rayon::join(|| refit(Family::Linear), || refit(Family::Boosting));
                Some(blend::refitted(measured, &linear?, &boosted?)?)
            }
            (None, _) => None,
        };
        progress.end();
        (refitted, all_rows.len())
    } else {
        (None, train_rows.len())
    };
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
        final_rows,
        refitted,
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
