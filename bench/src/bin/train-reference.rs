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

use churn_bench::reference::{REFERENCES, Reference};
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

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.data.exists() {
        println!("skipped: {} is not on this machine", args.data.display());
        return Ok(());
    }
    let work = std::env::temp_dir().join("churn-train-reference");
    for reference in &REFERENCES {
        run(reference, &args, &reference.work_dir(&work))?;
    }
    Ok(())
}

fn run(reference: &Reference, args: &Args, work: &Path) -> anyhow::Result<()> {
    let (dataset, test_ids) = reference.load(&args.data, work)?;
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
