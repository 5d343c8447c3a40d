//! The flags of each subcommand and the use case it runs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use churn_core::layout;
use churn_pipeline::dates::parse_date;
use churn_pipeline::evaluate::Evaluation;
use churn_pipeline::features::{self, FeatureSummary};
use churn_pipeline::generate::{self, GenerateConfig};
use churn_pipeline::ingest::IngestOptions;
use churn_pipeline::models;
use churn_pipeline::predict::{PredictOptions, PredictSummary, ValidPredictOptions};
use churn_pipeline::store::Store;
use churn_pipeline::train::encode::ScalingKind;
use churn_pipeline::train::family::Family;
use churn_pipeline::train::threshold::ThresholdRule;
use churn_pipeline::train::{ClassWeight, OptionError, TrainOptions, ValidTrainOptions};
use clap::Args;
use clap::builder::TypedValueParser as _;
use tracing::{info, warn};

use churn_pipeline::progress::Progress;

use crate::progress::Bars;
use crate::table::TableFlags;
use crate::values::{CalibrationArg, FamilyArg, FormatArg, MetricArg, TierArg};

/// The library's defaults, which the flags show and fall back to.
pub(crate) fn generate_defaults() -> GenerateConfig {
    GenerateConfig::default()
}

pub(crate) fn train_defaults() -> TrainOptions {
    TrainOptions::default()
}

pub(crate) fn predict_defaults() -> PredictOptions {
    PredictOptions::default()
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of customers to simulate.
    #[arg(long, default_value_t = generate_defaults().customers)]
    pub customers: u64,
    /// Seed of the simulation: the same seed and flags give the same files.
    #[arg(long, default_value_t = generate_defaults().seed)]
    pub seed: u64,
    /// Data directory to write raw/SOURCE/ into.
    #[arg(long, visible_alias = "dir", default_value = "churn-data")]
    pub out: PathBuf,
    /// File format of the raw files.
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub format: FormatArg,
    /// Last day of the history (the extract date), YYYY-MM-DD.
    #[arg(long, default_value_t = generate_defaults().end_date.to_string())]
    pub end_date: String,
    /// Length of the history in months.
    #[arg(long, default_value_t = generate_defaults().history_months)]
    pub history_months: u32,
    /// Probability that a row carries injected dirt (missing, unparseable, out-of-range
    /// and unknown values, duplicates, key conflicts, broken lines, bad UTF-8, outliers,
    /// stray quotes, future dates); with dirt, some files are CRLF or gzip/zstd too.
    #[arg(long, default_value_t = generate_defaults().dirt_rate)]
    pub dirt: f64,
    /// Customers per raw file (each source is split into parts).
    #[arg(long, default_value_t = generate_defaults().customers_per_file)]
    pub customers_per_file: u64,
    /// Replace raw data already in the directory.
    #[arg(long)]
    pub force: bool,
    /// A change of the population from a day on, as KIND@DATE=VALUE (repeatable):
    /// price-rise@2026-08-01=1.2, usage-decline@2026-08-01=0.6,
    /// new-plan@2026-08-01=family, null-column@2026-08-01=sessions.data_used_mb. Rows
    /// before the day are the undrifted data of the same seed.
    #[arg(long, value_name = "KIND@DATE=VALUE")]
    pub drift: Vec<generate::Drift>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Data directory holding raw/SOURCE/ files.
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// Rows per chunk while reading: lower it to use less memory.
    #[arg(long, default_value_t = churn_pipeline::ingest::DEFAULT_CHUNK_ROWS, value_parser = clap::value_parser!(u32).range(1..).map(|n| n as usize))]
    pub chunk_rows: usize,
    /// The day the data is taken as of, YYYY-MM-DD: a row with an event after it (a
    /// session, a churn, a payment) is quarantined as "future". Default: today (UTC).
    #[arg(long)]
    pub reference_date: Option<String>,
    /// Minutes without app events (raw/events/) that end a session: a customer's events
    /// closer together than this make one session of the sessions source.
    #[arg(long, default_value_t = churn_pipeline::ingest::events::DEFAULT_SESSION_GAP_MINUTES, value_parser = clap::value_parser!(u32).range(1..=1440))]
    pub session_gap_minutes: u32,
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
    #[arg(long, default_value_t = features::DEFAULT_HORIZON_DAYS)]
    pub horizon: u32,
    /// A flat table (CSV or Parquet) with one row per customer; repeat to join several
    /// tables on --id.
    #[arg(long)]
    pub table: Vec<PathBuf>,
    #[command(flatten)]
    pub columns: TableFlags,
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
    #[command(flatten)]
    pub options: TrainFlags,
}

