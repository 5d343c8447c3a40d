//! `churn-crm-push`: `PredictionsReady` (from EventBridge directly, or through an SQS
//! queue with partial-batch responses) or a schedule after quiet hours → the day's
//! candidates (scores, feature values, contact details) → the playbook's plan, frozen
//! once sending starts (the same use case as `churn actions --send`) → the CRM and
//! messaging providers → `actions/dt=<date>/` (plan, outcomes, summary).
//!
//! Idempotent per action: every action is claimed in the ledger table before it is
//! sent, so a replay, a Lambda retry or an SQS redelivery sends nothing twice. A run
//! that leaves actions for later (throttled, busy) fails retryably, and the retry
//! carries on where it stopped.
//!
//! The playbook and the connections are read from the bucket on every invocation
//! (`CHURN_PLAYBOOK_KEY`, `CHURN_CONNECTIONS_KEY`), so a new revision takes effect on
//! the next day without a deployment; tokens come from Secrets Manager or the
//! environment.

use std::path::Path;

use churn_core::playbook::Day;
use churn_io::actions::{DaySummary, DispatchOptions, Dispatcher, run_day};
use churn_io::connections::{Connections, parse_playbook};
use churn_io::events::PredictionsReady;
use churn_io::secrets::Secrets;
use churn_io::store::{ObjectGet, ObjectList};
use churn_io::{HandlerError, IoError, Platform};
use churn_lambda::blocking;
use churn_pipeline::actions::{CandidateSources, load_candidates};
use serde::Serialize;
use serde_json::{Value, json};

/// What the function needs besides the platform, built once per cold start.
pub struct Deps {
    pub secrets: Secrets,
    pub ses: Option<aws_sdk_sesv2::Client>,
    /// `CHURN_PLAYBOOK_KEY` (default `config/playbook.toml`).
    pub playbook_key: String,
    /// `CHURN_CONNECTIONS_KEY` (default `config/connections.toml`).
    pub connections_key: String,
    pub options: DispatchOptions,
    /// Seconds since the epoch.
    pub clock: fn() -> i64,
}

impl std::fmt::Debug for Deps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deps")
            .field("playbook_key", &self.playbook_key)
            .field("connections_key", &self.connections_key)
            .finish_non_exhaustive()
    }
}

impl Deps {
    pub fn from_env(secrets: Secrets, ses: Option<aws_sdk_sesv2::Client>) -> Self {
        let or = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        Self {
            secrets,
            ses,
            playbook_key: or("CHURN_PLAYBOOK_KEY", "config/playbook.toml"),
            connections_key: or("CHURN_CONNECTIONS_KEY", "config/connections.toml"),
            options: DispatchOptions::default(),
            clock: churn_io::now_epoch,
        }
    }
}

/// What one day's run did.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub date: String,
    /// Skipped: shard-level predictions wait for the day-level event.
    pub skipped: Option<String>,
    pub day: Option<DaySummary>,
}

/// Handles one invocation: an EventBridge event, or an SQS batch of them (answered
/// with the ids of the messages to redeliver).
pub async fn handle(
    platform: &Platform,
    deps: &Deps,
    payload: Value,
) -> Result<Value, HandlerError> {
    let records = payload["Records"].as_array();
    if let Some(records) =
        records.filter(|r| r.first().is_some_and(|r| r["eventSource"] == "aws:sqs"))
    {
        let mut failures = Vec::new();
        for record in records {
            let id = record["messageId"].as_str().unwrap_or_default().to_owned();
            let event = record["body"]
                .as_str()
                .and_then(|body| serde_json::from_str::<Value>(body).ok());
            let result = match event {
                Some(event) => handle_event(platform, deps, &event).await.map(|_| ()),
                None => Err(HandlerError::permanent(format!(
                    "SQS message {id}: the body is not an EventBridge event"
                ))),
            };
            match result {
                Ok(()) => {}
                // A permanent failure would fail the same way again: drop it (it is
                // logged) instead of redelivering it until the queue gives up.
                Err(error) if !error.retryable => {
                    tracing::error!(message_id = id, error = error.message, "permanent failure");
                }
                Err(error) => {
                    tracing::warn!(message_id = id, error = error.message, "redeliver");
                    failures.push(json!({ "itemIdentifier": id }));
                }
            }
        }
        return Ok(json!({ "batchItemFailures": failures }));
    }
    let summary = handle_event(platform, deps, &payload).await?;
    Ok(serde_json::to_value(summary).unwrap_or_default())
}

