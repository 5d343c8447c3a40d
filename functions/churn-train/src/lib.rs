//! `churn-train`: `DatasetIngested`, the monthly schedule or a manual `TrainRequested`
//! event → features as of a date → train and tune (the same use case as `churn train`)
//! → evaluate → `models/<version>/` and `features/as_of=<date>/` → a registry row →
//! promotion only when the new model beats the champion on the new model's holdout
//! (the champion is scored on the same rows) → `ModelPromoted`.
//!
//! Idempotent: a training is claimed in the ledger by its as-of date and seed, and the
//! same data and seed give the same model id, so a replay changes nothing.

use std::path::Path;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::NaiveDate;
use churn_core::ModelArtifact;
use churn_io::events::{DatasetIngested, ModelPromoted, domain_event};
use churn_io::registry::ModelVersion;
use churn_io::store::ObjectGet;
use churn_io::sync::{download_prefix, upload_dir};
use churn_io::{HandlerError, IoError, Platform, now_epoch};
use churn_lambda::blocking;
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::TrainOptions;
use serde::Serialize;

/// The events that start a training.
pub type TrainEvent = EventBridgeEvent<serde_json::Value>;

/// Training settings from the function's environment.
#[derive(Debug, Clone)]
pub struct Options {
    /// `CHURN_HORIZON_DAYS` (default 30): churn within this many days is the label.
    pub horizon_days: u32,
    /// `CHURN_SEED` (default 42); a `TrainRequested` event may override it.
    pub seed: u64,
    /// The rest of the training options (the CLI's defaults).
    pub train: TrainOptions,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            horizon_days: 30,
            seed: 42,
            train: TrainOptions::default(),
        }
    }
}

impl Options {
    pub fn from_env() -> Result<Self, HandlerError> {
        let mut options = Self::default();
        let number = |name: &str| -> Result<Option<u64>, HandlerError> {
            std::env::var(name)
                .ok()
                .map(|v| {
                    v.parse().map_err(|_| {
                        HandlerError::permanent(format!("{name}={v} is not a whole number"))
                    })
                })
                .transpose()
        };
        if let Some(days) = number("CHURN_HORIZON_DAYS")? {
            options.horizon_days = days as u32;
        }
        if let Some(seed) = number("CHURN_SEED")? {
            options.seed = seed;
        }
        Ok(options)
    }
}

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub as_of: String,
    pub version: String,
    /// The new model's ROC-AUC on its holdout.
    pub metric: f64,
    /// The champion's ROC-AUC on the same rows, when there was a comparable one.
    pub champion_metric: Option<f64>,
    pub promoted: bool,
    /// Already trained by an earlier delivery.
    pub duplicate: bool,
}

/// Handles one training event.
pub async fn handle(
    platform: &Platform,
    options: &Options,
    event: TrainEvent,
) -> Result<Summary, HandlerError> {
    let work = tempfile::tempdir()
        .map_err(|e| HandlerError::retryable(format!("a work folder in /tmp: {e}")))?;
    let root = work.path().to_path_buf();
    download_prefix(&platform.store, "curated/", &root).await?;

    let mut seed = options.seed;
    let as_of = match event.detail_type.as_str() {
        "DatasetIngested" => {
            let detail: DatasetIngested =
                serde_json::from_value(event.detail.clone()).map_err(|e| {
                    HandlerError::permanent(format!(
                        "a DatasetIngested event without its detail: {e}"
                    ))
                })?;
            as_of_for(
                detail.data_end.as_deref().map(parse_date).transpose()?,
                options.horizon_days,
            )?
        }
        "TrainRequested" => {
            if let Some(requested) = event.detail["seed"].as_u64() {
                seed = requested;
            }
            match event.detail["as_of"].as_str() {
                Some(date) => parse_date(date)?,
                None => as_of_for(
                    churn_lambda::curated_data_end(&root).await?,
                    options.horizon_days,
                )?,
            }
        }
        // The monthly schedule: the latest date whose labels the data covers.
        _ => as_of_for(
            churn_lambda::curated_data_end(&root).await?,
            options.horizon_days,
        )?,
    };

    let ledger_key = format!("train:{as_of}:seed={seed}");
    if let Some(outcome) = churn_lambda::claim(platform, &ledger_key).await? {
        tracing::info!(as_of = %as_of, outcome, "already trained");
        return Ok(Summary {
            as_of: as_of.to_string(),
            duplicate: true,
            ..Summary::default()
        });
    }
    let keys = [ledger_key];
    let result = run(platform, options, seed, as_of, &root).await;
    let summary = churn_lambda::settle(platform, &keys, result, |s| {
        format!("trained {}; promoted: {}", s.version, s.promoted)
    })
    .await?;
    tracing::info!(
        as_of = summary.as_of,
        version = summary.version,
        metric = summary.metric,
        champion_metric = summary.champion_metric,
        promoted = summary.promoted,
        "trained"
    );
    Ok(summary)
}

