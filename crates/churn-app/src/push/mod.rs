//! Retention actions: a day's scores → the playbook's plan, frozen once sending starts
//! ([`day::run_day`], shared with `churn actions`) → the CRM and messaging providers,
//! each action once ([`dispatch::Dispatcher`]) → `actions/dt=<day>/`.
//!
//! [`run`] is the cloud use case: `PredictionsReady` or a schedule → the day's
//! candidates (scores, feature values, contact details) read from the bucket → the day
//! run and sent. The playbook and the connections are read from the bucket on every run,
//! so a new revision takes effect the next day without a deployment. A run that leaves
//! actions for later (throttled, busy) fails retryably and the retry carries on where it
//! stopped; a run in which a provider refused the connection (credentials, access), or a
//! crashed run's actions cannot be told sent or not, fails permanently, so that somebody
//! hears of it. Actions a provider refused one by one are counted and logged as errors.

pub mod day;
pub mod dispatch;

use std::path::PathBuf;

use churn_core::layout;
use churn_core::playbook::Day;
use churn_io::IoError;
use churn_io::connections::{Connections, parse_playbook};
use churn_io::events::PredictionsReady;
use churn_io::secrets::Secrets;
use churn_io::store::{ObjectGet, ObjectList};
use churn_pipeline::actions::{CandidateSources, load_candidates};
use churn_pipeline::contract::Source;
use churn_pipeline::predict::PREDICTIONS_FILE;
use serde::Serialize;

pub use day::{DayReport, DaySummary, run_day};
pub use dispatch::{DispatchOptions, Dispatcher, Outcome, Status};

use crate::work::{WorkDir, blocking};
use crate::{AppError, Platform};

/// Where the playbook and connections are, and how actions are sent.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Key of the playbook in the bucket.
    pub playbook_key: String,
    /// Key of the connections in the bucket.
    pub connections_key: String,
    pub dispatch: DispatchOptions,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            playbook_key: layout::PLAYBOOK.to_owned(),
            connections_key: layout::CONNECTIONS.to_owned(),
            dispatch: DispatchOptions::default(),
        }
    }
}

/// What sending needs besides the platform, built once per process.
pub struct Providers {
    pub secrets: Secrets,
    pub ses: Option<aws_sdk_sesv2::Client>,
    /// Seconds since the epoch (tests set it).
    pub clock: fn() -> i64,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("ses", &self.ses.is_some())
            .finish_non_exhaustive()
    }
}

/// Which day to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum PushRequest {
    /// The day's (or a shard's) scores are written.
    Ready(PredictionsReady),
    /// A schedule: this day, or the latest day with scores.
    Day(Option<String>),
}

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct PushSummary {
    pub date: String,
    /// Skipped: a shard's scores; the actions wait for the whole day.
    pub skipped: Option<String>,
    pub day: Option<DaySummary>,
}

