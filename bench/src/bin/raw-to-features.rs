//! Raw data to feature table at scale: generate N customers (default 1,000,000), then
//! ingest and build features from CSV and from Parquet, printing wall time, rows per
//! second and peak memory per stage, against the targets of a 10 GB Lambda (the whole
//! raw → features run within 120 s and 6 GB on a 2-core machine).
//!
//! `cargo run --release -p churn-bench --bin raw-to-features -- --customers 1000000`

#![allow(clippy::print_stdout)]

use std::path::PathBuf;

use anyhow::Context;
use churn_bench::{Measured, measure};
use churn_pipeline::features::build_as_of;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::{RawFormat, Store};
use clap::Parser;

// The same allocator as the `churn` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Customers to generate.
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Working directory (needs ~4 GB per format at 1,000,000 customers).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Formats to run: csv, parquet, jsonl.
    #[arg(long, value_delimiter = ',', default_value = "csv,parquet")]
    formats: Vec<String>,
    /// Keep the data afterwards.
    #[arg(long)]
    keep: bool,
}

const TARGET_SECONDS: f64 = 120.0;
const TARGET_PEAK_MIB: f64 = 6.0 * 1024.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let base = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("churn-bench"));
    println!(
        "raw -> features, {} customers, {} threads, in {}",
        args.customers,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        base.display()
    );
    let mut verdicts = Vec::new();
    for name in &args.formats {
        let format = RawFormat::parse(name).with_context(|| format!("unknown format {name}"))?;
        let dir = base.join(format.extension());
        let store = Store::new(&dir);
        let config = GenerateConfig {
            customers: args.customers,
            format,
            overwrite: true,
            ..GenerateConfig::default()
        };
        println!("{}:", format.extension());
        let (manifest, _) = measure(
            "generate",
            || Ok(generate(&store, &config, &NoProgress)?),
            |m| m.sources.values().map(|s| s.rows_written).sum(),
        )?;
        let sessions = manifest.sources["sessions"].rows_written;
        let bytes: u64 = walk_size(&dir.join("raw"));
        println!(
            "  raw data: {sessions} session rows, {:.2} GB on disk",
            bytes as f64 / 1e9
        );
        let (report, ingested) = measure(
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
        let curated_rows: u64 = report.sources.values().map(|s| s.curated).sum();
        let as_of = config.end_date - chrono::Duration::days(89);
        let (summary, featured) = measure(
            "features (as of)",
            || Ok(build_as_of(&store, as_of, 90, None)?),
            |_| curated_rows,
        )?;
        let total = Measured {
            stage: "raw -> features".into(),
            rows: summary.rows,
            seconds: ingested.seconds + featured.seconds,
            peak_mib: ingested
                .peak_mib
                .zip(featured.peak_mib)
                .map(|(a, b)| a.max(b)),
        };
        println!(
            "  {:<28} {:>8.1} s (target <= {TARGET_SECONDS:.0} s), peak {} MiB (target <= {TARGET_PEAK_MIB:.0} MiB); {} customers x {} features",
            total.stage,
            total.seconds,
            total.peak_mib.map_or("?".into(), |m| format!("{m:.0}")),
            summary.rows,
            summary.features
        );
        let ok = total.seconds <= TARGET_SECONDS
            && total.peak_mib.is_none_or(|peak| peak <= TARGET_PEAK_MIB);
        verdicts.push((format.extension(), ok));
        if !args.keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    for (format, ok) in verdicts {
        println!(
            "{format}: {}",
            if ok {
                "within targets"
            } else {
                "MISSES a target"
            }
        );
    }
    Ok(())
}

fn walk_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| {
                    let path = entry.path();
                    if path.is_dir() {
                        walk_size(&path)
                    } else {
                        entry.metadata().map_or(0, |m| m.len())
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
