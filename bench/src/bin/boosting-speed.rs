//! Histogram gradient boosting beside LightGBM, on the same rows: the feature table
//! `train-scale` builds for 1,000,000 customers (or any other), encoded once as `churn
//! train` encodes it for trees, split 80/20 (stratified, seeded) and written to one Parquet
//! file that both sides read. Both fit the same number of trees with the same leaves,
//! depth, bins, learning rate, leaf limits and L2, no subsampling and no early stopping,
//! on 2 threads; the bench prints binning and boosting seconds, seconds per 100 trees and
//! the held-out ROC-AUC of each. Goal: no slower than LightGBM at equal or better AUC.
//!
//! `cargo run --release -p churn-bench --bin boosting-speed -- [--features DIR] [--trees 300]`

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use churn_core::metrics::roc_auc;
use churn_core::model::Model;
use churn_pipeline::features::data::load_dir;
use churn_pipeline::store::scan_parquet_file;
use churn_pipeline::train::encode::{self, Style};
use churn_pipeline::train::split;
use churn_pipeline::train::tree::bins::{BinMapper, MAX_BINS};
use churn_pipeline::train::tree::boosting::{self, BoostParams};
use churn_pipeline::train::tree::grow::TreeParams;
use clap::Parser;
use polars::prelude::{Column, DataFrame, ParquetWriter};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Feature folder (default: the one `train-scale` builds at 1,000,000 customers).
    #[arg(long)]
    features: Option<PathBuf>,
    /// Trees, for both.
    #[arg(long, default_value_t = 300)]
    trees: usize,
    /// Leaves per tree, for both.
    #[arg(long, default_value_t = 31)]
    leaves: usize,
    /// Deepest leaf, for both.
    #[arg(long, default_value_t = 12)]
    depth: usize,
    /// Learning rate, for both.
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    /// Seed of the split.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Threads, for both.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Skip LightGBM.
    #[arg(long)]
    no_peer: bool,
}

const PEER_PACKAGES: &[&str] = &["lightgbm==4.6.0", "pandas<3", "pyarrow", "scikit-learn"];
const MIN_ROWS_IN_LEAF: u32 = 20;
const MIN_CHILD_WEIGHT: f64 = 1e-3;
const LAMBDA: f64 = 1.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.trees >= 1,
        "--trees {}: fit at least 1 tree",
        args.trees
    );
    anyhow::ensure!(
        args.leaves >= 2,
        "--leaves {}: a tree needs at least 2 leaves",
        args.leaves
    );
    anyhow::ensure!(
        args.depth >= 1,
        "--depth {}: a tree needs at least 1 split",
        args.depth
    );
    anyhow::ensure!(
        args.learning_rate.is_finite() && args.learning_rate > 0.0 && args.learning_rate <= 1.0,
        "--learning-rate {}: give a rate above 0 and at most 1",
        args.learning_rate
    );
    anyhow::ensure!(args.threads >= 1, "--threads 0: give at least 1 thread");
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()?;
    let features = args
        .features
        .clone()
        .unwrap_or_else(|| churn_bench::train_scale::features(&churn_bench::train_scale::dir()));
    let data = load_dir(&features, true).with_context(|| {
        format!(
            "{}: no feature table (run `cargo run --release -p churn-bench --bin train-scale` first, or pass --features)",
            features.display()
        )
    })?;
    let (train_rows, test_rows) = split::train_test(&data.labels, 0.2, args.seed);
    let churners = |rows: &[usize]| rows.iter().filter(|&&r| data.labels[r]).count();
    for (name, rows) in [("train", &train_rows), ("test", &test_rows)] {
        anyhow::ensure!(
            churners(rows) > 0 && churners(rows) < rows.len(),
            "{}: the {name} split needs churners and stayers ({} rows, {} churners)",
            features.display(),
            rows.len(),
            churners(rows)
        );
    }
    let encoded = encode::fit(&data, &train_rows, Style::Trees, args.seed);
    let width = encoded.preprocessing.width();
    let test_matrix = encode::encode(&data, &encoded.preprocessing, &test_rows);
    let labels = |rows: &[usize]| -> Vec<bool> { rows.iter().map(|&r| data.labels[r]).collect() };
    let work = std::env::temp_dir().join("churn-boosting-speed");
    std::fs::create_dir_all(&work)?;
    let table = work.join("encoded.parquet");
    write_encoded(
        &table,
        width,
        [
            (&encoded.matrix[..], &labels(&train_rows)[..], false),
            (&test_matrix[..], &labels(&test_rows)[..], true),
        ],
    )?;
    drop((encoded, test_matrix, data));
    println!(
        "boosting {} trees of {} leaves (depth <= {}, {} bins, learning rate {}, {} threads) on {} train and {} test rows x {width} columns of {}",
        args.trees,
        args.leaves,
        args.depth,
        MAX_BINS,
        args.learning_rate,
        args.threads,
        train_rows.len(),
        test_rows.len(),
        table.display()
    );
    println!(
        "  {:<12} {:>10} {:>11} {:>14} {:>9}",
        "", "binning s", "boosting s", "s / 100 trees", "ROC-AUC"
    );
    let ours = ours(&table, width, &args)?;
    ours.print("churn");
    if !args.no_peer {
        let python = churn_bench::peer_python(".venv-boosting", PEER_PACKAGES)?;
        let peer = lightgbm(&python, &table, &args)?;
        peer.print("LightGBM");
        println!(
            "  churn / LightGBM boosting time: {:.2}x; AUC {:+.4}: {}",
            ours.boosting / peer.boosting,
            ours.auc - peer.auc,
            if ours.boosting <= peer.boosting && ours.auc >= peer.auc {
                "goal met"
            } else {
                "goal MISSED"
            }
        );
    }
    Ok(())
}

