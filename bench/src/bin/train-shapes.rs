//! Training time by table shape, on the flat-table path a user runs (`churn features
//! --table` then default `churn train`): does the cost grow with the cells of the table,
//! or explode with its columns or with how easily the classes separate?
//!
//! Tables are generated here, deterministically (a bank-like customer table: a row
//! number, an id, a surname of ~2,900 values, a credit score, country, gender, age,
//! tenure, balance, products, card, activity, salary and six noise columns):
//! - `bank`: 10,000 rows x 20 columns, a churn rate of ~15 %;
//! - `separable`: the same with a signal four times as strong (boosting runs long before
//!   early stopping: where small learning rates cost most);
//! - `wide`: 2,000 rows x 497 columns (478 noise columns added).
//!
//! Every shape trains with the defaults (`--trials 8,3,16`). `s/Mcell` is the wall time per
//! million cells: flat across the shapes when the cost grows with the cells. The goal for
//! ~10,000 rows is 20 s on 2 cores. Beside each shape, in the same run, the
//! peer a team would run instead: LightGBM tuned by a 40-config x 5-fold random search
//! with refit (`bench/peers/lightgbm_search.py`, 2 threads), on the same CSV and the same
//! test ids. Its virtualenv, `bench/.venv-peers`, is made on the first run (PyPI:
//! lightgbm, scikit-learn, pandas); `--no-peer` skips it.
//!
//! `cargo run --release -p churn-bench --bin train-shapes [-- --only wide]`

#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use churn_pipeline::features::data;
use churn_pipeline::features::table::{Overrides, TableOptions, build_from_tables};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::train::{TrainOptions, train};
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Run one shape only (bank, separable, wide).
    #[arg(long)]
    only: Option<String>,
    /// Seed of the training.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Do not run the LightGBM peer.
    #[arg(long)]
    no_peer: bool,
    /// Write the tables and their feature folders here (kept) instead of a temporary
    /// folder, to train them again with `churn train` (e.g. with `RUST_LOG=debug`).
    #[arg(long)]
    work: Option<PathBuf>,
}

/// The peer's `seconds=… roc_auc=…` on the same table and test ids.
fn run_peer(python: &Path, table: &Path, test_ids: &Path) -> anyhow::Result<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/lightgbm_search.py");
    let output = Command::new(python)
        .arg(script)
        .arg(table)
        .arg(test_ids)
        .args(["RowNumber", "Exited", "CustomerId"])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "the peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

struct Shape {
    name: &'static str,
    rows: usize,
    extra_columns: usize,
    signal: f64,
}

const SHAPES: [Shape; 3] = [
    Shape {
        name: "bank",
        rows: 10_000,
        extra_columns: 0,
        signal: 1.0,
    },
    Shape {
        name: "separable",
        rows: 10_000,
        extra_columns: 0,
        signal: 4.0,
    },
    Shape {
        name: "wide",
        rows: 2_000,
        extra_columns: 478,
        signal: 1.0,
    },
];