/// Plans and sends the day's actions of `request`.
pub async fn run(
    platform: &Platform,
    config: &PushConfig,
    providers: &Providers,
    request: &PushRequest,
) -> Result<PushSummary, AppError> {
    let date = match request {
        PushRequest::Ready(ready) => {
            if ready.bucket != platform.settings.bucket {
                return Err(AppError::permanent(format!(
                    "predictions in bucket {}, this function works on {}",
                    ready.bucket, platform.settings.bucket
                )));
            }
            if layout::is_shard(&ready.prefix) {
                tracing::info!(
                    prefix = ready.prefix,
                    "shard predictions: actions wait for the whole day"
                );
                return Ok(PushSummary {
                    date: ready.date.clone(),
                    skipped: Some(format!("{} is one shard of the day", ready.prefix)),
                    day: None,
                });
            }
            ready.date.clone()
        }
        PushRequest::Day(Some(date)) => date.clone(),
        PushRequest::Day(None) => latest_predictions(platform).await?,
    };
    let day = Day::parse(&date)
        .ok_or_else(|| AppError::permanent(format!("'{date}' is not a date (YYYY-MM-DD)")))?;
    let playbook = parse_playbook(
        &config_text(platform, &config.playbook_key).await?,
        &platform.url(&config.playbook_key),
    )?;
    let connections = Connections::parse(
        &config_text(platform, &config.connections_key).await?,
        &platform.url(&config.connections_key),
    )?;

    let work = WorkDir::new()?;
    let predictions = layout::predictions(&day);
    download_scores(platform, &work, &predictions).await?;
    // The scored snapshot, whole or in parts (with its spec and summary, which are small).
    let snapshot = layout::features_as_of(&day);
    let features =
        (work.download(&platform.store, &snapshot).await? > 0).then(|| work.at(&snapshot));
    // Contact details from the published dataset version (none yet: nobody to message).
    let customers = match crate::work::published(&platform.store).await? {
        Some(published) => {
            let key = layout::curated(&published.version, Source::Customers);
            optional(platform, &work, &key).await?
        }
        None => None,
    };
    let loaded = {
        let sources = CandidateSources {
            predictions: work.at(&predictions),
            features,
            customers,
        };
        let playbook = playbook.clone();
        blocking("reading the candidates", move || {
            load_candidates(&sources, &playbook)
        })
        .await?
    };
    for warning in &loaded.warnings {
        tracing::warn!(warning, "candidates");
    }

    let sinks = connections
        .connect(&providers.secrets, providers.ses.clone())
        .await?;
    let dispatcher = Dispatcher {
        ledger: &platform.actions,
        sinks: &sinks,
        quiet_hours: playbook.quiet_hours.as_ref(),
        clock: &providers.clock,
        options: config.dispatch.clone(),
    };
    let report = run_day(
        &platform.store,
        &platform.actions,
        &playbook,
        day,
        &loaded.candidates,
        Some(&dispatcher),
    )
    .await?;
    let summary = &report.summary;
    let count = |status: Status| summary.outcomes.get(status.as_str()).copied().unwrap_or(0);
    tracing::info!(
        date,
        revision = summary.revision,
        frozen = summary.frozen,
        candidates = loaded.candidates.len(),
        planned = summary.plan.planned.values().sum::<u64>(),
        crm_syncs = summary.plan.crm_syncs,
        skipped = ?summary.plan.skipped,
        outcomes = ?summary.outcomes,
        expected_cost = summary.plan.expected_cost,
        expected_saved = summary.plan.expected_saved,
        "actions pushed"
    );
    let outcomes = report.folder.join(churn_core::layout::OUTCOMES_FILE);
    if !summary.settled() {
        return Err(AppError::retryable(format!(
            "{date}: {} action(s) throttled, unreachable or busy; a retry sends them",
            count(Status::RetryLater) + count(Status::Busy)
        )));
    }
    let failed = count(Status::Failed);
    if failed > 0 {
        // A record the provider refuses (a contact without the field it is keyed by, a
        // number that is not a phone's) is the customer's data, not the connection's:
        // counted and reported, and the day goes on.
        tracing::error!(
            date,
            failed,
            outcomes = platform.url(outcomes.as_str()),
            "actions refused by their provider for good"
        );
    }
    let unknown = count(Status::Unknown);
    if unknown > 0 {
        // Recorded in the ledger, so a retry does not send them again: this run's
        // failure is how a person hears of them.
        return Err(AppError::permanent(format!(
            "{date}: {unknown} action(s) may or may not have been sent by a run that crashed: check them with the provider; see {}",
            platform.url(outcomes.as_str())
        )));
    }
    Ok(PushSummary {
        date,
        skipped: None,
        day: Some(report.summary),
    })
}

/// A configuration file of the bucket, as text; missing, it says what to upload.
async fn config_text(platform: &Platform, key: &str) -> Result<String, AppError> {
    let bytes = platform.store.get(key).await.map_err(|error| match error {
        IoError::NotFound(what) => AppError::permanent(format!(
            "{what}: upload the playbook and connections (see examples/ in the repository)"
        )),
        other => other.into(),
    })?;
    String::from_utf8(bytes)
        .map_err(|_| AppError::permanent(format!("{} is not UTF-8 text", platform.url(key))))
}

/// Downloads a day's scores: its predictions file, or those of its shards (a day the
/// Distributed Map scored).
async fn download_scores(
    platform: &Platform,
    work: &WorkDir,
    predictions: &layout::Key,
) -> Result<(), AppError> {
    let scored: Vec<String> = platform
        .store
        .list(&predictions.prefix())
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|key| key.rsplit('/').next() == Some(PREDICTIONS_FILE))
        .collect();
    let whole = predictions.join(PREDICTIONS_FILE).to_string();
    let wanted: Vec<&String> = if scored.contains(&whole) {
        vec![&whole]
    } else {
        scored.iter().collect()
    };
    if wanted.is_empty() {
        return Err(AppError::permanent(format!(
            "{} holds no predictions",
            platform.url(&predictions.prefix())
        )));
    }
    for key in wanted {
        platform.store.download(key, &work.root().join(key)).await?;
    }
    Ok(())
}

/// Downloads `key` when it exists.
async fn optional(
    platform: &Platform,
    work: &WorkDir,
    key: &layout::Key,
) -> Result<Option<PathBuf>, AppError> {
    let path = work.at(key);
    match platform.store.download(key.as_str(), &path).await {
        Ok(_) => Ok(Some(path)),
        Err(IoError::NotFound(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The latest day with a day-level predictions file.
async fn latest_predictions(platform: &Platform) -> Result<String, AppError> {
    let objects = platform
        .store
        .list(&layout::root(layout::PREDICTIONS).prefix())
        .await?;
    objects
        .iter()
        .filter_map(|o| {
            let (date, file) = layout::parse_predictions(&o.key)?;
            (file == PREDICTIONS_FILE).then(|| date.to_owned())
        })
        .max()
        .ok_or_else(|| {
            AppError::permanent(
                "no predictions/dt=<date>/predictions.parquet yet: nothing to act on",
            )
        })
}
