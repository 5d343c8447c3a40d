//! `churn-batch-predict`: the daily schedule or `ModelPromoted` → the feature snapshot
//! as of the day after the data ends, built in parts of at most 100,000 customers
//! (`features/as_of=<date>/part-*.parquet`, so a million customers fit in 2 GB), scored
//! by the registry's champion (the same use case as `churn predict`) →
//! `predictions/dt=<date>/` (scores, tiers, reasons, the ranked high-risk list;
//! `summary.json` last) → the online feature table, a part at a time →
//! `PredictionsReady`.
//!
//! Above `CHURN_FANOUT_ABOVE` customers the daily run only writes the snapshot and
//! publishes `SnapshotReady`, which starts the Step Functions Distributed Map: one child
//! per part (`{"Key": "features/as_of=<date>/part-00000.parquet"}`) scores it into
//! `predictions/dt=<date>/shard=<name>/` and refreshes its online rows (the snapshot's
//! other objects, its spec and summary, are skipped); then `{"merge": {...}}` sums the
//! shards up into the day's ranked high-risk list and summary and publishes the day's
//! `PredictionsReady` (the `merge` module).
//!
//! Idempotent: a (date, model, shard) is claimed in the ledger, so a replay writes
//! nothing twice.

use std::path::{Path, PathBuf};

use churn_core::Tier;
mod merge;

use churn_io::events::{PredictionsReady, SnapshotReady, domain_event};
use churn_io::online::OnlineRow;
use churn_io::store::ObjectGet;
use churn_io::sync::{download_prefix, upload_dir};
use churn_io::{HandlerError, Platform};
use churn_lambda::blocking;
use churn_pipeline::features::{SPEC_FILE, TABLE_FILE};
use churn_pipeline::predict::{PredictOptions, PredictSummary};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use serde::Serialize;

/// What one invocation did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub date: String,
    pub model: String,
    pub shard: Option<String>,
    pub rows: u64,
    pub high_risk: u64,
    pub online_rows: usize,
    /// Already done by an earlier delivery.
    pub duplicate: bool,
    /// Not a table (a shard item that is the snapshot's spec or summary).
    pub skipped: bool,
    /// Only the snapshot was written: the Distributed Map scores it.
    pub fanned_out: bool,
}

/// Horizon of the features built for scoring (their label is unknown anyway).
const HORIZON_DAYS: u32 = 30;

/// Settings from the function's environment.
#[derive(Debug, Clone)]
pub struct Options {
    /// `CHURN_SNAPSHOT_ROWS_PER_PART` (default 100,000): customers per part of the
    /// snapshot. Memory grows with it; 100,000 keeps a million customers within 2 GB.
    pub rows_per_part: u64,
    /// `CHURN_FANOUT_ABOVE` (default: never): above this many customers the daily run
    /// hands the snapshot to the Distributed Map instead of scoring it itself.
    pub fan_out_above: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            rows_per_part: churn_pipeline::features::ROWS_PER_PART,
            fan_out_above: None,
        }
    }
}

impl Options {
    pub fn from_env() -> Result<Self, HandlerError> {
        let mut options = Self::default();
        if let Ok(text) = std::env::var("CHURN_SNAPSHOT_ROWS_PER_PART") {
            options.rows_per_part =
                text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    HandlerError::permanent(format!(
                        "CHURN_SNAPSHOT_ROWS_PER_PART={text} is not a positive whole number"
                    ))
                })?;
        }
        Ok(options)
    }
}

