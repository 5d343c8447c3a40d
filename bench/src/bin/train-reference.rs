//! Training quality and speed on the reference churn data sets, beside the Python peers.
//!
//! Reads `../shared/data/` (IBM Telco, Orange/MLC rows 1–3333) when present, builds the
//! feature tables as a user would (`churn features --table`), trains with the default
//! `churn train` settings on the reference train split, and prints the held-out ROC-AUC of
//! every family and the wall time, next to the scikit-learn / LightGBM / CatBoost figures
//! of `../shared/data/README.md`.
//!
//! `cargo run --release -p churn-bench --bin train-reference [-- --data ../shared/data]`

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use churn_pipeline::features::data;
use churn_pipeline::features::table::{TableOptions, build_from_tables};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::train::{TrainOptions, train};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Folder of the shared data sets.
    #[arg(long, default_value = "../shared/data")]
    data: PathBuf,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

struct Reference {
    name: &'static str,
    table: &'static str,
    id: &'static str,
    target: &'static str,
    test_ids: &'static str,
    /// Only rows whose id is at most this (Orange: the first 3333 rows).
    max_id: Option<u64>,
    peers: &'static [(&'static str, f64)],
    target_auc: f64,
    target_linear_auc: Option<f64>,
}

const REFERENCES: [Reference; 2] = [
    Reference {
        name: "IBM Telco",
        table: "telco-ibm/Telco-Customer-Churn.csv",
        id: "customerID",
        target: "Churn",
        test_ids: "telco-ibm/test_ids.txt",
        max_id: None,
        peers: &[
            ("logistic regression", 0.842),
            ("random forest (300 trees)", 0.820),
            ("XGBoost (defaults)", 0.815),
            ("LightGBM (defaults)", 0.835),
            ("CatBoost (defaults)", 0.839),
            ("LightGBM tuned (40 configs x 5-fold CV, ~60 s)", 0.848),
        ],
        target_auc: 0.848,
        target_linear_auc: Some(0.842),
    },
    Reference {
        name: "Orange / MLC (rows 1-3333)",
        table: "orange-mlc/mlc_churn.csv",
        id: "rownames",
        target: "churn",
        test_ids: "orange-mlc/test_rownames_first3333.txt",
        max_id: Some(3333),
        peers: &[
            ("logistic regression", 0.809),
            ("random forest (300 trees)", 0.896),
            ("XGBoost (defaults)", 0.887),
            ("LightGBM (defaults)", 0.897),
            ("CatBoost (defaults)", 0.907),
            ("LightGBM tuned (40 configs x 5-fold CV)", 0.892),
        ],
        target_auc: 0.907,
        target_linear_auc: None,
    },
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.data.exists() {
        println!("skipped: {} is not on this machine", args.data.display());
        return Ok(());
    }
    let work = std::env::temp_dir().join("churn-train-reference");
    for reference in &REFERENCES {
        run(
            reference,
            &args,
            &work.join(reference.table.replace('/', "_")),
        )?;
    }
    Ok(())
}

fn run(reference: &Reference, args: &Args, work: &Path) -> anyhow::Result<()> {
    let mut table = args.data.join(reference.table);
    if let Some(max) = reference.max_id {
        // Keep the first rows, as the reference split does.
        let text = std::fs::read_to_string(&table)?;
        let mut lines = text.lines();
        let mut kept: Vec<&str> = lines.next().into_iter().collect();
        kept.extend(lines.filter(|line| {
            line.split(',')
                .next()
                .and_then(|id| id.parse::<u64>().ok())
                .is_some_and(|id| id <= max)
        }));
        std::fs::create_dir_all(work)?;
        table = work.join("table.csv");
        std::fs::write(&table, kept.join("\n"))?;
    }
    let features = work.join("features");
    build_from_tables(&TableOptions::new(
        vec![table],
        reference.id,
        Some(reference.target),
        &features,
    ))?;
    let dataset = data::load_dir(&features, true)?;
    let test_ids: Vec<String> = std::fs::read_to_string(args.data.join(reference.test_ids))
        .context("reading the reference test ids")?
        .lines()
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    let options = TrainOptions {
        seed: args.seed,
        test_ids: Some(test_ids),
        ..TrainOptions::default()
    };
    let started = Instant::now();
    let outcome = train(&dataset, &options.validate()?, &NoProgress)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "\n{}: {} rows ({} train, {} test), {} features, {} threads",
        reference.name,
        outcome.rows,
        outcome.train_rows,
        outcome.test_rows,
        dataset.spec.features.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("  {:<52} {:>8}", "model (held-out test split)", "ROC-AUC");
    for family in &outcome.families {
        println!(
            "  churn {:<46} {:>8.4}   (cv {:.4}, {} trials, {} averaged)",
            family.family,
            family.test.roc_auc,
            family.cv_metric,
            family.trials.len(),
            family.members.len()
        );
    }
    let champion = outcome.champion();
    println!(
        "  churn train default -> {:<29} {:>8.4}   target >= {:.3}: {}",
        champion.family,
        champion.test.roc_auc,
        reference.target_auc,
        if champion.test.roc_auc >= reference.target_auc {
            "met"
        } else {
            "MISSED"
        }
    );
    if let Some(target) = reference.target_linear_auc
        && let Some(linear) = outcome
            .families
            .iter()
            .find(|f| f.family == "logistic_regression")
    {
        println!(
            "  churn logistic regression alone {:>27.4}   target >= {target:.3}: {}",
            linear.test.roc_auc,
            if linear.test.roc_auc >= target {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    for (peer, auc) in reference.peers {
        println!("  peer {peer:<47} {auc:>8.3}");
    }
    println!("  training with tuning: {seconds:.1} s wall (target <= 20 s on 2 cores for Telco)");
    Ok(())
}
