//! smartcore beside our own models, on the reference churn data sets (`../shared/data/`,
//! read as `train-reference` reads them): logistic regression and random forest, fitted
//! with the same hyperparameters on the same encoded matrix of the reference train split,
//! scored on its test split. Prints held-out ROC-AUC and accuracy at 0.5, fit time and
//! scoring time for each, ours on one thread and on all of them.
//!
//! smartcore's `RandomForestClassifier` (0.7) returns class labels only: a forest that
//! cannot rank customers cannot build a high-risk list, and the ROC-AUC of its labels is
//! printed as such. To compare the forests' ranking too, the bench also grows smartcore's
//! forest one tree per seed (its trees, its bootstrap, its column sampling) and ranks by
//! the share of trees voting churn (its trees, too, answer with labels).
//!
//! `cargo run --release -p churn-bench --bin smartcore-compare [-- --data ../shared/data]`

#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use churn_bench::reference::REFERENCES;
use churn_core::metrics::{Confusion, roc_auc};
use churn_core::model::{CompiledTrees, Model, TreeEnsemble};
use churn_pipeline::rng::sigmoid;
use churn_pipeline::train::encode::{self, ScalingKind, Style};
use churn_pipeline::train::family::{Config, Family};
use churn_pipeline::train::linear::{self, LinearParams};
use churn_pipeline::train::tree::bins::BinMapper;
use churn_pipeline::train::tree::forest::{self, ForestParams};
use clap::Parser;
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Folder of the shared data sets.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Seed of both forests.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// One fitted model's figures.
struct Row {
    model: String,
    auc: f64,
    accuracy: f64,
    fit_seconds: f64,
    score_seconds: f64,
}

