//! Training and batch prediction at scale, on the generator's data: 1,000,000 customers
//! (about 740,000 active on the as-of date), default `churn train` settings, then
//! `churn predict` of the same table with reason codes. Prints wall time and peak memory
//! per stage.
//!
//! `cargo run --release -p churn-bench --bin train-scale -- --customers 1000000`

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use churn_bench::measure;
use churn_pipeline::features::build_as_of;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::models::train_dir;
use churn_pipeline::predict::{PredictOptions, predict};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::{RawFormat, Store};
use churn_pipeline::train::TrainOptions;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Customers to generate (skipped when the data directory already has features).
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Data directory (reused when it already holds the as-of features).
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = args.dir.unwrap_or_else(churn_bench::train_scale::dir);
    let store = Store::new(&dir);
    let config = GenerateConfig {
        customers: args.customers,
        format: RawFormat::Parquet,
        overwrite: true,
        ..GenerateConfig::default()
    };
    let as_of = churn_bench::train_scale::as_of(&config);
    let features = churn_core::layout::features_as_of(&as_of).local(&dir);
    println!("training at scale in {}", dir.display());
    if !features.join("features.parquet").exists() {
        measure(
            "generate",
            || Ok(generate(&store, &config, &NoProgress)?),
            |m| m.customers,
        )?;
        measure(
            "ingest",
            || {
                Ok(ingest(
                    &store,
                    &IngestOptions::new(config.end_date),
                    &NoProgress,
                )?)
            },
            |r| r.sources.values().map(|s| s.rows_in).sum(),
        )?;
        measure(
            "features",
            || Ok(build_as_of(&store, as_of, 90, None)?),
            |s| s.rows,
        )?;
    }
    let options = TrainOptions {
        trained_at: "bench".into(),
        ..TrainOptions::default()
    }
    .validate()?;
    let model_dir = churn_bench::train_scale::model(&dir);
    let ((outcome, _), _) = measure(
        "train (default settings)",
        || {
            Ok(train_dir(
                &features,
                &options,
                Some(&model_dir),
                &dir,
                &NoProgress,
            )?)
        },
        |(outcome, _)| outcome.rows as u64,
    )?;
    for family in &outcome.families {
        println!(
            "    {:<20} test ROC-AUC {:.4}  (cv {:.4}, {} trials, final fit {:.1} s)",
            family.family,
            family.test.roc_auc,
            family.cv_metric,
            family.trials.len(),
            family.final_seconds
        );
    }
    for warning in &outcome.warnings {
        println!("    note: {warning}");
    }
    let out = dir.join("predictions/bench");
    measure(
        "predict, reasons for high tier",
        || {
            Ok(predict(
                &model_dir,
                &features,
                &out,
                &PredictOptions::default().validate()?,
                &NoProgress,
            )?)
        },
        |s| s.rows,
    )?;
    measure(
        "predict without reasons",
        || {
            Ok(predict(
                &model_dir,
                &features,
                &dir.join("predictions/bench-fast"),
                &PredictOptions {
                    reasons: 0,
                    ..PredictOptions::default()
                }
                .validate()?,
                &NoProgress,
            )?)
        },
        |s| s.rows,
    )?;
    Ok(())
}
