//! Training on a cloud store: a trigger (new data, a request, the monthly schedule, the
//! monitor's evidence once per cool-down window) →
//! features as of a day → train and tune (the pipeline's, as `churn train`) → evaluate →
//! `models/<version>/` and `features/as_of=<day>/` → a registry entry → promotion only
//! when the [`promotion`] policy says so → `ModelPromoted`.
//!
//! Once per (as-of day, dataset version, seed): the same data and seed give the same
//! model, so a replay changes nothing, while corrected data with the same end date (a new
//! version) trains again.

pub mod promotion;

use chrono::NaiveDate;
use churn_core::layout;
use churn_io::now_epoch;
use churn_io::registry::{ModelVersion, Registry};
use churn_io::sync::upload_dir;
use churn_pipeline::progress::NoProgress;
use churn_pipeline::train::TrainOptions;
use serde::Serialize;

use crate::dates::{
    DEFAULT_HORIZON_DAYS, DEFAULT_RETRAIN_COOLDOWN_DAYS, cooldown_window, training_as_of,
};
use crate::ingest::curated_data_end;
use crate::once::{Once, once};
use crate::work::{WorkDir, blocking};
use crate::{AppError, Platform, champion};
pub use promotion::{Figures, PromotionPolicy};
use promotion::{Incumbent, Verdict};

/// How models are trained.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Churn within this many days is the label.
    pub horizon_days: u32,
    /// The seed, unless a request names one.
    pub seed: u64,
    /// The search and fitting options (the CLI's defaults).
    pub train: TrainOptions,
    /// What a new model must do to replace the champion.
    pub policy: PromotionPolicy,
    /// Evidence (drift, degraded accuracy) retrains at most once per window of this many
    /// days ([`cooldown_window`]).
    pub cooldown_days: u32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        let train = TrainOptions::default();
        Self {
            horizon_days: DEFAULT_HORIZON_DAYS,
            seed: train.seed,
            train,
            policy: PromotionPolicy::default(),
            cooldown_days: DEFAULT_RETRAIN_COOLDOWN_DAYS,
        }
    }
}

/// What starts a training.
#[derive(Debug, Clone, PartialEq)]
pub enum Trigger {
    /// New data was ingested; it ends on `data_end` (read from the data when unknown).
    Ingested { data_end: Option<NaiveDate> },
    /// Someone asked: on `as_of` (default: the latest the data covers), with `seed`.
    Requested {
        as_of: Option<NaiveDate>,
        seed: Option<u64>,
    },
    /// The monthly schedule: the latest as-of day the data covers.
    Scheduled,
    /// The monitor's evidence (`what`: `DriftDetected`, `PerformanceDegraded`) about the
    /// predictions of `date`: the latest as-of day the data covers, once per cool-down
    /// window.
    Evidence { what: String, date: NaiveDate },
}

/// What one training did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainSummary {
    pub as_of: String,
    pub version: String,
    /// The new model's ROC-AUC on its holdout.
    pub metric: f64,
    /// Its calibration error there.
    pub calibration_error: Option<f64>,
    /// The champion's ROC-AUC on the same rows, when it was comparable.
    pub champion_metric: Option<f64>,
    /// The champion's calibration error on them.
    pub champion_calibration_error: Option<f64>,
    pub promoted: bool,
    /// Why it was promoted or not.
    pub verdict: String,
    /// Already trained by an earlier delivery.
    pub duplicate: bool,
    /// Evidence within a cool-down window that already retrained: nothing was done.
    pub cooled_down: bool,
}

/// Trains on the curated data of the platform's bucket.
pub async fn run(
    platform: &Platform,
    config: &TrainConfig,
    trigger: &Trigger,
) -> Result<TrainSummary, AppError> {
    let work = WorkDir::new()?;
    let dataset = work.download_dataset(&platform.store).await?;
    let (as_of, seed) = match trigger {
        Trigger::Requested {
            as_of: Some(as_of),
            seed,
        } => (*as_of, seed.unwrap_or(config.seed)),
        Trigger::Requested { as_of: None, seed } => (
            latest_as_of(&work, None, config.horizon_days).await?,
            seed.unwrap_or(config.seed),
        ),
        Trigger::Ingested { data_end } => (
            latest_as_of(&work, *data_end, config.horizon_days).await?,
            config.seed,
        ),
        Trigger::Scheduled | Trigger::Evidence { .. } => (
            latest_as_of(&work, None, config.horizon_days).await?,
            config.seed,
        ),
    };
    // The dataset version is a hash of the curated data: corrected data trains again.
    let key = format!("train:{as_of}:data={}:seed={seed}", dataset.version);
    let train = || async {
        let done = once(
            platform,
            "train",
            key,
            || train_and_promote(platform, config, seed, as_of, &work),
            |s: &TrainSummary| format!("trained {}; promoted: {}", s.version, s.promoted),
        )
        .await?;
        Ok(match done {
            Once::Done(summary) => summary,
            Once::Earlier(_) => TrainSummary {
                as_of: as_of.to_string(),
                duplicate: true,
                ..TrainSummary::default()
            },
        })
    };
    let Trigger::Evidence { what, date } = trigger else {
        return train().await;
    };
    // One retraining per window, whichever evidence comes first; a failure that can be
    // retried gives the window back.
    let window = cooldown_window(*date, config.cooldown_days);
    let done = once(
        platform,
        "retrain",
        format!("retrain:{window}:every={}d", config.cooldown_days),
        train,
        |s: &TrainSummary| {
            format!(
                "{what} of {date}: {}",
                if s.duplicate {
                    "the data was trained on already".to_owned()
                } else {
                    format!("trained {}; promoted: {}", s.version, s.promoted)
                }
            )
        },
    )
    .await?;
    Ok(match done {
        Once::Done(summary) => summary,
        Once::Earlier(outcome) => {
            tracing::info!(%what, %date, %window, outcome, "cooling down: evidence of this window retrained already");
            TrainSummary {
                as_of: as_of.to_string(),
                cooled_down: true,
                verdict: format!(
                    "{what} of {date}: evidence in the {}-day window from {window} retrained already ({outcome})",
                    config.cooldown_days
                ),
                ..TrainSummary::default()
            }
        }
    })
}

