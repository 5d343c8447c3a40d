//! The subcommands and their flags.

use std::path::PathBuf;

use anyhow::{Context, Result};
use churn_pipeline::contract;
use churn_pipeline::dates::parse_date;
use churn_pipeline::generate::{self, GenerateConfig};
use churn_pipeline::ingest::IngestOptions;
use churn_pipeline::store::{RawFormat, Store};
use clap::{Args, Parser, Subcommand};
use tracing::info;

use crate::progress::Bars;

/// Churn prediction from raw customer data to a ranked list of customers at risk.
///
/// Every command works on a data directory laid out like the cloud bucket: raw/,
/// curated/, quarantine/, features/, reports/. Start with `churn demo`.
#[derive(Debug, Parser)]
#[command(name = "churn", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// More log detail (-v debug, -vv trace). CHURN_LOG=<filter> overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only warnings and errors; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Logs as JSON lines (for machines) instead of text.
    #[arg(long, global = true)]
    pub log_json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write realistic raw data (six sources) for N simulated customers.
    Generate(GenerateArgs),
    /// Validate and clean raw/ into curated/ (Parquet) and quarantine/, with a report.
    Ingest(IngestArgs),
    /// Print the raw-data contract as Markdown (the source of docs/data-contract.md).
    Contract,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of customers to simulate.
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,
    /// Seed of the simulation: the same seed and flags give the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Data directory to write raw/<source>/ into.
    #[arg(long, visible_alias = "dir", default_value = "churn-data")]
    pub out: PathBuf,
    /// File format of the raw files: csv, jsonl or parquet.
    #[arg(long, default_value = "csv", value_parser = parse_format)]
    pub format: RawFormat,
    /// Last day of the history (the extract date), YYYY-MM-DD.
    #[arg(long, default_value = "2026-10-31")]
    pub end_date: String,
    /// Length of the history in months.
    #[arg(long, default_value_t = 18)]
    pub history_months: u32,
    /// Probability that a row carries injected dirt (missing, unparseable, out-of-range
    /// and unknown values, duplicates, key conflicts, broken lines, bad UTF-8, outliers).
    #[arg(long, default_value_t = 0.0)]
    pub dirt: f64,
    /// Customers per raw file (each source is split into parts).
    #[arg(long, default_value_t = 250_000)]
    pub customers_per_file: u64,
    /// Replace raw data already in the directory.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Data directory holding raw/<source>/ files.
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// Rows per chunk while reading: lower it to use less memory.
    #[arg(long, default_value_t = 500_000)]
    pub chunk_rows: usize,
}

fn parse_format(text: &str) -> Result<RawFormat, String> {
    RawFormat::parse(text)
        .ok_or_else(|| format!("unknown format '{text}': use csv, jsonl or parquet"))
}

pub fn run(cli: Cli) -> Result<()> {
    let bars = Bars::new(cli.global.quiet);
    match cli.command {
        Command::Generate(args) => generate(args, &bars),
        Command::Ingest(args) => ingest(args, &bars),
        Command::Contract => {
            print!("{}", contract::render_markdown());
            Ok(())
        }
    }
}

fn generate(args: GenerateArgs, bars: &Bars) -> Result<()> {
    let config = GenerateConfig {
        customers: args.customers,
        seed: args.seed,
        format: args.format,
        end_date: parse_date(&args.end_date, "--end-date")?,
        history_months: args.history_months,
        dirt_rate: args.dirt,
        customers_per_file: args.customers_per_file,
        overwrite: args.force,
    };
    let store = Store::new(&args.out);
    let started = std::time::Instant::now();
    let manifest = generate::generate(&store, &config, bars).context("generate failed")?;
    for (source, entry) in &manifest.sources {
        info!(
            source,
            rows = entry.rows_written,
            files = entry.files.len(),
            dirty = entry.dirt.values().sum::<u64>(),
            "wrote"
        );
    }
    info!(
        customers = manifest.customers,
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        dir = %store.path("raw").display(),
        "generated raw data"
    );
    Ok(())
}

fn ingest(args: IngestArgs, bars: &Bars) -> Result<()> {
    let store = Store::new(&args.dir);
    let options = IngestOptions {
        chunk_rows: args.chunk_rows.max(1),
    };
    let started = std::time::Instant::now();
    let report = churn_pipeline::ingest::ingest(&store, &options, bars).context("ingest failed")?;
    let quarantined: u64 = report.sources.values().map(|s| s.quarantined).sum();
    info!(
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        quarantined,
        report = %store.report_file("ingest-report.json").display(),
        curated = %store.path("curated").display(),
        "ingest finished"
    );
    if quarantined > 0 {
        info!(dir = %store.path("quarantine").display(), "quarantined rows are listed with file, line and reason");
    }
    Ok(())
}