/// The flags of a training run (shared by `train` and `demo`'s defaults).
#[derive(Debug, Clone, Args)]
pub struct TrainFlags {
    /// Seed of the split, the folds and every random choice.
    #[arg(long, default_value_t = train_defaults().seed)]
    pub seed: u64,
    /// Families to train (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [FamilyArg::Lr, FamilyArg::Rf, FamilyArg::Gbdt])]
    pub families: Vec<FamilyArg>,
    /// Cross-validation folds.
    #[arg(long, default_value_t = train_defaults().folds)]
    pub folds: usize,
    /// Share of labelled rows held out for the test split.
    #[arg(long, default_value_t = train_defaults().test_fraction)]
    pub test_fraction: f64,
    /// A file of customer ids (one per line) to use as the test split instead.
    #[arg(long)]
    pub test_ids: Option<PathBuf>,
    /// Hyperparameter configs tried per family, defaults included, as lr,rf,gbdt.
    #[arg(long, value_delimiter = ',', default_values_t = Family::ALL.map(|f| train_defaults().trials[&f]))]
    pub trials: Vec<usize>,
    /// Stop starting new trials after this many seconds (results then depend on the
    /// machine's speed).
    #[arg(long)]
    pub time_budget: Option<f64>,
    /// Metric that picks configs and the champion.
    #[arg(long, value_enum, default_value_t = MetricArg::RocAuc)]
    pub metric: MetricArg,
    /// Calibration fitted on out-of-fold predictions.
    #[arg(long, value_enum, default_value_t = CalibrationArg::Platt)]
    pub calibration: CalibrationArg,
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
    #[arg(long, default_value_t = train_defaults().search_rows)]
    pub search_rows: usize,
    /// Refit each selected boosting config with this many seeds and average them (a
    /// steadier model on small data; scoring costs that many times the trees). Train
    /// splits above 100,000 rows refit once.
    #[arg(long, default_value_t = train_defaults().bags as u16, value_parser = clap::value_parser!(u16).range(1..))]
    pub bags: u16,
    /// Deploy the champion fitted on the train split (the model the test figures
    /// describe) instead of refitting its configuration on every labelled row.
    #[arg(long)]
    pub train_split_only: bool,
    /// Train even when one feature alone separates churners from stayers almost
    /// perfectly (a leak of the label), which is otherwise refused.
    #[arg(long)]
    pub allow_leaky: bool,
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
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["features", "predictions", "actions"])))]
pub struct MonitorArgs {
    /// Model folder written by `churn train` (its profile.json is the reference).
    #[arg(long)]
    pub model: PathBuf,
    /// Feature folder to compare with the training table (data drift; labels not needed).
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// Prediction folder (`predictions/dt=<date>`), repeatable: the latest is compared
    /// with the model's scores at training, each day's accuracy is measured once its
    /// labels have matured and estimated before.
    #[arg(long)]
    pub predictions: Vec<PathBuf>,
    /// A day of sent actions (`actions/dt=<date>`), repeatable: once its outcomes have
    /// matured, the retention of the customers acted on is compared with the control
    /// group's (the playbook's control_share), per action and tier.
    #[arg(long)]
    pub actions: Vec<PathBuf>,
    /// Data directory whose curated churn labels measure matured predictions and actions.
    #[arg(long, default_value = "churn-data")]
    pub dir: PathBuf,
    /// ROC-AUC below which accuracy counts as degraded [default: the test split's at
    /// training minus 0.05].
    #[arg(long, value_parser = unit_interval)]
    pub auc_floor: Option<f64>,
    /// PSI at which a feature (and the scores) warns.
    #[arg(long, default_value_t = churn_core::drift::PSI_WARN)]
    pub psi_warn: f64,
    /// PSI at which a feature (and the scores) alerts.
    #[arg(long, default_value_t = churn_core::drift::PSI_ALERT)]
    pub psi_alert: f64,
    /// Thresholds of one feature, as NAME=WARN,ALERT (repeatable): a volatile column may
    /// warn later, a key one earlier.
    #[arg(long, value_name = "NAME=WARN,ALERT", value_parser = churn_pipeline::monitor::Band::parse_named)]
    pub feature_psi: Vec<(String, churn_pipeline::monitor::Band)>,
    /// A feature at alert whose share of the model's importance (1 for the most
    /// important) is below this is reported but does not raise the drift finding.
    #[arg(long, value_parser = unit_interval, default_value_t = churn_pipeline::monitor::data::DEFAULT_MIN_IMPORTANCE)]
    pub min_importance: f64,
    /// Where to write monitor.json and report.html [default:
    /// DIR/monitoring/dt=<the latest prediction day, or the features' as_of, or the
    /// latest day of actions>].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn unit_interval(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text}: use a number from 0 to 1")),
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["features", "table"])))]
pub struct PredictArgs {
    /// Model folder (or a model.json / model.bin file).
    #[arg(long)]
    pub model: PathBuf,
    /// Feature folder or Parquet table to score.
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// A flat table (CSV or Parquet) of customers to score, read with the model's own
    /// feature spec (its features are written to OUT/features/); repeat to join tables.
    #[arg(long, conflicts_with = "features")]
    pub table: Vec<PathBuf>,
    /// The customer-id column of --table (default: the model's).
    #[arg(long, requires = "table")]
    pub id: Option<String>,
    /// Output folder (e.g. DIR/predictions/dt=2026-11-25/).
    #[arg(long)]
    pub out: PathBuf,
    /// Reason codes per customer (0 to skip explanations, much faster).
    #[arg(long, default_value_t = predict_defaults().reasons)]
    pub reasons: usize,
    /// Explain customers from this tier up: high (the list a CRM acts on), medium, or low
    /// (everyone; at a million customers of a large model, minutes rather than seconds).
    #[arg(long, value_enum, default_value_t = predict_defaults().reasons_from.into())]
    pub reasons_from: TierArg,
    /// Keep only the riskiest N customers in the high-risk list.
    #[arg(long)]
    pub top: Option<usize>,
    /// Rows scored per slice (bounds memory).
    #[arg(long, default_value_t = predict_defaults().batch_rows)]
    pub batch_rows: usize,
    /// The column whose value is a customer's segment in the day's customer list (the
    /// dashboard's segment filter); a table without it lists no segments.
    #[arg(long, default_value_t = predict_defaults().segment_feature)]
    pub segment_feature: String,
    /// A challenger's model folder, scored in shadow into OUT/challenger=MODEL_ID/
    /// (scores only; the high-risk list is --model's); `churn monitor` compares the two
    /// once the labels mature. Repeatable.
    #[arg(long, value_name = "MODEL")]
    pub shadow: Vec<PathBuf>,
}