/// The latest as-of day whose horizon the data covers.
async fn latest_as_of(
    work: &WorkDir,
    data_end: Option<NaiveDate>,
    horizon_days: u32,
) -> Result<NaiveDate, AppError> {
    let end = match data_end {
        Some(end) => Some(end),
        None => curated_data_end(work).await?,
    };
    let end = end.ok_or_else(|| {
        AppError::permanent("the curated data has no events: nothing to train on")
    })?;
    Ok(training_as_of(end, horizon_days))
}

/// The registry entry of a training run's model `version`: its test ROC-AUC on a holdout
/// named by the data and the test customers, so challengers are compared only on the same
/// one. One definition for `churn-train` and `churn models promote`.
pub fn model_version(
    version: &str,
    outcome: &churn_pipeline::train::TrainOutcome,
    trained_at: &str,
    seed: u64,
) -> ModelVersion {
    ModelVersion {
        version: version.to_owned(),
        trained_at: trained_at.to_owned(),
        artifact_key: layout::model_binary(version).to_string(),
        metric_name: "roc_auc".into(),
        metric: outcome.champion().test.roc_auc,
        holdout: format!(
            "{}:{}",
            outcome.data_hash,
            churn_core::fnv64_hex(outcome.test_ids.join("\n").as_bytes())
        ),
        data_hash: outcome.data_hash.clone(),
        seed,
    }
}

async fn train_and_promote(
    platform: &Platform,
    config: &TrainConfig,
    seed: u64,
    as_of: NaiveDate,
    work: &WorkDir,
) -> Result<TrainSummary, AppError> {
    let features = layout::features_as_of(&as_of);
    let trained_at = churn_core::playbook::format_timestamp(now_epoch());
    let (outcome, model_dir, measured) = {
        let (store, horizon, features_dir) =
            (work.store(), config.horizon_days, work.at(&features));
        let models = work.at(&layout::root(layout::MODELS));
        let mut options = config.train.clone();
        options.seed = seed;
        options.trained_at = trained_at.clone();
        let options = options
            .validate()
            .map_err(churn_pipeline::PipelineError::from)?;
        blocking("training", move || {
            churn_pipeline::features::build_as_of(&store, as_of, horizon, Some(&features_dir))?;
            let (outcome, dir) = churn_pipeline::models::train_dir(
                &features_dir,
                &options,
                None,
                &models,
                &NoProgress,
            )?;
            churn_pipeline::evaluate::evaluate(&dir, None)?;
            // The challenger's own figures on its test split (the model as measured,
            // before any refit on every row), as training's reference recorded them.
            let measured = churn_pipeline::reference::read(&dir)?
                .scores
                .and_then(|scores| scores.holdout);
            Ok((outcome, dir, measured))
        })
        .await?
    };
    let version = model_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| AppError::permanent("training wrote no model folder"))?;
    let model_key = layout::model(&version);
    upload_dir(
        &platform.store,
        work.root(),
        features.as_str(),
        &[churn_pipeline::features::SUMMARY_FILE],
    )
    .await?;
    upload_dir(
        &platform.store,
        work.root(),
        model_key.as_str(),
        &[churn_pipeline::models::TRAINING_FILE],
    )
    .await?;

    let holdout_ids = outcome.test_ids.clone();
    let model = model_version(&version, &outcome, &trained_at, seed);
    platform.registry.register(&model).await?;

    let ours = Figures {
        roc_auc: model.metric,
        calibration_error: measured.as_ref().and_then(|h| h.calibration_error),
    };
    let mut summary = TrainSummary {
        as_of: as_of.to_string(),
        version: version.clone(),
        metric: model.metric,
        calibration_error: ours.calibration_error,
        ..TrainSummary::default()
    };
    let current = champion::current(&platform.registry, &platform.store).await?;
    let mut theirs = None;
    if let Some(champion) = &current
        && champion.entry.version != version
    {
        let (artifact, features_dir) = (champion.artifact.clone(), work.at(&features));
        theirs = blocking("scoring the champion on the holdout", move || {
            churn_pipeline::models::holdout_figures(artifact, &features_dir, &holdout_ids)
        })
        .await?
        .as_ref()
        .and_then(Figures::of);
        summary.champion_metric = theirs.map(|f| f.roc_auc);
        summary.champion_calibration_error = theirs.and_then(|f| f.calibration_error);
    }
    let incumbent = current.as_ref().map(|c| Incumbent {
        version: &c.entry.version,
        on_holdout: theirs,
    });
    let verdict = promotion::decide(&version, ours, incumbent.as_ref(), &config.policy);
    tracing::info!(version, verdict = ?verdict, "promotion decided");
    match verdict {
        Verdict::Promote(reason) => {
            let expected = current.as_ref().map(|c| c.entry.version.as_str());
            summary.promoted =
                promotion::promote(platform, &model, expected, &summary.as_of, &reason).await?;
            summary.verdict = reason;
        }
        Verdict::Keep(reason) => summary.verdict = reason,
    }
    Ok(summary)
}
