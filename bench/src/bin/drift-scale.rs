//! Data drift at scale: the generator's N customers (default 1,000,000), features as of
//! two days (the reference, as training profiles it, and the current table), then
//! `churn monitor`'s data drift of the current table against the reference profile,
//! printed beside Evidently's `DataDriftPreset` on the same two Parquet files in the same
//! run (`bench/peers/evidently_drift.py`; its virtualenv, `bench/.venv-drift`, is made on
//! the first run from PyPI: evidently 0.7.23, pandas 2 (0.7.23 does not import under
//! pandas 3), pyarrow). `--no-peer` skips it.
//!
//! Goal (issue 14): the drift of 1,000,000 rows x 45 features in at most 2 s and 1 GB on
//! 2 cores. Loading the table is timed apart from the drift itself, for both. Then the
//! check that effect sizes do not cry wolf at this size: an undrifted re-sample (the same
//! as-of day as the reference, customers of another seed) must raise no alert.
//!
//! `cargo run --release -p churn-bench --bin drift-scale [-- --customers 1000000 --dir /tmp/drift]`

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use churn_bench::measure;
use churn_pipeline::features::data::load_dir;
use churn_pipeline::features::profile::profile;
use churn_pipeline::features::{TABLE_FILE, build_as_of};
use churn_pipeline::generate::GenerateConfig;
use churn_pipeline::monitor::{Thresholds, data_drift};
use churn_pipeline::store::Store;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Customers to generate.
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Working directory, kept: a second run with the same one reuses its data.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The reference day (the training table's as-of).
    #[arg(long, default_value = "2026-06-01")]
    reference: String,
    /// The current day.
    #[arg(long, default_value = "2026-10-01")]
    current: String,
    /// Do not run Evidently.
    #[arg(long)]
    no_peer: bool,
    /// Do not run the undrifted re-sample.
    #[arg(long)]
    no_resample: bool,
    /// (Internal) measure the drift of the current table against this profile.json in a
    /// fresh process, as `churn monitor` runs: its peak memory is its own.
    #[arg(long, hide = true)]
    measure_against: Option<PathBuf>,
    /// (Internal) the table to measure, instead of DIR's features as of --current.
    #[arg(long, hide = true)]
    table: Option<PathBuf>,
}

const TARGET_SECONDS: f64 = 2.0;
const TARGET_PEAK_MIB: f64 = 1024.0;

fn day(text: &str) -> anyhow::Result<chrono::NaiveDate> {
    text.parse()
        .with_context(|| format!("{text}: not a date (YYYY-MM-DD)"))
}

