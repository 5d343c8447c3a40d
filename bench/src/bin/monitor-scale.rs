//! The monitor at scale: what `churn-monitor` computes on a day of N customers (default
//! 1,000,000): data drift of the day's feature snapshot, prediction drift, realised
//! accuracy of a matured prediction day (its labels joined from the curated churn labels)
//! and the estimate of today's, against the function's memory (3,008 MB in
//! `infra/template.yaml`). Measured twice, each in a process of its own: the first run
//! (both days read), and a daily run that carries the matured day over from the first
//! report (today's scores read only).
//!
//! `cargo run --release -p churn-bench --bin monitor-scale [-- --customers 1000000 --dir /tmp/monitor]`
//! (a `drift-scale` folder works too: its curated data and feature tables are reused).

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use churn_bench::measure;
use churn_pipeline::features::build_as_of;
use churn_pipeline::generate::GenerateConfig;
use churn_pipeline::monitor::{MonitorReport, MonitorRequest, monitor};
use churn_pipeline::predict::{PredictOptions, predict};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::TrainOptions;
use churn_pipeline::train::family::Family;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Customers to generate.
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Working directory, kept: a second run with the same one reuses its data and model.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// (Internal) run the monitor in this process: `first` or `daily`.
    #[arg(long, hide = true)]
    run: Option<String>,
}

/// The function's memory in the template.
const FUNCTION_MIB: f64 = 3008.0;
const TRAINED: &str = "2026-06-01";
const MATURED: &str = "2026-07-01";
const TODAY: &str = "2026-10-01";

fn day(text: &str) -> chrono::NaiveDate {
    text.parse().expect("a date")
}

fn request(dir: &Path, days: &[&str], earlier: Option<&MonitorReport>) -> MonitorRequest {
    MonitorRequest {
        model_dir: dir.join("models/bench-monitor"),
        features: Some(dir.join(format!("features/as_of={TODAY}"))),
        predictions: days
            .iter()
            .map(|d| dir.join(format!("predictions/dt={d}")))
            .collect(),
        data: Some(dir.to_path_buf()),
        earlier: earlier.map(|r| r.accuracy.clone()).unwrap_or_default(),
        earlier_shadow: earlier.map(|r| r.shadow.clone()).unwrap_or_default(),
        ..MonitorRequest::default()
    }
}

fn run_monitor(dir: &Path, which: &str) -> anyhow::Result<()> {
    let first = dir.join("monitor-first.json");
    let (report, measured) = match which {
        "first" => measure(
            "monitor, first run (2 days)",
            || Ok(monitor(&request(dir, &[MATURED, TODAY], None))?),
            |r| r.accuracy.iter().map(|d| d.rows).sum(),
        )?,
        _ => {
            let previous: MonitorReport = serde_json::from_slice(&std::fs::read(&first)?)?;
            let mut carried = previous.clone();
            carried.accuracy.retain(|d| d.date != TODAY);
            measure(
                "monitor, daily (1 day read)",
                || Ok(monitor(&request(dir, &[TODAY], Some(&carried)))?),
                |r| r.accuracy.last().map_or(0, |d| d.rows),
            )?
        }
    };
    if which == "first" {
        std::fs::write(&first, serde_json::to_vec(&report)?)?;
    }
    let peak = measured.peak_mib.unwrap_or(0.0);
    let matured = report.accuracy.iter().find(|d| d.realised.is_some());
    println!(
        "  realised ROC-AUC of {MATURED}: {}; estimated of {TODAY}: {}; drift {:?} ({} at alert); peak {peak:.0} MiB of the function's {FUNCTION_MIB:.0}: {}",
        matured
            .and_then(|d| d.realised.as_ref()?.roc_auc)
            .map_or("-".into(), |a| format!("{a:.4}")),
        report
            .accuracy
            .last()
            .and_then(|d| d.estimated.roc_auc)
            .map_or("-".into(), |a| format!("{a:.4}")),
        report.findings.drift,
        report.findings.drifted_features.len(),
        if peak <= FUNCTION_MIB {
            "fits"
        } else {
            "does NOT fit"
        }
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("churn-bench-monitor"));
    if let Some(which) = &args.run {
        return run_monitor(&dir, which);
    }
    let store = Store::new(&dir);
    println!(
        "the monitor, {} threads, in {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        dir.display()
    );
    if store.at(&churn_core::layout::dataset_pointer()).exists() {
        println!(
            "  (reusing the curated data of {}; --customers does not apply)",
            dir.display()
        );
    } else {
        println!("  {} customers", args.customers);
        churn_bench::generate_and_ingest(&store, args.customers, GenerateConfig::default().seed)?;
    }
    for as_of in [TRAINED, MATURED, TODAY] {
        if !dir.join(format!("features/as_of={as_of}")).exists() {
            measure(
                &format!("features as of {as_of}"),
                || Ok(build_as_of(&store, day(as_of), 90, None)?),
                |s| s.rows,
            )?;
        }
    }
    let model = dir.join("models/bench-monitor");
    if !model.join(churn_pipeline::models::MODEL_FILE).exists() {
        // A quick model: the monitor's cost does not depend on how good it is.
        let mut options = TrainOptions {
            families: vec![Family::Linear],
            folds: 2,
            ..TrainOptions::default()
        };
        options.trials.insert(Family::Linear, 1);
        measure(
            "train a linear model",
            || {
                Ok(churn_pipeline::models::train_dir(
                    &dir.join(format!("features/as_of={TRAINED}")),
                    &options.validate()?,
                    Some(&model),
                    &dir,
                    &NoProgress,
                )?)
            },
            |_| 0,
        )?;
    }
    let options = PredictOptions {
        reasons: 0,
        ..PredictOptions::default()
    }
    .validate()?;
    for as_of in [MATURED, TODAY] {
        let out = dir.join(format!("predictions/dt={as_of}"));
        if !out.join(churn_pipeline::predict::SUMMARY_FILE).exists() {
            measure(
                &format!("score {as_of}"),
                || {
                    Ok(predict(
                        &model,
                        &dir.join(format!("features/as_of={as_of}")),
                        &out,
                        &options,
                        &NoProgress,
                    )?)
                },
                |s| s.rows,
            )?;
        }
    }
    for which in ["first", "daily"] {
        let status = Command::new(std::env::current_exe()?)
            .arg("--dir")
            .arg(&dir)
            .arg("--run")
            .arg(which)
            .status()
            .context("running the monitor")?;
        anyhow::ensure!(status.success(), "the monitor's {which} run failed");
    }
    Ok(())
}
