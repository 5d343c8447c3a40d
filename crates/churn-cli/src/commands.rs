//! The subcommands and their flags.

use std::path::PathBuf;

use anyhow::{Context, Result};
use churn_core::Tier;
use churn_pipeline::contract;
use churn_pipeline::dates::parse_date;
use churn_pipeline::evaluate::Evaluation;
use churn_pipeline::features::{self, FeatureSummary, table::TableOptions};
use churn_pipeline::generate::{self, GenerateConfig};
use churn_pipeline::ingest::IngestOptions;
use churn_pipeline::models;
use churn_pipeline::predict::{PredictOptions, PredictSummary};
use churn_pipeline::store::{RawFormat, Store};
use churn_pipeline::train::calibrate::CalibrationKind;
use churn_pipeline::train::encode::ScalingKind;
use churn_pipeline::train::family::Family;
use churn_pipeline::train::threshold::ThresholdRule;
use churn_pipeline::train::{ClassWeight, OptionError, SelectionMetric, TrainOptions};
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
    /// Train logistic regression, random forest and boosted trees with cross-validated
    /// tuning; keep the best model.
    Train(TrainArgs),
    /// Score the held-out rows with every family and write report.html and metrics.json.
    Evaluate(EvaluateArgs),
    /// Score a feature table: probabilities, tiers, reasons and a ranked high-risk list.
    Predict(PredictArgs),
    /// Plan the day's retention actions from a prediction run with a playbook; send them
    /// to the CRM and messaging providers with --send.
    Actions(crate::actions::ActionsArgs),
    /// Generate a small data set and run every stage on it, up to a dry-run retention
    /// plan, printing where outputs are.
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
pub struct TrainArgs {
    /// Feature folder (holding features.parquet and feature_spec.json).
    #[arg(long)]
    pub features: PathBuf,
    /// Model folder to write (default: DIR/models/MODEL_ID/).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Data directory, for the default output folder.
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// Seed of the split, the folds and every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Families to train: lr, rf, gbdt (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "lr,rf,gbdt")]
    pub families: Vec<String>,
    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Share of labelled rows held out for the test split.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// A file of customer ids (one per line) to use as the test split instead.
    #[arg(long)]
    pub test_ids: Option<PathBuf>,
    /// Hyperparameter configs tried per family, defaults included, as lr,rf,gbdt.
    #[arg(long, value_delimiter = ',', default_value = "8,3,16")]
    pub trials: Vec<usize>,
    /// Stop starting new trials after this many seconds (results then depend on the
    /// machine's speed).
    #[arg(long)]
    pub time_budget: Option<f64>,
    /// Metric that picks configs and the champion: roc-auc or pr-auc.
    #[arg(long, default_value = "roc-auc")]
    pub metric: String,
    /// Calibration fitted on out-of-fold predictions: platt, isotonic or none.
    #[arg(long, default_value = "platt")]
    pub calibration: String,
    /// Decision threshold: f1 (best F1), recall:0.80 (flag that share of churners), or
    /// profit (with --offer-cost, --customer-value, --save-rate).
    #[arg(long, default_value = "f1")]
    pub threshold: String,
    /// Cost of a retention offer (profit threshold).
    #[arg(long, default_value_t = 100.0)]
    pub offer_cost: f64,
    /// Value of keeping a churner (profit threshold).
    #[arg(long, default_value_t = 500.0)]
    pub customer_value: f64,
    /// Share of flagged churners an offer keeps (profit threshold).
    #[arg(long, default_value_t = 0.3)]
    pub save_rate: f64,
    /// Weight churners to balance the classes.
    #[arg(long)]
    pub balanced: bool,
    /// Scale linear-model inputs to 0..1 instead of standardising them.
    #[arg(long)]
    pub min_max: bool,
    /// Cross-validate the search on a stratified sample of at most this many training
    /// rows (the final models use them all).
    #[arg(long, default_value_t = 100_000)]
    pub search_rows: usize,
    /// Refit each selected boosting config with this many seeds and average them (a
    /// steadier model on small data; scoring costs that many times the trees). Train
    /// splits above 100,000 rows refit once.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub bags: u16,
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Model folder written by `churn train`.
    #[arg(long)]
    pub model: PathBuf,
    /// A labelled feature folder to score instead of the training test split.
    #[arg(long)]
    pub features: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Model folder (or a model.json / model.bin file).
    #[arg(long)]
    pub model: PathBuf,
    /// Feature folder or Parquet table to score.
    #[arg(long)]
    pub features: PathBuf,
    /// Output folder (e.g. DIR/predictions/dt=2026-11-25/).
    #[arg(long)]
    pub out: PathBuf,
    /// Reason codes per customer (0 to skip explanations, much faster).
    #[arg(long, default_value_t = 3)]
    pub reasons: usize,
    /// Explain customers from this tier up: high (the list a CRM acts on), medium, or low
    /// (everyone; exact TreeSHAP costs about a millisecond per customer for a large model).
    #[arg(long, default_value = "high")]
    pub reasons_from: String,
    /// Keep only the riskiest N customers in the high-risk list.
    #[arg(long)]
    pub top: Option<usize>,
    /// Rows scored per slice (bounds memory).
    #[arg(long, default_value_t = 100_000)]
    pub batch_rows: usize,
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
    /// Hyperparameter configs tried per family, as lr,rf,gbdt.
    #[arg(long, value_delimiter = ',', default_value = "8,3,16")]
    pub trials: Vec<usize>,
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
        Command::Train(args) => train(args, &bars).map(|_| ()),
        Command::Evaluate(args) => evaluate(args).map(|_| ()),
        Command::Predict(args) => predict(args, &bars).map(|_| ()),
        Command::Actions(args) => crate::actions::run(args).map(|_| ()),
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
    // Train on the latest as-of date whose labels the data covers; predict as of the day
    // after the data ends.
    let as_of = config.end_date - chrono::Duration::days(i64::from(args.horizon) - 1);
    let training_table =
        features::build_as_of(&store, as_of, args.horizon, None).context("features failed")?;
    let today = config.end_date + chrono::Duration::days(1);
    let scoring_table =
        features::build_as_of(&store, today, args.horizon, None).context("features failed")?;
    let model_dir = train(
        TrainArgs {
            features: PathBuf::from(&training_table.dir),
            out: None,
            dir: args.dir.clone(),
            seed: args.seed,
            families: vec!["lr".into(), "rf".into(), "gbdt".into()],
            folds: 5,
            test_fraction: 0.2,
            test_ids: None,
            trials: args.trials.clone(),
            time_budget: None,
            metric: "roc-auc".into(),
            calibration: "platt".into(),
            threshold: "f1".into(),
            offer_cost: 100.0,
            customer_value: 500.0,
            save_rate: 0.3,
            balanced: false,
            min_max: false,
            search_rows: 100_000,
            bags: 3,
        },
        bars,
    )?;
    let evaluation = evaluate(EvaluateArgs {
        model: model_dir.clone(),
        features: None,
    })?;
    let predictions = store.path(&format!("predictions/dt={today}"));
    let summary = predict(
        PredictArgs {
            model: model_dir.clone(),
            features: PathBuf::from(&scoring_table.dir),
            out: predictions.clone(),
            reasons: 3,
            reasons_from: "high".into(),
            top: None,
            batch_rows: 100_000,
        },
        bars,
    )?;