struct Figures {
    binning: f64,
    boosting: f64,
    trees: usize,
    auc: f64,
}

impl Figures {
    fn print(&self, name: &str) {
        println!(
            "  {name:<12} {:>10.2} {:>11.2} {:>14.2} {:>9.4}",
            self.binning,
            self.boosting,
            self.boosting / self.trees.max(1) as f64 * 100.0,
            self.auc
        );
    }
}

/// Writes the encoded rows (missing values as NaN) with their label and split.
fn write_encoded<'a>(
    path: &Path,
    width: usize,
    parts: [(&'a [f64], &'a [bool], bool); 2],
) -> anyhow::Result<()> {
    let mut columns: Vec<Column> = (0..width)
        .map(|column| {
            let values: Vec<f64> = parts
                .iter()
                .flat_map(|(matrix, _, _)| matrix.iter().skip(column).step_by(width).copied())
                .collect();
            Column::new(format!("f{column}").into(), values)
        })
        .collect();
    let label: Vec<bool> = parts
        .iter()
        .flat_map(|(_, y, _)| y.iter().copied())
        .collect();
    let test: Vec<bool> = parts
        .iter()
        .flat_map(|(_, y, test)| std::iter::repeat_n(*test, y.len()))
        .collect();
    columns.push(Column::new("label".into(), label));
    let height = test.len();
    columns.push(Column::new("test".into(), test));
    let mut frame = DataFrame::new(height, columns)?;
    ParquetWriter::new(std::fs::File::create(path)?).finish(&mut frame)?;
    Ok(())
}

/// Reads the file back into row-major train and test matrices with their labels.
#[allow(clippy::type_complexity)]
fn read_encoded(
    path: &Path,
    width: usize,
) -> anyhow::Result<((Vec<f64>, Vec<bool>), (Vec<f64>, Vec<bool>))> {
    let frame = scan_parquet_file(path)?.collect()?;
    let test: Vec<bool> = frame
        .column("test")?
        .bool()?
        .iter()
        .map(|x| x.unwrap_or(false))
        .collect();
    let label: Vec<bool> = frame
        .column("label")?
        .bool()?
        .iter()
        .map(|x| x.unwrap_or(false))
        .collect();
    let columns: Vec<Vec<f64>> = (0..width)
        .map(|c| -> anyhow::Result<Vec<f64>> {
            Ok(frame
                .column(&format!("f{c}"))?
                .f64()?
                .iter()
                .map(|x| x.unwrap_or(f64::NAN))
                .collect())
        })
        .collect::<anyhow::Result<_>>()?;
    let mut train = (Vec::new(), Vec::new());
    let mut held_out = (Vec::new(), Vec::new());
    for row in 0..frame.height() {
        let (matrix, labels) = if test[row] { &mut held_out } else { &mut train };
        matrix.extend(columns.iter().map(|column| column[row]));
        labels.push(label[row]);
    }
    Ok((train, held_out))
}

fn ours(table: &Path, width: usize, args: &Args) -> anyhow::Result<Figures> {
    let ((train, train_labels), (test, test_labels)) = read_encoded(table, width)?;
    let started = Instant::now();
    let mapper = BinMapper::fit(&train, width);
    let binned = mapper.apply(&train, width);
    let binning = started.elapsed().as_secs_f64();
    let params = BoostParams {
        max_trees: args.trees,
        learning_rate: args.learning_rate,
        tree: TreeParams {
            max_leaves: args.leaves,
            max_depth: args.depth,
            min_child_weight: MIN_CHILD_WEIGHT,
            min_rows_in_leaf: MIN_ROWS_IN_LEAF,
            lambda: LAMBDA,
            columns_per_split: 1.0,
            symmetric: false,
        },
        row_fraction: 1.0,
        column_fraction: 1.0,
        early_stopping: usize::MAX,
        positive_weight: 1.0,
    };
    let started = Instant::now();
    let boosted = boosting::fit(&mapper, &binned, &train_labels, None, &params, args.seed);
    let boosting = started.elapsed().as_secs_f64();
    let trees = boosted.trees;
    let model = Model::Trees(boosted.ensemble);
    let margins: Vec<f64> = test.chunks(width).map(|row| model.margin(row)).collect();
    Ok(Figures {
        binning,
        boosting,
        trees,
        auc: roc_auc(&test_labels, &margins).unwrap_or(f64::NAN),
    })
}

fn lightgbm(python: &Path, table: &Path, args: &Args) -> anyhow::Result<Figures> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/lightgbm_boost.py");
    let output = Command::new(python)
        .arg(&script)
        .arg(table)
        .args([
            args.trees.to_string(),
            args.leaves.to_string(),
            args.depth.to_string(),
            args.learning_rate.to_string(),
            MAX_BINS.to_string(),
            MIN_ROWS_IN_LEAF.to_string(),
            MIN_CHILD_WEIGHT.to_string(),
            LAMBDA.to_string(),
            args.threads.to_string(),
        ])
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "{} failed: {}{}",
        script.display(),
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |name: &str| -> anyhow::Result<f64> {
        stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(&format!("{name}=")))
            .with_context(|| format!("no {name}= in the peer's output: {stdout}"))?
            .parse()
            .with_context(|| format!("{name} in the peer's output: {stdout}"))
    };
    Ok(Figures {
        binning: field("binning")?,
        boosting: field("boosting")?,
        trees: field("trees")? as usize,
        auc: field("roc_auc")?,
    })
}