/// Handles one invocation: an EventBridge event (schedule, `ModelPromoted`), a shard,
/// or the merge of a day's shards.
pub async fn handle(
    platform: &Platform,
    options: &Options,
    event: serde_json::Value,
) -> Result<Summary, HandlerError> {
    if let Some(merge) = event.get("merge") {
        let ready: SnapshotReady = serde_json::from_value(merge.clone())
            .map_err(|e| HandlerError::permanent(format!("a merge without its snapshot: {e}")))?;
        return merge::merge_day(platform, &ready).await;
    }
    let champion = platform.registry.champion().await?.ok_or_else(|| {
        HandlerError::permanent("no model has been promoted yet: nothing to score with")
    })?;
    let model = platform
        .registry
        .version(&champion.version)
        .await?
        .ok_or_else(|| {
            HandlerError::permanent(format!(
                "the champion {} has no registry entry",
                champion.version
            ))
        })?;

    let work = tempfile::tempdir()
        .map_err(|e| HandlerError::retryable(format!("a work folder in /tmp: {e}")))?;
    let root = work.path().to_path_buf();
    let model_dir = root.join("models").join(&model.version);
    let bytes = platform.store.get(&model.artifact_key).await?;
    write(&model_dir.join(churn_pipeline::models::BINARY_FILE), &bytes)?;

    // What to score, and where the predictions go.
    let shard = event["Key"].as_str().map(str::to_owned);
    if let Some(key) = shard.as_deref().filter(|key| !key.ends_with(".parquet")) {
        tracing::info!(key, "not a table of the snapshot: skipped");
        return Ok(Summary {
            shard: shard.clone(),
            skipped: true,
            ..Summary::default()
        });
    }
    let (features_dir, date, out_key) = match &shard {
        Some(key) => {
            let (dir, date) = shard_input(platform, key, &root).await?;
            let name = Path::new(key)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                dir,
                date.clone(),
                format!("predictions/dt={date}/shard={name}"),
            )
        }
        None => {
            download_prefix(&platform.store, "curated/", &root).await?;
            let date = snapshot_date(&root).await?;
            let dir = {
                let root = root.clone();
                let as_of = churn_pipeline::dates::parse_date(&date, "the snapshot date")
                    .map_err(|e| HandlerError::permanent(e.to_string()))?;
                let rows_per_part = options.rows_per_part;
                blocking("building the feature snapshot", move || {
                    let store = Store::new(&root);
                    let customers = churn_pipeline::features::customer_count(&store)?;
                    let parts = customers.div_ceil(rows_per_part).max(1) as usize;
                    let table = churn_pipeline::features::build_as_of_parts(
                        &store,
                        as_of,
                        HORIZON_DAYS,
                        None,
                        parts,
                    )?;
                    Ok((PathBuf::from(table.dir), customers, parts))
                })
                .await?
            };
            let (dir, customers, parts) = dir;
            if options.fan_out_above.is_some_and(|limit| customers > limit) {
                return fan_out(platform, &root, &dir, &date, &model.version, parts).await;
            }
            (dir, date.clone(), format!("predictions/dt={date}"))
        }
    };

    let ledger_key = format!("predict:{out_key}:{}", model.version);
    if churn_lambda::claim(platform, &ledger_key).await?.is_some() {
        return Ok(Summary {
            date,
            model: model.version,
            shard,
            duplicate: true,
            ..Summary::default()
        });
    }
    let keys = [ledger_key];
    let result = async {
        let (predicted, online_rows) =
            run(platform, &root, &model_dir, &features_dir, &out_key).await?;
        publish_ready(
            platform,
            (&date, &model.version, &out_key),
            predicted.rows,
            predicted.high_risk,
        )
        .await?;
        Ok(Summary {
            date: date.clone(),
            model: model.version.clone(),
            shard: shard.clone(),
            rows: predicted.rows,
            high_risk: predicted.high_risk,
            online_rows,
            ..Summary::default()
        })
    }
    .await;
    let summary = churn_lambda::settle(platform, &keys, result, |s| {
        format!("scored {} rows", s.rows)
    })
    .await?;
    tracing::info!(
        date = summary.date,
        model = summary.model,
        rows = summary.rows,
        high_risk = summary.high_risk,
        online_rows = summary.online_rows,
        "predictions written"
    );
    Ok(summary)
}

/// Scores a snapshot (or a shard of one) into `out_key`, uploads it, and writes the
/// snapshot's online rows, a part at a time.
async fn run(
    platform: &Platform,
    root: &Path,
    model_dir: &Path,
    features_dir: &Path,
    out_key: &str,
) -> Result<(PredictSummary, usize), HandlerError> {
    let out = root.join(out_key);
    let predicted = {
        let (model_dir, features_dir, out) = (
            model_dir.join(churn_pipeline::models::BINARY_FILE),
            features_dir.to_path_buf(),
            out.clone(),
        );
        let options = PredictOptions {
            reasons_from: Tier::High,
            ..PredictOptions::default()
        }
        .validate()
        .map_err(|e| HandlerError::permanent(format!("prediction options: {e}")))?;
        blocking("scoring", move || {
            churn_pipeline::predict::predict(&model_dir, &features_dir, &out, &options, &NoProgress)
        })
        .await?
    };
    upload_dir(&platform.store, root, out_key, &["summary.json"]).await?;
    if let Ok(relative) = features_dir.strip_prefix(root) {
        upload_dir(
            &platform.store,
            root,
            &relative.to_string_lossy(),
            &["summary.json"],
        )
        .await?;
    }
    let mut online_rows = 0;
    {
        let as_of = features_dir
            .file_name()
            .map(|n| n.to_string_lossy().trim_start_matches("as_of=").to_owned())
            .unwrap_or_default();
        let parts = churn_pipeline::features::table_files(features_dir)
            .map_err(|e| HandlerError::permanent(e.to_string()))?;
        // A part at a time: a million rows as JSON would not fit beside everything else.
        for part in parts {
            let dir = features_dir.to_path_buf();
            let rows = blocking("reading the feature rows", move || {
                churn_pipeline::features::rows_as_json(&dir, &part)
            })
            .await?;
            let rows: Vec<OnlineRow> = rows
                .into_iter()
                .map(|(customer_id, values)| OnlineRow {
                    customer_id,
                    as_of: as_of.clone(),
                    values,
                })
                .collect();
            online_rows += platform.online.put(&rows).await?;
        }
    }
    Ok((predicted, online_rows))
}