    let dir = store.root().display();
    println!(
        "churn demo: {} customers, seed {}, in {dir}/ ({:.1} s)",
        args.customers,
        args.seed,
        started.elapsed().as_secs_f64()
    );
    println!(
        "  raw data      {dir}/raw/  {raw_rows} rows in 6 sources, {:.0}% with injected dirt",
        args.dirt * 100.0
    );
    println!(
        "  ingest        {dir}/reports/ingest-report.json  {} curated, {} quarantined (see {dir}/quarantine/), {} duplicates dropped; balanced: {}",
        sum(|s| s.curated),
        sum(|s| s.quarantined),
        sum(|s| s.duplicates),
        report.balanced
    );
    println!(
        "  features      {}/  {} customers active on {as_of} x {} features; {} ({:.1}%) churned within {} days",
        training_table.dir,
        training_table.rows,
        training_table.features,
        training_table.positives,
        100.0 * training_table.positives as f64 / training_table.labelled.max(1) as f64,
        args.horizon
    );
    println!("  model         {}/model.json", model_dir.display());
    println!("  report        {}", evaluation.report);
    for family in &evaluation.families {
        let m = &family.held_out;
        println!(
            "    {:<20} ROC-AUC {:.3}  PR-AUC {:.3}  precision {:.2}  recall {:.2}  F1 {:.2}{}",
            family.family,
            m.roc_auc,
            m.pr_auc,
            m.precision,
            m.recall,
            m.f1,
            if family.family == evaluation.champion {
                "  <- champion"
            } else {
                ""
            }
        );
    }
    println!(
        "  predictions   {}/  {} customers active on {today} scored; {} high risk",
        predictions.display(),
        summary.rows,
        summary.high_risk
    );
    let list = predictions.join("high_risk.csv");
    let text = std::fs::read_to_string(&list).unwrap_or_default();
    println!("  top of the high-risk list ({}):", list.display());
    for line in text.lines().take(6) {
        println!("    {line}");
    }

    // The retention plan of the day, with the example playbook (a dry run: nothing is
    // sent without connections).
    let playbook = store.path("playbook.toml");
    std::fs::write(&playbook, crate::actions::EXAMPLE_PLAYBOOK)
        .with_context(|| format!("writing {}", playbook.display()))?;
    println!();
    crate::actions::run(crate::actions::ActionsArgs {
        predictions,
        playbook,
        connections: None,
        send: false,
        dir: args.dir.clone(),
        features: None,
        date: None,
    })?;
    Ok(())
}