/// What `churn monitor` does for data drift: read the reference profile, load the table,
/// measure; run in a process of its own.
fn measure_drift(profile_file: &Path, current_dir: &Path, resample: bool) -> anyhow::Result<()> {
    let (reference_profile, _) = measure(
        "read the reference profile",
        || {
            let text = std::fs::read_to_string(profile_file)?;
            Ok(serde_json::from_str::<
                churn_pipeline::features::profile::TableProfile,
            >(&text)?)
        },
        |p| p.rows,
    )?;
    let (current, loaded) = measure(
        "load the current table",
        || Ok(load_dir(current_dir, false)?),
        |d| d.len() as u64,
    )?;
    let features = current.spec.features.len();
    let (report, drifted) = measure(
        "drift against the profile",
        || {
            Ok(data_drift(
                &reference_profile,
                &current,
                &[],
                &Thresholds::default(),
            )?)
        },
        |_| current.len() as u64,
    )?;
    let alerts = report.levels.get("alert").copied().unwrap_or(0);
    let warns = report.levels.get("warn").copied().unwrap_or(0);
    if resample {
        println!(
            "  undrifted re-sample, {} rows x {features} features: {alerts} at alert (goal: none): {}; {warns} at warn; largest PSI {}",
            current.len(),
            if alerts == 0 { "met" } else { "NOT met" },
            report
                .features
                .iter()
                .filter_map(|f| f.psi.map(|p| (p, &f.name)))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map_or("-".into(), |(p, name)| format!("{p:.4} ({name})"))
        );
        return Ok(());
    }
    println!(
        "  {} rows x {features} features: {alerts} at alert, {warns} at warn; most drifted: {}",
        current.len(),
        report
            .features
            .iter()
            .take(3)
            .map(|f| format!(
                "{} (PSI {})",
                f.name,
                f.psi.map_or("-".into(), |p| format!("{p:.3}"))
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let peak = drifted
        .peak_mib
        .unwrap_or(0.0)
        .max(loaded.peak_mib.unwrap_or(0.0));
    println!(
        "  drift {:.2} s (goal <= {TARGET_SECONDS} s): {}; peak of the process, table loaded {peak:.0} MiB (goal <= {TARGET_PEAK_MIB} MiB): {}",
        drifted.seconds,
        if drifted.seconds <= TARGET_SECONDS {
            "met"
        } else {
            "NOT met"
        },
        if peak <= TARGET_PEAK_MIB {
            "met"
        } else {
            "NOT met"
        },
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(profile_file) = &args.measure_against {
        let current = match &args.table {
            Some(table) => table.clone(),
            None => args
                .dir
                .as_ref()
                .context("--measure-against needs --dir")?
                .join(format!("features/as_of={}", day(&args.current)?)),
        };
        return measure_drift(profile_file, &current, args.table.is_some());
    }
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("churn-bench-drift"));
    let store = Store::new(&dir);
    println!(
        "data drift, {} customers, {} threads, in {}",
        args.customers,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        dir.display()
    );
    let (reference_day, current_day) = (day(&args.reference)?, day(&args.current)?);
    let reference_dir = dir.join(format!("features/as_of={reference_day}"));
    let current_dir = dir.join(format!("features/as_of={current_day}"));
    let seed = GenerateConfig::default().seed;
    prepare(&store, args.customers, seed, &[reference_day, current_day])?;

    println!("ours (churn monitor's data drift):");
    let (reference, _) = measure(
        "load the reference table",
        || Ok(load_dir(&reference_dir, false)?),
        |d| d.len() as u64,
    )?;
    let (reference_profile, _) = measure(
        "profile it (at training)",
        || Ok(profile(&reference)),
        |_| reference.len() as u64,
    )?;
    drop(reference);
    let profile_file = dir.join("profile.json");
    std::fs::write(&profile_file, serde_json::to_vec(&reference_profile)?)?;
    // The monitor's part in a process of its own, as `churn monitor` runs it.
    let status = Command::new(std::env::current_exe()?)
        .arg("--measure-against")
        .arg(&profile_file)
        .arg("--dir")
        .arg(&dir)
        .arg("--current")
        .arg(&args.current)
        .status()?;
    anyhow::ensure!(status.success(), "measuring the drift failed");

    if !args.no_resample {
        let resample = Store::new(dir.join("resample"));
        println!(
            "an undrifted re-sample: customers of seed {}, as of the reference day {reference_day}:",
            seed + 1
        );
        prepare(&resample, args.customers, seed + 1, &[reference_day])?;
        let status = Command::new(std::env::current_exe()?)
            .arg("--measure-against")
            .arg(&profile_file)
            .arg("--table")
            .arg(
                resample
                    .root()
                    .join(format!("features/as_of={reference_day}")),
            )
            .status()?;
        anyhow::ensure!(status.success(), "measuring the re-sample failed");
    }

    if args.no_peer {
        return Ok(());
    }
    println!("Evidently's DataDriftPreset on the same files:");
    // Evidently 0.7.23 imports a pandas helper that pandas 3 removed.
    let python =
        churn_bench::peer_python(".venv-drift", &["evidently==0.7.23", "pandas<3", "pyarrow"])?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/evidently_drift.py");
    let output = Command::new(python)
        .arg(script)
        .arg(reference_dir.join(TABLE_FILE))
        .arg(current_dir.join(TABLE_FILE))
        .arg(churn_pipeline::features::catalog::ID_COLUMN)
        .arg(churn_pipeline::features::catalog::LABEL_COLUMN)
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "the peer failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    println!("  {}", String::from_utf8_lossy(&output.stdout).trim());
    Ok(())
}

/// The generator's `customers` of `seed`, ingested, with features as of each of `days`
/// (kept: a second run with the same folder reuses them).
fn prepare(
    store: &Store,
    customers: u64,
    seed: u64,
    days: &[chrono::NaiveDate],
) -> anyhow::Result<()> {
    let table = |as_of: &chrono::NaiveDate| {
        store
            .root()
            .join(format!("features/as_of={as_of}"))
            .join(TABLE_FILE)
    };
    if days.iter().all(|d| table(d).exists()) {
        println!(
            "  (reusing the feature tables of {})",
            store.root().display()
        );
        return Ok(());
    }
    churn_bench::generate_and_ingest(store, customers, seed)?;
    for &as_of in days {
        measure(
            &format!("features as of {as_of}"),
            || Ok(build_as_of(store, as_of, 90, None)?),
            |s| s.rows,
        )?;
    }
    Ok(())
}