pub(crate) fn generate(args: GenerateArgs, bars: &Bars) -> Result<()> {
    let config = GenerateConfig {
        customers: args.customers,
        seed: args.seed,
        format: args.format.into(),
        end_date: parse_date(&args.end_date, "--end-date")?,
        history_months: args.history_months,
        dirt_rate: args.dirt,
        customers_per_file: args.customers_per_file,
        overwrite: args.force,
        drift: args.drift,
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
        dir = %store.at(&layout::root(layout::RAW)).display(),
        "generated raw data"
    );
    Ok(())
}

pub(crate) fn ingest(args: IngestArgs, bars: &Bars) -> Result<()> {
    let store = Store::new(&args.dir);
    let reference_date = match &args.reference_date {
        Some(text) => parse_date(text, "--reference-date")?,
        None => today_utc(),
    };
    let options = IngestOptions {
        chunk_rows: args.chunk_rows,
        reference_date,
        session_gap_minutes: args.session_gap_minutes,
    };
    let started = std::time::Instant::now();
    let report = churn_pipeline::ingest::ingest(&store, &options, bars).context("ingest failed")?;
    let quarantined = report.quarantined();
    if let Some(events) = &report.events {
        info!(
            events = events.rows.rows_in,
            sessionised = events.rows.curated,
            quarantined = events.rows.quarantined,
            duplicates = events.rows.duplicates,
            sessions = events.sessions,
            gap_minutes = events.session_gap_minutes,
            "app events sessionised"
        );
    }
    info!(
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        %reference_date,
        quarantined,
        version = report.version.as_str(),
        report = %store.at(&layout::ingest_report(&report.version)).display(),
        curated = %store.at(&layout::version_folder(layout::CURATED, &report.version)).display(),
        "ingest finished"
    );
    if quarantined > 0 {
        info!(dir = %store.at(&layout::version_folder(layout::QUARANTINE, &report.version)).display(), "quarantined rows are listed with file, line and reason");
    }
    Ok(())
}