fn train_options(args: &TrainArgs) -> Result<TrainOptions> {
    let mut families = Vec::new();
    for name in &args.families {
        families.push(
            Family::parse(name)
                .with_context(|| format!("unknown family '{name}': use lr, rf or gbdt"))?,
        );
    }
    let defaults = TrainOptions::default();
    let mut trials = defaults.trials.clone();
    for (family, count) in Family::ALL.iter().zip(&args.trials) {
        trials.insert(*family, (*count).max(1));
    }
    let threshold = match args.threshold.as_str() {
        "f1" => ThresholdRule::MaxF1,
        "profit" => ThresholdRule::MaxProfit {
            offer_cost: args.offer_cost,
            customer_value: args.customer_value,
            save_rate: args.save_rate,
        },
        other => match other
            .strip_prefix("recall:")
            .and_then(|r| r.parse::<f64>().ok())
        {
            Some(recall) if (0.0..=1.0).contains(&recall) => ThresholdRule::TargetRecall(recall),
            _ => anyhow::bail!("--threshold {other}: use f1, recall:0.80 or profit"),
        },
    };
    let test_ids = match &args.test_ids {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
                .lines()
                .map(|line| line.trim().to_owned())
                .filter(|line| !line.is_empty())
                .collect(),
        ),
        None => None,
    };
    Ok(TrainOptions {
        seed: args.seed,
        folds: args.folds,
        test_fraction: args.test_fraction,
        test_ids,
        families,
        trials,
        time_budget: args.time_budget.map(std::time::Duration::from_secs_f64),
        metric: match args.metric.as_str() {
            "roc-auc" | "roc_auc" | "auc" => SelectionMetric::RocAuc,
            "pr-auc" | "pr_auc" | "average-precision" => SelectionMetric::PrAuc,
            other => anyhow::bail!("--metric {other}: use roc-auc or pr-auc"),
        },
        calibration: match args.calibration.as_str() {
            "platt" => CalibrationKind::Platt,
            "isotonic" => CalibrationKind::Isotonic,
            "none" => CalibrationKind::None,
            other => anyhow::bail!("--calibration {other}: use platt, isotonic or none"),
        },
        threshold,
        scaling: if args.min_max {
            ScalingKind::MinMax
        } else {
            ScalingKind::Standard
        },
        class_weight: if args.balanced {
            ClassWeight::Balanced
        } else {
            ClassWeight::None
        },
        trained_at: now_utc(),
        search_rows: args.search_rows.max(100),
        bags: usize::from(args.bags),
    })
}

/// The current UTC time as an ISO timestamp (for lineage; the pipeline reads no clock).
fn now_utc() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An option the pipeline refused, named by the flag that set it (every option's field
/// is spelt as its flag, with `_` for `-`).
fn flag_error(error: OptionError) -> anyhow::Error {
    anyhow::anyhow!("--{} {}", error.field.replace('_', "-"), error.message)
}

fn train(args: TrainArgs, bars: &Bars) -> Result<PathBuf> {
    let options = train_options(&args)?.validate().map_err(flag_error)?;
    let (outcome, dir) = models::train_dir(
        &args.features,
        &options,
        args.out.as_deref(),
        &args.dir.join("models"),
        bars,
    )
    .context("train failed")?;
    for warning in &outcome.warnings {
        warn!("{warning}");
    }
    for family in &outcome.families {
        info!(
            family = family.family.as_str(),
            cv = format!("{:.4}", family.cv_metric),
            test_roc_auc = format!("{:.4}", family.test.roc_auc),
            trials = family.trials.len(),
            "trained"
        );
    }
    info!(
        champion = outcome.champion.as_str(),
        seconds = format!("{:.1}", outcome.seconds.get("total").copied().unwrap_or(0.0)),
        model = %dir.display(),
        "model written"
    );
    Ok(dir)
}

fn evaluate(args: EvaluateArgs) -> Result<Evaluation> {
    let evaluation = churn_pipeline::evaluate::evaluate(&args.model, args.features.as_deref())
        .context("evaluate failed")?;
    info!(
        report = evaluation.report.as_str(),
        rows = evaluation.rows,
        champion = evaluation.champion.as_str(),
        roc_auc = format!("{:.4}", evaluation.families[0].held_out.roc_auc),
        "evaluation written"
    );
    Ok(evaluation)
}

fn predict(args: PredictArgs, bars: &Bars) -> Result<PredictSummary> {
    let options = PredictOptions {
        batch_rows: args.batch_rows.max(1),
        reasons: args.reasons,
        reasons_from: match args.reasons_from.as_str() {
            "high" => Tier::High,
            "medium" => Tier::Medium,
            "low" | "all" => Tier::Low,
            other => anyhow::bail!("--reasons-from {other}: use high, medium or low"),
        },
        max_high_risk: args.top,
    }
    .validate()
    .map_err(flag_error)?;
    let summary =
        churn_pipeline::predict::predict(&args.model, &args.features, &args.out, &options, bars)
            .context("predict failed")?;
    for warning in &summary.warnings {
        warn!("{warning}");
    }
    info!(
        rows = summary.rows,
        high_risk = summary.high_risk,
        seconds = format!("{:.1}", summary.seconds),
        out = %args.out.display(),
        "predictions written"
    );
    Ok(summary)
}
