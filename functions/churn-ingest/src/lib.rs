//! `churn-ingest`: an upload under `raw/` → the whole raw data set validated, cleaned and
//! curated (the same use case as `churn ingest`) → `curated/`, `quarantine/`,
//! `reports/ingest-report.json` → `DatasetIngested`.
//!
//! Idempotent: each uploaded object (bucket, key, sequencer) is claimed in the ledger,
//! so an event delivered twice is processed once. The work happens in a temporary
//! folder under `/tmp`; outputs are uploaded whole, the report last.

use std::path::Path;

use aws_lambda_events::event::s3::S3Event;
use churn_io::events::{DatasetIngested, domain_event};
use churn_io::store::{ObjectDelete, ObjectPut, decode_event_key};
use churn_io::sync::{download_prefix, upload_dir};
use churn_io::{HandlerError, Platform};
use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use serde::Serialize;

/// What one invocation did (also its structured log line).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Objects of the event under `raw/`.
    pub objects: usize,
    /// Objects already processed by an earlier delivery.
    pub duplicates: usize,
    /// Whether the data set was ingested in this invocation.
    pub ingested: bool,
    pub curated_rows: u64,
    pub quarantined_rows: u64,
    pub duplicate_rows: u64,
    /// Raw objects refused as a whole (moved to `quarantine/objects/`).
    pub quarantined_objects: Vec<String>,
}

/// At most this many whole objects are set aside in one invocation; more means something
/// upstream is broken, and the ingest stops with the error instead.
const MAX_POISON_OBJECTS: usize = 10;

/// Handles one S3 notification (one or more records).
pub async fn handle(platform: &Platform, event: S3Event) -> Result<Summary, HandlerError> {
    let mut summary = Summary::default();
    let mut claimed = Vec::new();
    let mut trigger = None;
    for record in &event.records {
        let bucket = record.s3.bucket.name.as_deref().unwrap_or_default();
        let raw_key = record.s3.object.key.as_deref().unwrap_or_default();
        let key = decode_event_key(raw_key)?;
        if bucket != platform.settings.bucket || !key.starts_with("raw/") {
            tracing::warn!(
                bucket,
                key,
                "not an upload under raw/ of the data bucket; ignored"
            );
            continue;
        }
        summary.objects += 1;
        let version = record
            .s3
            .object
            .sequencer
            .as_deref()
            .or(record.s3.object.e_tag.as_deref())
            .unwrap_or_default();
        let ledger_key = format!("ingest:{bucket}/{key}:{version}");
        match churn_lambda::claim(platform, &ledger_key).await {
            Ok(None) => {
                claimed.push(ledger_key);
                trigger.get_or_insert(key);
            }
            Ok(Some(_)) => summary.duplicates += 1,
            Err(error) => {
                // Give back what this invocation claimed, so the retry can claim it.
                for key in &claimed {
                    platform.ledger.release(key).await?;
                }
                return Err(error);
            }
        }
    }
    let Some(trigger) = trigger else {
        tracing::info!(summary = ?summary, "nothing new to ingest");
        return Ok(summary);
    };

    let ingested = churn_lambda::settle(platform, &claimed, run(platform, &trigger).await, |i| {
        format!("ingested: {} rows curated", i.curated_rows)
    })
    .await?;
    summary.ingested = true;
    summary.curated_rows = ingested.curated_rows;
    summary.quarantined_rows = ingested.quarantined_rows;
    summary.duplicate_rows = ingested.duplicate_rows;
    summary.quarantined_objects = ingested.quarantined_objects;
    tracing::info!(
        objects = summary.objects,
        duplicates = summary.duplicates,
        curated = summary.curated_rows,
        quarantined = summary.quarantined_rows,
        duplicate_rows = summary.duplicate_rows,
        quarantined_objects = summary.quarantined_objects.len(),
        "ingested"
    );
    Ok(summary)
}