/// Uploads the snapshot and publishes `SnapshotReady` for the Distributed Map.
async fn fan_out(
    platform: &Platform,
    root: &Path,
    dir: &Path,
    date: &str,
    model: &str,
    parts: usize,
) -> Result<Summary, HandlerError> {
    let ledger_key = format!("snapshot:{date}:{model}");
    let summary = Summary {
        date: date.to_owned(),
        model: model.to_owned(),
        fanned_out: true,
        ..Summary::default()
    };
    if churn_lambda::claim(platform, &ledger_key).await?.is_some() {
        return Ok(Summary {
            duplicate: true,
            ..summary
        });
    }
    let result = async {
        let relative = dir
            .strip_prefix(root)
            .map(|p| p.to_string_lossy().into_owned())
            .map_err(|_| HandlerError::permanent("the snapshot is outside the work folder"))?;
        upload_dir(&platform.store, root, &relative, &["summary.json"]).await?;
        let ready = SnapshotReady {
            bucket: platform.settings.bucket.clone(),
            prefix: format!("{relative}/"),
            date: date.to_owned(),
            model: model.to_owned(),
            parts,
        };
        platform
            .events
            .publish(&[domain_event("SnapshotReady", &ready)])
            .await?;
        Ok(summary)
    }
    .await;
    let summary = churn_lambda::settle(platform, &[ledger_key], result, |_| {
        format!("snapshot of {parts} parts handed to the Distributed Map")
    })
    .await?;
    tracing::info!(date, model, parts, "snapshot ready for the Distributed Map");
    Ok(summary)
}

/// The snapshot date: the day after the curated data ends.
/// Publishes the day's `PredictionsReady` for the scores under `out_key`.
async fn publish_ready(
    platform: &Platform,
    (date, model, out_key): (&str, &str, &str),
    rows: u64,
    high_risk: u64,
) -> Result<(), HandlerError> {
    let ready = PredictionsReady {
        bucket: platform.settings.bucket.clone(),
        date: date.to_owned(),
        model: model.to_owned(),
        prefix: format!("{out_key}/"),
        high_risk_key: format!("{out_key}/high_risk.csv"),
        rows,
        high_risk,
    };
    platform
        .events
        .publish(&[domain_event("PredictionsReady", &ready)])
        .await?;
    Ok(())
}

async fn snapshot_date(root: &Path) -> Result<String, HandlerError> {
    let end = churn_lambda::curated_data_end(root).await?.ok_or_else(|| {
        HandlerError::permanent("the curated data has no events: nothing to score")
    })?;
    Ok((end + chrono::Duration::days(1)).to_string())
}

/// Downloads one shard object of a snapshot and its spec into a feature folder.
async fn shard_input(
    platform: &Platform,
    key: &str,
    root: &Path,
) -> Result<(PathBuf, String), HandlerError> {
    let folder = key.rsplit_once('/').map_or("", |(folder, _)| folder);
    let date = folder
        .rsplit('/')
        .find_map(|part| part.strip_prefix("as_of="))
        .ok_or_else(|| {
            HandlerError::permanent(format!("shard {key} is not under features/as_of=<date>/"))
        })?
        .to_owned();
    let dir = root.join("shard");
    write(&dir.join(TABLE_FILE), &platform.store.get(key).await?)?;
    write(
        &dir.join(SPEC_FILE),
        &platform.store.get(&format!("{folder}/{SPEC_FILE}")).await?,
    )?;
    Ok((dir, date))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), HandlerError> {
    let fail = |e: std::io::Error| HandlerError::retryable(format!("{}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, bytes).map_err(fail)
}