fn parse_date(text: &str) -> Result<NaiveDate, HandlerError> {
    churn_pipeline::dates::parse_date(text, "the event's date")
        .map_err(|e| HandlerError::permanent(e.to_string()))
}

/// The latest as-of date whose horizon the data covers.
fn as_of_for(data_end: Option<NaiveDate>, horizon_days: u32) -> Result<NaiveDate, HandlerError> {
    let end = data_end.ok_or_else(|| {
        HandlerError::permanent("the curated data has no events: nothing to train on")
    })?;
    Ok(end - chrono::Duration::days(i64::from(horizon_days) - 1))
}

async fn run(
    platform: &Platform,
    options: &Options,
    seed: u64,
    as_of: NaiveDate,
    root: &Path,
) -> Result<Summary, HandlerError> {
    let features_key = format!("features/as_of={as_of}");
    let (outcome, model_dir) = {
        let (root, horizon) = (root.to_path_buf(), options.horizon_days);
        let mut train = options.train.clone();
        train.seed = seed;
        let train = train
            .validate()
            .map_err(|e| HandlerError::permanent(format!("training options: {e}")))?;
        blocking("training", move || {
            let store = Store::new(&root);
            let table = churn_pipeline::features::build_as_of(&store, as_of, horizon, None)?;
            let (outcome, dir) = churn_pipeline::models::train_dir(
                Path::new(&table.dir),
                &train,
                None,
                &root.join("models"),
                &NoProgress,
            )?;
            churn_pipeline::evaluate::evaluate(&dir, None)?;
            Ok((outcome, dir))
        })
        .await?
    };
    let version = model_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let model_key = format!("models/{version}");
    upload_dir(&platform.store, root, &features_key, &["summary.json"]).await?;
    upload_dir(&platform.store, root, &model_key, &["training.json"]).await?;

    let champion_family = outcome.champion();
    let model = ModelVersion {
        version: version.clone(),
        trained_at: rfc3339(now_epoch()),
        artifact_key: format!("{model_key}/{}", churn_pipeline::models::BINARY_FILE),
        metric_name: "roc_auc".into(),
        metric: champion_family.test.roc_auc,
        holdout: format!(
            "{}:{}",
            outcome.data_hash,
            churn_core::fnv64_hex(outcome.test_ids.join("\n").as_bytes())
        ),
        data_hash: outcome.data_hash.clone(),
        seed,
    };
    platform.registry.register(&model).await?;

    let current = platform.registry.champion().await?;
    let mut summary = Summary {
        as_of: as_of.to_string(),
        version: version.clone(),
        metric: model.metric,
        ..Summary::default()
    };
    let better = match &current {
        None => true,
        Some(champion) if champion.version == version => false,
        Some(champion) => {
            let artifact = champion_artifact(platform, &champion.version).await?;
            let features = root.join(&features_key);
            let ids = outcome.test_ids.clone();
            summary.champion_metric = blocking("scoring the champion on the holdout", move || {
                churn_pipeline::models::holdout_roc_auc(artifact, &features, &ids)
            })
            .await?;
            // Not comparable (other features): the model trained on today's data wins.
            summary
                .champion_metric
                .is_none_or(|theirs| model.metric > theirs)
        }
    };
    if better {
        let expected = current.as_ref().map(|c| c.version.as_str());
        match platform
            .registry
            .promote(&model, expected, &rfc3339(now_epoch()))
            .await
        {
            Ok(()) => {
                summary.promoted = true;
                let event = ModelPromoted {
                    bucket: platform.settings.bucket.clone(),
                    version: version.clone(),
                    artifact_key: model.artifact_key.clone(),
                    metric_name: model.metric_name.clone(),
                    metric: model.metric,
                    previous: expected.map(str::to_owned),
                    as_of: as_of.to_string(),
                };
                platform
                    .events
                    .publish(&[domain_event("ModelPromoted", &event)])
                    .await?;
            }
            // Another training promoted first: this model stays registered, unpromoted.
            Err(IoError::Conflict(message)) => tracing::warn!(message, "promotion lost"),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(summary)
}

async fn champion_artifact(
    platform: &Platform,
    version: &str,
) -> Result<ModelArtifact, HandlerError> {
    let entry = platform.registry.version(version).await?.ok_or_else(|| {
        HandlerError::permanent(format!("the champion {version} has no registry entry"))
    })?;
    let bytes = platform.store.get(&entry.artifact_key).await?;
    ModelArtifact::from_binary(&bytes).map_err(|e| {
        HandlerError::permanent(format!(
            "the champion's artifact {}: {e}",
            entry.artifact_key
        ))
    })
}

fn rfc3339(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