pub(crate) fn features(args: FeaturesArgs, bars: &Bars) -> Result<()> {
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
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| Store::new(&args.dir).at(&layout::features_table(&stem)));
        let options = args.columns.options(&args.table, out)?;
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

/// `--trials` as lr,rf,gbdt counts (validation refuses 0).
pub(crate) fn apply_trials(options: &mut TrainOptions, trials: &[usize]) {
    for (family, count) in Family::ALL.iter().zip(trials) {
        options.trials.insert(*family, *count);
    }
}

fn train_options(flags: &TrainFlags) -> Result<TrainOptions> {
    let threshold = match flags.threshold.as_str() {
        "f1" => ThresholdRule::MaxF1,
        "profit" => ThresholdRule::MaxProfit {
            offer_cost: flags.offer_cost,
            customer_value: flags.customer_value,
            save_rate: flags.save_rate,
        },
        other => match other
            .strip_prefix("recall:")
            .and_then(|r| r.parse::<f64>().ok())
        {
            Some(recall) if (0.0..=1.0).contains(&recall) => ThresholdRule::TargetRecall(recall),
            _ => anyhow::bail!("--threshold {other}: use f1, recall:0.80 or profit"),
        },
    };
    let test_ids = match &flags.test_ids {
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
    let mut options = TrainOptions {
        seed: flags.seed,
        folds: flags.folds,
        test_fraction: flags.test_fraction,
        test_ids,
        families: flags.families.iter().map(|f| Family::from(*f)).collect(),
        time_budget: flags.time_budget.map(std::time::Duration::from_secs_f64),
        metric: flags.metric.into(),
        calibration: flags.calibration.into(),
        threshold,
        scaling: if flags.min_max {
            ScalingKind::MinMax
        } else {
            ScalingKind::Standard
        },
        class_weight: if flags.balanced {
            ClassWeight::Balanced
        } else {
            ClassWeight::None
        },
        trained_at: now_utc(),
        search_rows: flags.search_rows,
        bags: usize::from(flags.bags),
        refit_on_all_rows: !flags.train_split_only,
        allow_leaky: flags.allow_leaky,
        ..train_defaults()
    };
    apply_trials(&mut options, &flags.trials);
    Ok(options)
}

/// Today's date in UTC: the default reference date of an ingest (the pipeline reads no
/// clock, so the CLI passes it).
fn today_utc() -> chrono::NaiveDate {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.date_naive())
        .unwrap_or_default()
}

/// The current UTC time as an ISO timestamp (for lineage; the pipeline reads no clock).
pub(crate) fn now_utc() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// An option the pipeline refused, named by the flag that set it (every option's field
/// is spelt as its flag, with `_` for `-`).
pub(crate) fn flag_error(error: OptionError) -> anyhow::Error {
    anyhow::anyhow!("--{} {}", error.field.replace('_', "-"), error.message)
}