impl Row {
    fn new(model: &str, labels: &[bool], scores: &[f64], fit: f64, score: f64) -> Self {
        Self {
            model: model.to_owned(),
            auc: roc_auc(labels, scores).unwrap_or(f64::NAN),
            accuracy: Confusion::at(labels, scores, 0.5).accuracy(),
            fit_seconds: fit,
            score_seconds: score,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.data.exists() {
        println!("skipped: {} is not on this machine", args.data.display());
        return Ok(());
    }
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let work = std::env::temp_dir().join("churn-smartcore-compare");
    for reference in &REFERENCES {
        let (data, test_ids) = reference.load(&args.data, &reference.work_dir(&work))?;
        let test: std::collections::HashSet<&str> = test_ids.iter().map(String::as_str).collect();
        let (test_rows, train_rows): (Vec<usize>, Vec<usize>) =
            (0..data.len()).partition(|&r| test.contains(data.ids[r].as_str()));
        let churners = |rows: &[usize]| rows.iter().filter(|&&r| data.labels[r]).count();
        for (name, rows) in [("train", &train_rows), ("test", &test_rows)] {
            anyhow::ensure!(
                churners(rows) > 0 && churners(rows) < rows.len(),
                "{}: the {name} split of {} needs churners and stayers ({} rows, {} churners; do the test ids match the table's ids?)",
                reference.name,
                reference.test_ids,
                rows.len(),
                churners(rows)
            );
        }
        // One matrix for every model: imputed and standardised (what a linear model
        // needs; trees split the same on any monotone rescaling), with the categories
        // one-hot or target encoded as `churn train` encodes them.
        let encoded = encode::fit(
            &data,
            &train_rows,
            Style::Linear(ScalingKind::Standard),
            args.seed,
        );
        let width = encoded.preprocessing.width();
        let train_x = encoded.matrix;
        let test_x = encode::encode(&data, &encoded.preprocessing, &test_rows);
        let train_y: Vec<bool> = train_rows.iter().map(|&r| data.labels[r]).collect();
        let test_y: Vec<bool> = test_rows.iter().map(|&r| data.labels[r]).collect();
        println!(
            "\n{}: {} train rows, {} test rows, {width} encoded columns, {} threads",
            reference.name,
            train_rows.len(),
            test_rows.len(),
            rayon::current_num_threads()
        );

        let mut rows = Vec::new();
        let c = 1.0;
        for (label, pool) in [("1 thread", Some(&one_thread)), ("all threads", None)] {
            let (fit, model) = timed(|| {
                let params = LinearParams {
                    c,
                    positive_weight: 1.0,
                };
                match pool {
                    Some(pool) => pool.install(|| linear::fit(&train_x, width, &train_y, &params)),
                    None => linear::fit(&train_x, width, &train_y, &params),
                }
            });
            let model = Model::Linear(model);
            let (score, scores) = timed(|| margins_as_probabilities(&model, &test_x, width));
            rows.push(Row::new(
                &format!("churn logistic regression (C {c}, {label})"),
                &test_y,
                &scores,
                fit,
                score,
            ));
        }
        let x = DenseMatrix::new(train_rows.len(), width, train_x.clone(), false)?;
        let y: Vec<i32> = train_y.iter().map(|&y| i32::from(y)).collect();
        let (fit, fitted) = timed(|| {
            LogisticRegression::fit(
                &x,
                &y,
                LogisticRegressionParameters::default().with_alpha(1.0 / c),
            )
        });
        let fitted = fitted?;
        // smartcore's `predict` gives labels; its coefficients give the probabilities.
        let (score, scores) = timed(|| {
            let coefficients = fitted.coefficients();
            let intercept = *fitted.intercept().get((0, 0));
            let model = Model::Linear(churn_core::model::LinearModel {
                intercept,
                weights: (0..width).map(|j| *coefficients.get((0, j))).collect(),
            });
            margins_as_probabilities(&model, &test_x, width)
        });
        rows.push(Row::new(
            &format!("smartcore LogisticRegression (alpha {}, 1 thread)", 1.0 / c),
            &test_y,
            &scores,
            fit,
            score,
        ));

        let Config::Forest(params) = Config::default_for(Family::Forest, width) else {
            unreachable!("the forest family's default is a forest config")
        };
        let mapper = BinMapper::fit(&train_x, width);
        let binned = mapper.apply(&train_x, width);
        for (label, pool) in [("1 thread", Some(&one_thread)), ("all threads", None)] {
            let fit_forest = || forest::fit(&mapper, &binned, &train_y, &params, args.seed);
            let (fit, ensemble) = timed(|| match pool {
                Some(pool) => pool.install(fit_forest),
                None => fit_forest(),
            });
            let (score, scores) = timed(|| forest_scores(&ensemble, &test_x, width));
            rows.push(Row::new(
                &format!("churn random forest ({} trees, {label})", params.trees),
                &test_y,
                &scores,
                fit,
                score,
            ));
        }
        let test_matrix = DenseMatrix::new(test_rows.len(), width, test_x.clone(), false)?;
        let smartcore_params = smartcore_forest(&params, width, args.seed);
        let (fit, fitted) = timed(|| RandomForestClassifier::fit(&x, &y, smartcore_params.clone()));
        let fitted = fitted?;
        let (score, labels) = timed(|| fitted.predict(&test_matrix));
        let labels: Vec<f64> = labels?.into_iter().map(f64::from).collect();
        rows.push(Row::new(
            &format!(
                "smartcore RandomForestClassifier ({} trees), labels",
                params.trees
            ),
            &test_y,
            &labels,
            fit,
            score,
        ));
        let (fit, votes) = timed(|| -> anyhow::Result<Vec<f64>> {
            let mut votes = vec![0.0; test_rows.len()];
            for tree in 0..params.trees {
                let one = RandomForestClassifier::fit(
                    &x,
                    &y,
                    smartcore_params
                        .clone()
                        .with_n_trees(1)
                        .with_seed(args.seed.wrapping_add(tree as u64)),
                )?;
                for (vote, label) in votes.iter_mut().zip(one.predict(&test_matrix)?) {
                    *vote += f64::from(label) / params.trees as f64;
                }
            }
            Ok(votes)
        });
        rows.push(Row::new(
            &format!(
                "smartcore forest, one tree per seed ({} trees), vote share",
                params.trees
            ),
            &test_y,
            &votes?,
            fit,
            f64::NAN,
        ));

        println!(
            "  {:<62} {:>8} {:>9} {:>9} {:>10}",
            "model (same matrix, same split)", "ROC-AUC", "accuracy", "fit s", "score ms"
        );
        for row in &rows {
            println!(
                "  {:<62} {:>8.4} {:>9.4} {:>9.3} {:>10.2}",
                row.model,
                row.auc,
                row.accuracy,
                row.fit_seconds,
                row.score_seconds * 1e3
            );
        }
        println!(
            "  forests: max depth {}, at least {} rows a leaf, {} of {width} columns a split",
            params.tree.max_depth,
            params.tree.min_rows_in_leaf,
            smartcore_params.m.unwrap_or(0)
        );
    }
    Ok(())
}

/// smartcore's forest with our forest's limits: trees, depth, rows per leaf and the
/// number of columns drawn at each split.
fn smartcore_forest(
    params: &ForestParams,
    width: usize,
    seed: u64,
) -> RandomForestClassifierParameters {
    let columns = (params.tree.columns_per_split * width as f64)
        .round()
        .max(1.0) as usize;
    RandomForestClassifierParameters::default()
        .with_n_trees(u16::try_from(params.trees).unwrap_or(u16::MAX))
        .with_max_depth(u16::try_from(params.tree.max_depth).unwrap_or(u16::MAX))
        .with_min_samples_leaf(params.tree.min_rows_in_leaf as usize)
        .with_m(columns)
        .with_seed(seed)
}

fn timed<T>(work: impl FnOnce() -> T) -> (f64, T) {
    let started = Instant::now();
    let value = work();
    (started.elapsed().as_secs_f64(), value)
}

fn margins_as_probabilities(model: &Model, matrix: &[f64], width: usize) -> Vec<f64> {
    matrix
        .chunks(width)
        .map(|row| sigmoid(model.margin(row)))
        .collect()
}

/// Our forest's probabilities as the scorer computes them (compiled trees, a mean of
/// leaf churn rates); the timing includes compiling the trees, as a scorer's start does.
fn forest_scores(ensemble: &TreeEnsemble, matrix: &[f64], width: usize) -> Vec<f64> {
    let mut scores = vec![0.0; matrix.len() / width];
    CompiledTrees::new(ensemble, width).margins(matrix, width, &mut scores);
    scores
}