async fn handle_event(
    platform: &Platform,
    deps: &Deps,
    event: &Value,
) -> Result<Summary, HandlerError> {
    let (date, prefix) = match event["detail-type"].as_str() {
        Some("PredictionsReady") => {
            let ready: PredictionsReady =
                serde_json::from_value(event["detail"].clone()).map_err(|e| {
                    HandlerError::permanent(format!(
                        "a PredictionsReady event without its detail: {e}"
                    ))
                })?;
            if ready.bucket != platform.settings.bucket {
                return Err(HandlerError::permanent(format!(
                    "predictions in bucket {}, this function works on {}",
                    ready.bucket, platform.settings.bucket
                )));
            }
            if ready.prefix.contains("/shard=") {
                tracing::info!(
                    prefix = ready.prefix,
                    "shard predictions: actions wait for the whole day"
                );
                return Ok(Summary {
                    date: ready.date,
                    skipped: Some(format!("{} is one shard of the day", ready.prefix)),
                    day: None,
                });
            }
            (ready.date, ready.prefix)
        }
        // A schedule (e.g. the end of quiet hours): the latest day with predictions.
        _ => {
            let date = match event["detail"]["date"].as_str() {
                Some(date) => date.to_owned(),
                None => latest_predictions(platform).await?,
            };
            let prefix = format!("predictions/dt={date}/");
            (date, prefix)
        }
    };
    let day = Day::parse(&date)
        .ok_or_else(|| HandlerError::permanent(format!("'{date}' is not a date (YYYY-MM-DD)")))?;
    let store = &platform.store;
    let text = |bytes: Vec<u8>, key: &str| {
        String::from_utf8(bytes)
            .map_err(|_| HandlerError::permanent(format!("{key} is not UTF-8 text")))
    };
    let playbook = parse_playbook(
        &text(
            store
                .get(&deps.playbook_key)
                .await
                .map_err(config_missing)?,
            &deps.playbook_key,
        )?,
        &format!("s3://{}/{}", platform.settings.bucket, deps.playbook_key),
    )?;
    let connections = Connections::parse(
        &text(
            store
                .get(&deps.connections_key)
                .await
                .map_err(config_missing)?,
            &deps.connections_key,
        )?,
        &format!("s3://{}/{}", platform.settings.bucket, deps.connections_key),
    )?;

    let work = tempfile::tempdir()
        .map_err(|e| HandlerError::retryable(format!("a work folder in /tmp: {e}")))?;
    let root = work.path();
    // The day's scores: its predictions.parquet, or those of its shards (a day the
    // Distributed Map scored).
    let scored: Vec<String> = store
        .list(&prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .filter(|key| key.ends_with("/predictions.parquet"))
        .collect();
    let whole = format!("{prefix}predictions.parquet");
    let wanted: Vec<&String> = if scored.contains(&whole) {
        scored.iter().filter(|k| **k == whole).collect()
    } else {
        scored.iter().collect()
    };
    if wanted.is_empty() {
        return Err(HandlerError::permanent(format!(
            "s3://{}/{prefix} holds no predictions",
            platform.settings.bucket
        )));
    }
    for key in wanted {
        store.download(key, &root.join(key)).await?;
    }
    let predictions = root.join(&prefix);
    // The scored snapshot, whole or in parts (with its spec and summary, which are small).
    let features_prefix = format!("features/as_of={date}/");
    let features = match churn_io::sync::download_prefix(store, &features_prefix, root).await? {
        moved if moved.objects > 0 => Some(root.join(&features_prefix)),
        _ => None,
    };
    let customers = optional(
        store,
        "curated/customers/data.parquet",
        &root.join("customers.parquet"),
    )
    .await?;
    let loaded = {
        let sources = CandidateSources {
            predictions,
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

    let sinks = connections.connect(&deps.secrets, deps.ses.clone()).await?;
    let dispatcher = Dispatcher {
        ledger: &platform.actions,
        sinks: &sinks,
        quiet_hours: playbook.quiet_hours.as_ref(),
        clock: &deps.clock,
        options: deps.options.clone(),
    };
    let report = run_day(
        store,
        &platform.actions,
        &playbook,
        day,
        &loaded.candidates,
        Some(&dispatcher),
    )
    .await?;
    let summary = &report.summary;
    let count = |status: &str| summary.outcomes.get(status).copied().unwrap_or(0);
    tracing::info!(
        date,
        revision = summary.revision,
        frozen = summary.frozen,
        candidates = loaded.candidates.len(),
        planned = summary.plan.planned.values().sum::<u64>(),
        crm_syncs = summary.plan.crm_syncs,
        skipped = ?summary.plan.skipped,
        sent = count("sent"),
        already_done = count("already_done"),
        deferred = count("deferred"),
        failed = count("failed"),
        retry_later = count("retry_later"),
        busy = count("busy"),
        unknown = count("unknown"),
        expected_cost = summary.plan.expected_cost,
        expected_saved = summary.plan.expected_saved,
        "actions pushed"
    );
    if !summary.settled() {
        return Err(HandlerError::retryable(format!(
            "{date}: {} action(s) throttled, unreachable or busy; a retry sends them",
            count("retry_later") + count("busy")
        )));
    }
    Ok(Summary {
        date,
        skipped: None,
        day: Some(report.summary),
    })
}

fn config_missing(error: IoError) -> HandlerError {
    match error {
        IoError::NotFound(what) => HandlerError::permanent(format!(
            "{what}: upload the playbook and connections (see examples/ in the repository)"
        )),
        other => other.into(),
    }
}

/// Downloads `key` when it exists.
async fn optional<S: ObjectGet + Sync>(
    store: &S,
    key: &str,
    path: &Path,
) -> Result<Option<std::path::PathBuf>, HandlerError> {
    match store.download(key, path).await {
        Ok(_) => Ok(Some(path.to_path_buf())),
        Err(IoError::NotFound(_)) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The latest `predictions/dt=<date>/` with a day-level predictions file.
async fn latest_predictions(platform: &Platform) -> Result<String, HandlerError> {
    let objects = platform.store.list("predictions/").await?;
    objects
        .iter()
        .filter_map(|o| {
            let rest = o.key.strip_prefix("predictions/dt=")?;
            let (date, file) = rest.split_once('/')?;
            (file == "predictions.parquet").then(|| date.to_owned())
        })
        .max()
        .ok_or_else(|| {
            HandlerError::permanent(
                "no predictions/dt=<date>/predictions.parquet yet: nothing to act on",
            )
        })
}