/// A seeded generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn write_table(shape: &Shape, path: &Path) -> anyhow::Result<()> {
    let mut rng = Rng(5);
    let mut text = String::from(
        "RowNumber,CustomerId,Surname,CreditScore,Geography,Gender,Age,Tenure,Balance,\
         NumOfProducts,HasCrCard,IsActiveMember,EstimatedSalary,X0,X1,X2,X3,X4,X5",
    );
    for k in 0..shape.extra_columns {
        let _ = write!(text, ",W{k}");
    }
    text.push_str(",Exited\n");
    for row in 0..shape.rows {
        let geography = match rng.next() {
            x if x < 0.5 => "France",
            x if x < 0.75 => "Germany",
            _ => "Spain",
        };
        let female = rng.next() < 0.5;
        let age = (39.0 + 10.0 * rng.normal()).clamp(18.0, 92.0).round();
        let tenure = (rng.next() * 11.0).floor();
        let balance = if rng.next() < 0.36 {
            0.0
        } else {
            120_000.0 + 30_000.0 * rng.normal()
        };
        let products = match rng.next() {
            x if x < 0.5 => 1,
            x if x < 0.96 => 2,
            x if x < 0.99 => 3,
            _ => 4,
        };
        let active = rng.next() < 0.5;
        let margin = shape.signal
            * (-0.5 + 0.07 * (age - 39.0) + if geography == "Germany" { 0.8 } else { 0.0 }
                - if active { 0.9 } else { 0.0 }
                + if female { 0.5 } else { 0.0 }
                + if products >= 3 { 1.8 } else { 0.0 }
                - if products == 2 { 0.6 } else { 0.0 }
                + 0.000_002 * balance)
            - if shape.signal == 1.0 { 1.7 } else { 0.0 };
        let churned = rng.next() < 1.0 / (1.0 + (-margin).exp());
        let _ = write!(
            text,
            "{},{},Sur{},{:.0},{geography},{},{age},{tenure},{balance:.2},{products},{},{},{:.2}",
            row + 1,
            15_600_000 + row * 7,
            (rng.next() * 2932.0) as u32,
            650.0 + 97.0 * rng.normal(),
            if female { "Female" } else { "Male" },
            u8::from(rng.next() < 0.7),
            u8::from(active),
            100.0 + rng.next() * 199_900.0,
        );
        for _ in 0..6 + shape.extra_columns {
            let _ = write!(text, ",{:.3}", rng.normal());
        }
        let _ = writeln!(text, ",{}", u8::from(churned));
    }
    std::fs::write(path, text)?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let temporary = tempfile::tempdir()?;
    let work = match &args.work {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => temporary.path().to_path_buf(),
    };
    let python = if args.no_peer {
        None
    } else {
        Some(churn_bench::peer_python(
            ".venv-peers",
            &["lightgbm", "scikit-learn", "pandas"],
        )?)
    };
    println!(
        "default `churn train` by table shape ({} threads)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!(
        "  {:<10} {:>7} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8}  champion",
        "shape", "rows", "columns", "cells", "search", "total s", "s/Mcell", "ROC-AUC"
    );
    for shape in SHAPES
        .iter()
        .filter(|s| args.only.as_deref().is_none_or(|only| only == s.name))
    {
        let table = work.join(format!("{}.csv", shape.name));
        write_table(shape, &table)?;
        let features = work.join(shape.name);
        let mut options =
            TableOptions::new(vec![table.clone()], "RowNumber", Some("Exited"), &features);
        options.overrides = Overrides {
            drop: ["customer_id".to_owned()].into(),
            ..Overrides::default()
        };
        build_from_tables(&options)?;
        let dataset = data::load_dir(&features, true)?;
        let train_options = TrainOptions {
            seed: args.seed,
            ..TrainOptions::default()
        };
        let started = Instant::now();
        let outcome = train(&dataset, &train_options.validate()?, &NoProgress)?;
        let seconds = started.elapsed().as_secs_f64();
        let columns = dataset.spec.features.len();
        let cells = dataset.len() * columns;
        println!(
            "  {:<10} {:>7} {:>8} {:>8} {:>8.1} {:>9.1} {:>8.1} {:>8.4}  {}",
            shape.name,
            dataset.len(),
            columns,
            cells,
            outcome.seconds.get("search").copied().unwrap_or(0.0),
            seconds,
            seconds / cells as f64 * 1e6,
            outcome.champion().test.roc_auc,
            outcome.champion,
        );
        if let Some(python) = &python {
            let test_ids = work.join(format!("{}-test-ids.txt", shape.name));
            std::fs::write(&test_ids, outcome.test_ids.join("\n"))?;
            println!(
                "  {:<10} peer LightGBM, 40 configs x 5-fold search + refit: {}",
                shape.name,
                run_peer(python, &table, &test_ids)?
            );
        }
    }
    Ok(())
}
