//! Shared helpers of the benchmarks: timing and peak memory of a stage.
//!
//! Peak memory is the process's high-water mark of resident memory (`VmHWM` in
//! `/proc/self/status`), reset before each stage through `/proc/self/clear_refs` (Linux),
//! so each stage reports its own peak.

// Benchmarks print their figures.
#![allow(clippy::print_stdout)]

pub mod reference;
pub mod train_scale;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The figures of one stage.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Stage name.
    pub stage: String,
    /// Rows processed (what "rows" means is up to the stage).
    pub rows: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Peak resident memory during the stage, in MiB (None off Linux).
    pub peak_mib: Option<f64>,
}

/// Resets the peak-RSS counter of this process (Linux only; a no-op elsewhere).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory since the last reset, in MiB.
pub fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Runs `stage`, returning its output with its figures; `rows` counts what it processed.
pub fn measure<T>(
    name: &str,
    stage: impl FnOnce() -> anyhow::Result<T>,
    rows: impl FnOnce(&T) -> u64,
) -> anyhow::Result<(T, Measured)> {
    reset_peak();
    let started = Instant::now();
    let output = stage()?;
    let seconds = started.elapsed().as_secs_f64();
    let measured = Measured {
        stage: name.to_owned(),
        rows: rows(&output),
        seconds,
        peak_mib: peak_mib(),
    };
    println!(
        "  {:<28} {:>12} rows {:>8.1} s {:>12.0} rows/s {:>9} MiB peak",
        measured.stage,
        measured.rows,
        measured.seconds,
        measured.rows as f64 / measured.seconds.max(1e-9),
        measured
            .peak_mib
            .map_or("?".to_owned(), |m| format!("{m:.0}"))
    );
    Ok((output, measured))
}

/// Generates `customers` of `seed` into `store` as Parquet (the generator's other
/// defaults) and ingests them as of the generator's end date, each stage measured.
pub fn generate_and_ingest(
    store: &churn_pipeline::store::Store,
    customers: u64,
    seed: u64,
) -> anyhow::Result<()> {
    use churn_pipeline::generate::{GenerateConfig, generate};
    use churn_pipeline::ingest::{IngestOptions, ingest};
    use churn_pipeline::progress::NoProgress;
    let config = GenerateConfig {
        customers,
        seed,
        format: churn_pipeline::store::RawFormat::Parquet,
        overwrite: true,
        ..GenerateConfig::default()
    };
    measure(
        "generate",
        || Ok(generate(store, &config, &NoProgress)?),
        |m| m.sources.values().map(|s| s.rows_written).sum(),
    )?;
    measure(
        "ingest",
        || {
            Ok(ingest(
                store,
                &IngestOptions::new(config.end_date),
                &NoProgress,
            )?)
        },
        |r| r.sources.values().map(|s| s.curated).sum(),
    )?;
    Ok(())
}

/// The Python of a peer's virtualenv, `bench/<name>`, made on first use with `packages`
/// from PyPI. The installed list is recorded in the virtualenv and the install is run
/// again when it differs, so an interrupted install or a changed pin never leaves a
/// half-made peer behind.
pub fn peer_python(name: &str, packages: &[&str]) -> anyhow::Result<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    let python = venv.join("bin/python");
    let record = venv.join("churn-bench-installed.txt");
    let wanted = packages.join("\n");
    if python.exists() && std::fs::read_to_string(&record).is_ok_and(|had| had == wanted) {
        return Ok(python);
    }
    println!(
        "  (making {} for the peer: {})",
        venv.display(),
        packages.join(" ")
    );
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()?;
    anyhow::ensure!(made.success(), "python3 -m venv {} failed", venv.display());
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(packages)
        .status()?;
    anyhow::ensure!(
        installed.success(),
        "pip install into {} failed: {}",
        venv.display(),
        packages.join(" ")
    );
    std::fs::write(&record, wanted)?;
    Ok(python)
}