pub(crate) fn train(args: TrainArgs, bars: &Bars) -> Result<PathBuf> {
    let options = train_options(&args.options)?
        .validate()
        .map_err(flag_error)?;
    train_with(
        &options,
        &args.features,
        args.out.as_deref(),
        &args.dir,
        bars,
    )
}

pub(crate) fn train_with(
    options: &ValidTrainOptions,
    features: &std::path::Path,
    out: Option<&std::path::Path>,
    dir: &std::path::Path,
    bars: &Bars,
) -> Result<PathBuf> {
    let models = Store::new(dir).at(&layout::root(layout::MODELS));
    let (outcome, dir) =
        models::train_dir(features, options, out, &models, bars).context("train failed")?;
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
        fitted_on_rows = outcome.final_rows,
        seconds = format!("{:.1}", outcome.seconds.get("total").copied().unwrap_or(0.0)),
        model = %dir.display(),
        "model written"
    );
    Ok(dir)
}

pub(crate) fn evaluate(args: EvaluateArgs) -> Result<Evaluation> {
    let evaluation = churn_pipeline::evaluate::evaluate(&args.model, args.features.as_deref())
        .context("evaluate failed")?;
    info!(
        report = evaluation.report.as_str(),
        rows = evaluation.rows,
        champion = evaluation.champion.as_str(),
        predicts = evaluation.horizon.as_str(),
        roc_auc = format!("{:.4}", evaluation.families[0].held_out.roc_auc),
        "evaluation written"
    );
    Ok(evaluation)
}

pub(crate) fn monitor(args: MonitorArgs) -> Result<churn_pipeline::monitor::MonitorReport> {
    use churn_pipeline::monitor::{self, MonitorRequest};
    let report = monitor::monitor(&MonitorRequest {
        model_dir: args.model.clone(),
        features: args.features.clone(),
        predictions: args.predictions.clone(),
        actions: args.actions.clone(),
        data: Some(args.dir.clone()),
        auc_floor: args.auc_floor,
        thresholds: churn_pipeline::monitor::Thresholds {
            default: churn_pipeline::monitor::Band {
                warn: args.psi_warn,
                alert: args.psi_alert,
            },
            features: args.feature_psi.iter().cloned().collect(),
            min_importance: args.min_importance,
        },
        earlier: Vec::new(),
        earlier_shadow: Vec::new(),
    })
    .context("monitor failed")?;
    let out = match (&args.out, &report.date) {
        (Some(out), _) => out.clone(),
        (None, Some(date)) => {
            let day = parse_date(date, "the monitored day")?;
            Store::new(&args.dir).at(&layout::monitoring(&day))
        }
        (None, None) => anyhow::bail!(
            "monitor: cannot tell which day this is (the feature folder is not named as_of=<date> and no --predictions were given): pass --out"
        ),
    };
    monitor::write(&out, &report).context("monitor failed")?;
    if let Some(drift) = &report.data_drift {
        for feature in drift.features.iter().take(10) {
            info!(
                feature = feature.name.as_str(),
                psi = feature
                    .psi
                    .map_or_else(|| "no values".to_owned(), |p| format!("{p:.3}")),
                level = format!("{:?}", feature.level).to_lowercase(),
                importance = feature.importance.map(|i| format!("{i:.2}")),
                new_categories = feature.new_categories.len(),
                "drift"
            );
        }
        if !drift.changed_kind.is_empty() {
            warn!(
                features = drift.changed_kind.join(", "),
                "features whose kind changed since training (not comparable)"
            );
        }
        if !drift.missing_features.is_empty() {
            warn!(
                missing = drift.missing_features.join(", "),
                "features the model reads are absent"
            );
        }
    }
    if let Some(scores) = &report.prediction_drift {
        info!(
            date = scores.date.as_str(),
            psi = scores.psi.map(|p| format!("{p:.3}")),
            level = format!("{:?}", scores.level).to_lowercase(),
            mean = format!("{:.3} -> {:.3}", scores.mean[0], scores.mean[1]),
            "prediction drift"
        );
    }
    for day in &report.accuracy {
        info!(
            date = day.date.as_str(),
            estimated_roc_auc = day.estimated.roc_auc.map(|a| format!("{a:.4}")),
            realised_roc_auc = day
                .realised
                .as_ref()
                .and_then(|r| r.roc_auc)
                .map(|a| format!("{a:.4}")),
            matures_on = day.matures_on.as_str(),
            "accuracy"
        );
    }
    for effect in report
        .actions
        .iter()
        .flat_map(|a| &a.effects)
        .filter(|e| e.tier.is_none())
    {
        let uplift = effect.uplift.as_ref();
        info!(
            action = effect.action.as_str(),
            treated = effect.treated.customers,
            control = effect.control.customers,
            uplift =
                uplift.map(|u| format!("{:+.3} [{:+.3}, {:+.3}]", u.difference, u.low, u.high)),
            save_rate = uplift.and_then(|u| u.save_rate).map(|r| format!("{r:.3}")),
            assumed = effect.assumed_save_rate.map(|r| format!("{r:.3}")),
            "action effect"
        );
    }
    for warning in &report.warnings {
        warn!("{warning}");
    }
    if !report.findings.overrated_actions.is_empty() {
        warn!(
            actions = report.findings.overrated_actions.join(", "),
            "actions doing less than the playbook assumes (realised save rate below the assumed one, 95 % confidence): lower their save_rate"
        );
    }
    for degraded in &report.findings.degraded {
        warn!(
            date = degraded.date.as_str(),
            figure = degraded.figure.as_str(),
            roc_auc = format!("{:.4}", degraded.roc_auc),
            floor = format!("{:.4}", degraded.floor),
            "accuracy below the floor"
        );
    }
    info!(
        drift = format!("{:?}", report.findings.drift).to_lowercase(),
        drifted = report.findings.drifted_features.join(", "),
        degraded = report.findings.degraded.len(),
        report = %out.join(monitor::REPORT_FILE).display(),
        "monitoring written"
    );
    Ok(report)
}