/// Downloads `raw/`, ingests it in a temporary folder, uploads the results and
/// publishes `DatasetIngested`. A raw object the pipeline refuses as a whole (a wrong
/// header, a damaged Parquet file) is moved to `quarantine/objects/<key>` with a
/// `<key>.reason.txt` beside it, and the rest is ingested without it.
async fn run(platform: &Platform, trigger: &str) -> Result<DatasetIngested, HandlerError> {
    let work = tempfile::tempdir()
        .map_err(|e| HandlerError::retryable(format!("a work folder in /tmp: {e}")))?;
    let root = work.path().to_path_buf();
    let remote = format!("s3://{}/", platform.settings.bucket);
    // Messages name objects, not the work folder.
    let readable = |error: &churn_pipeline::PipelineError| {
        error
            .to_string()
            .replace(&format!("{}/", root.display()), &remote)
    };
    download_prefix(&platform.store, "raw/", &root).await?;
    // The run date is the reference date: an event after it cannot have happened (the
    // pipeline takes it as a parameter and reads no clock).
    let today = churn_pipeline::dates::from_days(churn_io::now_epoch().div_euclid(86_400) as i32);
    let mut quarantined_objects = Vec::new();
    let report = loop {
        let attempt = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || {
                ingest(&Store::new(&root), &IngestOptions::new(today), &NoProgress)
            })
            .await
            .map_err(|e| HandlerError::permanent(format!("ingest stopped: {e}")))?
        };
        match attempt {
            Ok(report) => break report,
            Err(error @ churn_pipeline::PipelineError::BadFile { .. })
                if quarantined_objects.len() < MAX_POISON_OBJECTS =>
            {
                let churn_pipeline::PipelineError::BadFile { file, .. } = &error else {
                    unreachable!("matched above")
                };
                let Some(key) = file
                    .strip_prefix(&root)
                    .ok()
                    .map(|k| k.to_string_lossy().replace('\\', "/"))
                    .filter(|k| k.starts_with("raw/"))
                else {
                    return Err(HandlerError::permanent(readable(&error)));
                };
                let reason = readable(&error);
                tracing::warn!(key, reason, "raw object refused as a whole; quarantined");
                set_aside(platform, &root, &key, &reason).await?;
                quarantined_objects.push(key);
            }
            Err(error) => return Err(HandlerError::permanent(readable(&error))),
        }
    };
    upload(platform, &root).await?;
    let sum =
        |f: fn(&churn_pipeline::ingest::SourceReport) -> u64| report.sources.values().map(f).sum();
    let data_end = churn_lambda::curated_data_end(&root)
        .await?
        .map(|day| day.to_string());
    let event = DatasetIngested {
        bucket: platform.settings.bucket.clone(),
        trigger: trigger.to_owned(),
        data_end,
        curated_rows: sum(|s| s.curated),
        quarantined_rows: sum(|s| s.quarantined),
        duplicate_rows: sum(|s| s.duplicates),
        quarantined_objects,
    };
    platform
        .events
        .publish(&[domain_event("DatasetIngested", &event)])
        .await?;
    Ok(event)
}

/// Moves a refused raw object to `quarantine/objects/`, with its reason, out of `raw/`
/// (here and in the bucket), so later ingests are not blocked by it.
async fn set_aside(
    platform: &Platform,
    root: &Path,
    key: &str,
    reason: &str,
) -> Result<(), HandlerError> {
    let local = root.join(key);
    let target = format!("quarantine/objects/{key}");
    platform.store.upload(&local, &target).await?;
    platform
        .store
        .put(&format!("{target}.reason.txt"), reason.as_bytes().to_vec())
        .await?;
    platform.store.delete(key).await?;
    std::fs::remove_file(&local)
        .map_err(|e| HandlerError::retryable(format!("{}: {e}", local.display())))
}

async fn upload(platform: &Platform, root: &Path) -> Result<(), HandlerError> {
    upload_dir(&platform.store, root, "curated", &[]).await?;
    upload_dir(&platform.store, root, "quarantine", &[]).await?;
    upload_dir(&platform.store, root, "reports", &["ingest-report.json"]).await?;
    Ok(())
}
