//! `churn demo`: a small simulated data set through every stage, up to a dry-run
//! retention plan, with the library's defaults and the dates the functions use.

use std::path::PathBuf;

use anyhow::{Context, Result};
use churn_core::layout;
use churn_pipeline::features;
use churn_pipeline::generate::{self, GenerateConfig};
use churn_pipeline::ingest::IngestOptions;
use churn_pipeline::store::Store;
use churn_pipeline::train::family::Family;
use clap::Args;

use crate::commands::{
    EvaluateArgs, apply_trials, evaluate, flag_error, generate_defaults, now_utc, predict_defaults,
    predict_with, train_defaults, train_with,
};
use crate::progress::Bars;

/// The demo's flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Data directory for the demo (its raw data is replaced).
    #[arg(long, default_value = "churn-demo")]
    pub dir: PathBuf,
    /// Customers to simulate.
    #[arg(long, default_value_t = 5_000)]
    pub customers: u64,
    /// Seed of the simulation and of training.
    #[arg(long, default_value_t = generate_defaults().seed)]
    pub seed: u64,
    /// Share of rows with injected dirt, to see quarantine at work.
    #[arg(long, default_value_t = 0.01)]
    pub dirt: f64,
    /// Label horizon in days.
    #[arg(long, default_value_t = features::DEFAULT_HORIZON_DAYS)]
    pub horizon: u32,
    /// Hyperparameter configs tried per family, as lr,rf,gbdt.
    #[arg(long, value_delimiter = ',', default_values_t = Family::ALL.map(|f| train_defaults().trials[&f]))]
    pub trials: Vec<usize>,
}

pub fn demo(args: DemoArgs, bars: &Bars) -> Result<()> {
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
    // The simulated extract is taken on its end date.
    let report = churn_pipeline::ingest::ingest(&store, &IngestOptions::new(config.end_date), bars)
        .context("ingest failed")?;
    let sum = |f: fn(&churn_pipeline::ingest::SourceReport) -> u64| -> u64 {
        report.sources.values().map(f).sum()
    };
    // Train on the latest as-of date whose labels the data covers; predict as of the day
    // after the data ends (the rules the functions follow too).
    let as_of = churn_app::dates::training_as_of(config.end_date, args.horizon);
    let training_table =
        features::build_as_of(&store, as_of, args.horizon, None).context("features failed")?;
    let today = churn_app::dates::scoring_as_of(config.end_date);
    let scoring_table =
        features::build_as_of(&store, today, args.horizon, None).context("features failed")?;
    let mut options = train_defaults();
    options.seed = args.seed;
    apply_trials(&mut options, &args.trials);
    options.trained_at = now_utc();
    let options = options.validate().map_err(flag_error)?;
    let model_dir = train_with(
        &options,
        &PathBuf::from(&training_table.dir),
        None,
        &args.dir,
        bars,
    )?;
    let champion = promote_locally(&store, &model_dir)?;
    let evaluation = evaluate(EvaluateArgs {
        model: model_dir.clone(),
        features: None,
    })?;
    let predictions = store.at(&layout::predictions(&today));
    let summary = predict_with(
        &model_dir,
        &PathBuf::from(&scoring_table.dir),
        &predictions,
        &predict_defaults().validate().map_err(flag_error)?,
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
        "  ingest        {}  {} curated, {} quarantined (see {}/), {} duplicates dropped; balanced: {}",
        store.at(&layout::ingest_report(&report.version)).display(),
        sum(|s| s.curated),
        sum(|s| s.quarantined),
        store
            .at(&layout::version_folder(layout::QUARANTINE, &report.version))
            .display(),
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
    println!(
        "  model         {}/model.json  champion of the registry ({}/): {champion}",
        model_dir.display(),
        store.at(&layout::model_registry()).display()
    );
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
    let list = predictions.join(churn_pipeline::predict::HIGH_RISK_CSV);
    let text = std::fs::read_to_string(&list).unwrap_or_default();
    println!("  top of the high-risk list ({}):", list.display());
    for line in text.lines().take(6) {
        println!("    {line}");
    }

    // Today's features and scores against the model's training reference (their labels
    // have not matured: accuracy is estimated).
    let monitored = crate::commands::monitor(crate::commands::MonitorArgs {
        model: model_dir.clone(),
        features: Some(PathBuf::from(&scoring_table.dir)),
        predictions: vec![predictions.clone()],
        actions: Vec::new(),
        dir: args.dir.clone(),
        auc_floor: None,
        psi_warn: churn_core::drift::PSI_WARN,
        psi_alert: churn_core::drift::PSI_ALERT,
        feature_psi: Vec::new(),
        min_importance: churn_pipeline::monitor::data::DEFAULT_MIN_IMPORTANCE,
        out: None,
    })?;
    println!(
        "  monitoring    {}/  drift {}{}; estimated ROC-AUC {} (test split at training {})",
        store.at(&layout::monitoring(&today)).display(),
        format!("{:?}", monitored.findings.drift).to_lowercase(),
        match (
            monitored.findings.drifted_features.is_empty(),
            monitored.findings.quiet_alerts.is_empty(),
        ) {
            (false, _) => format!(" ({})", monitored.findings.drifted_features.join(", ")),
            (true, false) => format!(
                " (at alert but barely used by the model: {})",
                monitored.findings.quiet_alerts.join(", ")
            ),
            (true, true) => String::new(),
        },
        monitored
            .accuracy
            .last()
            .and_then(|day| day.estimated.roc_auc)
            .map_or_else(|| "-".to_owned(), |auc| format!("{auc:.3}")),
        monitored
            .reference_roc_auc
            .map_or_else(|| "-".to_owned(), |auc| format!("{auc:.3}")),
    );

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
    println!();
    println!(
        "next: `churn serve --dir {}` and open http://127.0.0.1:8080/ for the dashboard",
        args.dir.display()
    );
    Ok(())
}

/// Makes the demo's model the champion of the directory's registry, as `churn models
/// promote` would, so `churn serve --dir` scores with it. Says so when it already was
/// (the demo run again with the same seed).
fn promote_locally(store: &Store, model_dir: &std::path::Path) -> Result<String> {
    use churn_io::registry::{LocalRegistry, Registry};
    let version = model_dir
        .file_name()
        .and_then(|name| name.to_str())
        .context("the model folder's name")?
        .to_owned();
    let registry = LocalRegistry::new(store.at(&layout::model_registry()));
    let models = store.at(&layout::root(layout::MODELS));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let current = registry.champion().await?;
        if current.is_some_and(|c| c.version == version) {
            return Ok(format!("{version} (already)"));
        }
        churn_app::registry::promote(
            &registry,
            Some(&models),
            &version,
            churn_app::registry::Signed {
                by: "churn demo",
                reason: "the demo's model",
            },
        )
        .await?;
        Ok(version)
    })
}