pub(crate) fn predict(args: PredictArgs, bars: &Bars) -> Result<PredictSummary> {
    let options = PredictOptions {
        batch_rows: args.batch_rows,
        reasons: args.reasons,
        reasons_from: args.reasons_from.into(),
        max_high_risk: args.top,
        segment_feature: args.segment_feature.clone(),
    }
    .validate()
    .map_err(flag_error)?;
    let features = match &args.features {
        Some(features) => features.clone(),
        None => {
            let flags = TableFlags {
                id: args.id.clone(),
                target: None,
                positive: Vec::new(),
                negative: Vec::new(),
                drop: Vec::new(),
                categorical: Vec::new(),
                spec: Some(args.model.clone()),
            };
            let built = flags.options(&args.table, args.out.join("features"))?;
            let summary =
                features::table::build_from_tables(&built).context("reading --table failed")?;
            report_features(&summary);
            built.out
        }
    };
    let summary = predict_with(&args.model, &features, &args.out, &options, bars)?;
    for challenger in &args.shadow {
        let (folder, shadow) = churn_pipeline::predict::shadow(
            challenger, &features, &args.out, bars,
        )
        .with_context(|| format!("scoring the challenger {} failed", challenger.display()))?;
        info!(
            model = shadow.model_id.as_str(),
            rows = shadow.rows,
            out = %folder.display(),
            "challenger scored in shadow"
        );
    }
    Ok(summary)
}

pub(crate) fn predict_with(
    model: &std::path::Path,
    features: &std::path::Path,
    out: &std::path::Path,
    options: &ValidPredictOptions,
    bars: &Bars,
) -> Result<PredictSummary> {
    let summary = churn_pipeline::predict::predict(model, features, out, options, bars)
        .context("predict failed")?;
    for warning in &summary.warnings {
        warn!("{warning}");
    }
    info!(
        rows = summary.rows,
        high_risk = summary.high_risk,
        seconds = format!("{:.1}", summary.seconds),
        out = %out.display(),
        "predictions written"
    );
    Ok(summary)
}
