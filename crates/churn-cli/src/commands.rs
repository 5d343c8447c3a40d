//! The subcommands and their flags.

use std::path::PathBuf;

use anyhow::{Context, Result};
use churn_pipeline::contract;
use churn_pipeline::dates::parse_date;
use churn_pipeline::features::{self, FeatureSummary, table::TableOptions};
use churn_pipeline::generate::{self, GenerateConfig};
use churn_pipeline::ingest::IngestOptions;
use churn_pipeline::store::{RawFormat, Store};
use clap::{Args, Parser, Subcommand};
use tracing::{info, warn};

use churn_pipeline::progress::Progress;

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
    /// More log detail (-v debug, -vv trace). CHURN_LOG=FILTER (e.g. debug) overrides.
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
    /// Build a feature table: as of a date from curated/, or from flat tables you have.
    Features(FeaturesArgs),
    /// Generate a small data set and run every stage on it, printing where outputs are.
    Demo(DemoArgs),
    /// Print reference documentation as Markdown (the source of docs/).
    Docs {
        /// Which page.
        #[arg(value_enum)]
        page: DocsPage,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DocsPage {
    /// The raw-data contract (docs/data-contract.md).
    Contract,
    /// The as-of feature catalogue (docs/features.md).
    Features,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of customers to simulate.
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,
    /// Seed of the simulation: the same seed and flags give the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Data directory to write raw/SOURCE/ into.
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
    /// Data directory holding raw/SOURCE/ files.
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// Rows per chunk while reading: lower it to use less memory.
    #[arg(long, default_value_t = 500_000)]
    pub chunk_rows: usize,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["as_of", "table"])))]
pub struct FeaturesArgs {
    /// Data directory holding curated/ (as-of mode).
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// Build one row per customer active on this day, from events strictly before it
    /// (YYYY-MM-DD).
    #[arg(long, conflicts_with = "table")]
    pub as_of: Option<String>,
    /// Label horizon: a customer is labelled churned when they churn within this many days
    /// from --as-of.
    #[arg(long, default_value_t = 90)]
    pub horizon: u32,
    /// A flat table (CSV or Parquet) with one row per customer; repeat to join several
    /// tables on --id.
    #[arg(long, requires_all = ["id", "target"])]
    pub table: Vec<PathBuf>,
    /// The customer-id column of --table.
    #[arg(long)]
    pub id: Option<String>,
    /// The churn column of --table (yes/no, true/false or 1/0).
    #[arg(long)]
    pub target: Option<String>,
    /// The --target value that means churned, when it is not one of the usual words.
    #[arg(long)]
    pub positive: Option<String>,
    /// Output folder (default: DIR/features/as_of=DATE/ or DIR/features/table=NAME/).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory for the demo (its raw data is replaced).
    #[arg(long, default_value = "churn-demo")]
    pub dir: PathBuf,
    /// Customers to simulate.
    #[arg(long, default_value_t = 5_000)]
    pub customers: u64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Share of rows with injected dirt, to see quarantine at work.
    #[arg(long, default_value_t = 0.01)]
    pub dirt: f64,
    /// Label horizon in days.
    #[arg(long, default_value_t = 90)]
    pub horizon: u32,
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
        Command::Features(args) => features(args, &bars),
        Command::Demo(args) => demo(args, &bars),
        Command::Docs { page } => {
            match page {
                DocsPage::Contract => print!("{}", contract::render_markdown()),
                DocsPage::Features => print!("{}", features::catalog::render_markdown()),
            }
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

fn features(args: FeaturesArgs, bars: &Bars) -> Result<()> {
    bars.begin("features", None, "");
    let summary = features_inner(&args);
    bars.end();
    report_features(&summary?);
    Ok(())
}

fn features_inner(args: &FeaturesArgs) -> Result<FeatureSummary> {
    let summary = if let Some(as_of) = &args.as_of {
        let as_of = parse_date(as_of, "--as-of")?;
        let store = Store::new(&args.dir);
        features::build_as_of(&store, as_of, args.horizon, args.out.as_deref())
            .context("features failed")?
    } else {
        let stem = args
            .table
            .first()
            .and_then(|path| path.file_stem())
            .and_then(|stem| stem.to_str())
            .unwrap_or("table")
            .to_owned();
        let options = TableOptions {
            tables: args.table.clone(),
            id: args.id.clone().unwrap_or_default(),
            target: args.target.clone().unwrap_or_default(),
            positive: args.positive.clone(),
            out: args
                .out
                .clone()
                .unwrap_or_else(|| args.dir.join(format!("features/table={stem}"))),
        };
        features::table::build_from_tables(&options).context("features failed")?
    };
    Ok(summary)
}

fn report_features(summary: &FeatureSummary) {
    for warning in &summary.warnings {
        warn!("{warning}");
    }
    info!(
        rows = summary.rows,
        features = summary.features,
        positives = summary.positives,
        labelled = summary.labelled,
        dir = summary.dir.as_str(),
        "feature table written"
    );
}

fn demo(args: DemoArgs, bars: &Bars) -> Result<()> {
    let store = Store::new(&args.dir);
    let config = GenerateConfig {
        customers: args.customers,
        seed: args.seed,
        dirt_rate: args.dirt,
        overwrite: true,
        ..GenerateConfig::default()
    };
    let started = std::time::Instant::now();
    let manifest = generate::generate(&store, &config, bars).context("generate failed")?;
    let raw_rows: u64 = manifest.sources.values().map(|s| s.rows_written).sum();
    let report = churn_pipeline::ingest::ingest(&store, &IngestOptions::default(), bars)
        .context("ingest failed")?;
    let sum = |f: fn(&churn_pipeline::ingest::SourceReport) -> u64| -> u64 {
        report.sources.values().map(f).sum()
    };
    // The latest as-of date whose labels the data fully covers.
    let as_of = config.end_date - chrono::Duration::days(i64::from(args.horizon) - 1);
    let summary =
        features::build_as_of(&store, as_of, args.horizon, None).context("features failed")?;
    let dir = store.root().display();
    println!(
        "churn demo: {} customers, seed {}, in {dir}/ ({:.1} s)",
        args.customers,
        args.seed,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  raw data       {dir}/raw/                      {raw_rows} rows in 6 sources, {:.0}% with injected dirt",
        args.dirt * 100.0
    );
    println!(
        "  ingest         {dir}/reports/ingest-report.json  {} curated, {} quarantined (see {dir}/quarantine/), {} duplicates dropped; balanced: {}",
        sum(|s| s.curated),
        sum(|s| s.quarantined),
        sum(|s| s.duplicates),
        report.balanced
    );
    println!(
        "  features       {}/features.parquet  {} customers active on {as_of} x {} features; {} ({:.1}%) churned within {} days",
        summary.dir,
        summary.rows,
        summary.features,
        summary.positives,
        100.0 * summary.positives as f64 / summary.labelled.max(1) as f64,
        args.horizon
    );
    println!("  feature spec   {}/feature_spec.json", summary.dir);
    Ok(())
}
