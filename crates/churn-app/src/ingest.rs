//! Ingest on a cloud store: uploads under `raw/` → the whole raw data set validated,
//! cleaned and curated (the pipeline's `ingest`, the same as `churn ingest`) in a work
//! folder → a new dataset version (`curated/v=<version>/`, `quarantine/v=<version>/`,
//! `reports/v=<version>/`), published by writing `curated/_current.json` last →
//! `DatasetIngested`.
//!
//! Once per upload: each object (bucket, key, version) is claimed in the ledger, so an
//! upload notified twice is ingested once. A raw object the pipeline refuses as a whole
//! (a wrong header, a damaged Parquet file) is set aside to `quarantine/objects/` with
//! its reason, and the rest is ingested without it.

use std::time::Instant;

use churn_core::layout;
use churn_io::events::{DatasetIngested, domain_event};
use churn_io::ledger::Claim;
use churn_io::store::{ObjectDelete, ObjectList, ObjectPut};
use churn_io::sync::upload_dir;
use churn_pipeline::ingest::{IngestOptions, SourceReport, ingest};
use churn_pipeline::progress::NoProgress;
use serde::Serialize;

use crate::once::{claim_all, settle};
use crate::work::{WorkDir, blocking};
use crate::{AppError, Platform};

/// An object an upload notification names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub bucket: String,
    /// Already URL-decoded.
    pub key: String,
    /// What tells two uploads of the same key apart (S3's sequencer, or the ETag).
    pub version: String,
}

/// What one notification did (also its structured log line).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSummary {
    /// Objects of the notification under `raw/` of the data bucket.
    pub objects: usize,
    /// Objects already ingested by an earlier delivery.
    pub duplicates: usize,
    /// Whether the data set was ingested now.
    pub ingested: bool,
    /// The dataset version it published.
    pub version: Option<String>,
    pub curated_rows: u64,
    pub quarantined_rows: u64,
    pub duplicate_rows: u64,
    /// Raw objects refused as a whole (moved to `quarantine/objects/`).
    pub quarantined_objects: Vec<String>,
}

/// At most this many whole objects are set aside in one run; more means something
/// upstream is broken, and the ingest stops with the error instead.
const MAX_POISON_OBJECTS: usize = 10;

/// Ingests the data set after `uploads` (one notification's objects).
pub async fn on_uploads(
    platform: &Platform,
    uploads: &[Upload],
    options: &IngestOptions,
) -> Result<IngestSummary, AppError> {
    let mut summary = IngestSummary::default();
    let raw = raw_prefix();
    let mut keys = Vec::new();
    let mut trigger = None;
    for upload in uploads {
        if upload.bucket != platform.settings.bucket || !upload.key.starts_with(&raw) {
            tracing::warn!(
                bucket = upload.bucket,
                key = upload.key,
                "not an upload under raw/ of the data bucket; ignored"
            );
            continue;
        }
        summary.objects += 1;
        keys.push(format!(
            "ingest:{}/{}:{}",
            upload.bucket, upload.key, upload.version
        ));
        trigger.get_or_insert(upload.key.clone());
    }
    let claimed = claim_all(platform, &keys).await?;
    summary.duplicates = claimed.earlier.len();
    let Some(trigger) = trigger.filter(|_| !claimed.keys.is_empty()) else {
        tracing::info!(summary = ?summary, "nothing new to ingest");
        return Ok(summary);
    };
    let started = Instant::now();
    let result = run(platform, &trigger, options).await;
    let ingested = settle(platform, "ingest", &claimed.keys, started, result, |i| {
        format!("ingested: {} rows curated", i.curated_rows)
    })
    .await?;
    summary.ingested = true;
    summary.version = ingested.version;
    summary.curated_rows = ingested.curated_rows;
    summary.quarantined_rows = ingested.quarantined_rows;
    summary.duplicate_rows = ingested.duplicate_rows;
    summary.quarantined_objects = ingested.quarantined_objects;
    Ok(summary)
}

/// The ledger key that holds a bucket's data set while an ingest works on it.
fn dataset_lease(platform: &Platform) -> String {
    format!("ingest-dataset:{}", platform.settings.bucket)
}

/// Rounds of ingest when uploads keep arriving while it runs, before it publishes what
/// it has (the next upload's notification ingests the rest).
const MAX_ROUNDS: usize = 3;

/// Downloads `raw/`, ingests it in a work folder, publishes the new dataset version
/// (its folders, then the pointer) and `DatasetIngested`. One ingest of a bucket at a
/// time: the data set is leased in the ledger, and a second ingest fails retryably (the
/// stack also runs the function one at a time), so the last writer cannot publish a data
/// set missing the other's rows. Uploads that arrive while it runs are seen before it
/// publishes, and ingested with the rest.
async fn run(
    platform: &Platform,
    trigger: &str,
    options: &IngestOptions,
) -> Result<DatasetIngested, AppError> {
    let lease = dataset_lease(platform);
    match platform.ledger.claim(&lease, churn_io::now_epoch()).await? {
        // Taken over: the holder died (its lease ran out), nothing of it was published.
        Claim::Acquired | Claim::TakenOver => {}
        Claim::Busy { .. } => {
            return Err(AppError::retryable(format!(
                "another ingest of {} is running; retry when it has published",
                platform.url(&raw_prefix())
            )));
        }
        Claim::Done { outcome } => {
            return Err(AppError::permanent(format!(
                "the ledger item {lease} is marked done ({outcome}), which no ingest writes: delete it"
            )));
        }
    }
    let result = ingest_and_publish(platform, trigger, options).await;
    let released = platform.ledger.release(&lease).await;
    match (result, released) {
        (Ok(event), Ok(())) => Ok(event),
        (Ok(_), Err(error)) => Err(error.into()),
        (Err(error), released) => {
            if let Err(release) = released {
                tracing::error!(error = %release, lease, "the data set's lease was not given back");
            }
            Err(error)
        }
    }
}

async fn ingest_and_publish(
    platform: &Platform,
    trigger: &str,
    options: &IngestOptions,
) -> Result<DatasetIngested, AppError> {
    let raw = layout::root(layout::RAW);
    let mut quarantined_objects = Vec::new();
    let mut round = 0;
    let (work, report) = loop {
        round += 1;
        let work = WorkDir::new()?;
        let listed = platform.store.list(&raw.prefix()).await?;
        work.download(&platform.store, &raw).await?;
        let report = ingest_work(platform, &work, options, &mut quarantined_objects).await?;
        let now = platform.store.list(&raw.prefix()).await?;
        if now == listed || round == MAX_ROUNDS {
            break (work, report);
        }
        tracing::info!(round, "raw/ changed while ingesting: ingesting again");
    };
    let version = report.version.clone();
    let current = crate::work::published(&platform.store).await?;
    if current.as_ref().is_some_and(|c| c.version == version) {
        tracing::info!(version, "the data set is unchanged: already published");
    } else {
        // The version's folders first, its report last of them; the pointer last of all.
        for folder in layout::DATASET_FOLDERS {
            let key = layout::version_folder(folder, &version);
            upload_dir(
                &platform.store,
                work.root(),
                key.as_str(),
                &[layout::INGEST_REPORT_FILE],
            )
            .await?;
        }
        let pointer = layout::dataset_pointer();
        let mut published: churn_pipeline::dataset::Published =
            serde_json::from_slice(&std::fs::read(work.at(&pointer)).map_err(|e| {
                AppError::from(churn_pipeline::PipelineError::io(work.at(&pointer), e))
            })?)
            .map_err(|e| AppError::permanent(format!("{pointer}: {e}")))?;
        published.previous = current.map(|c| c.version);
        let bytes = serde_json::to_vec_pretty(&published)
            .map_err(|e| AppError::permanent(format!("{pointer}: {e}")))?;
        platform.store.put(pointer.as_str(), bytes).await?;
        tracing::info!(version, "dataset published");
    }
    let sum = |f: fn(&SourceReport) -> u64| report.sources.values().map(f).sum();
    let data_end = curated_data_end(&work).await?.map(|day| day.to_string());
    let event = DatasetIngested {
        bucket: platform.settings.bucket.clone(),
        trigger: trigger.to_owned(),
        version: Some(version),
        data_end,
        curated_rows: sum(|s| s.curated),
        quarantined_rows: report.quarantined(),
        duplicate_rows: report.duplicates(),
        quarantined_objects,
    };
    platform
        .events
        .publish(&[domain_event("DatasetIngested", &event)?])
        .await?;
    Ok(event)
}

/// Ingests the raw data of a work folder; a raw object refused as a whole is set aside
/// (in the bucket too) and the ingest runs again without it.
async fn ingest_work(
    platform: &Platform,
    work: &WorkDir,
    options: &IngestOptions,
    quarantined_objects: &mut Vec<String>,
) -> Result<churn_pipeline::ingest::IngestReport, AppError> {
    let remote = platform.url("");
    loop {
        let attempt = {
            let (store, options) = (work.store(), options.clone());
            blocking("ingest", move || ingest(&store, &options, &NoProgress)).await
        };
        let error = match attempt {
            Ok(report) => return Ok(report),
            Err(error) => error,
        };
        // A raw object refused as a whole: set aside, and the rest goes through. Its
        // reason starts with the object it is about.
        let poison = match &error {
            AppError::Step { source, .. } => match source.as_ref() {
                bad @ AppError::Pipeline(churn_pipeline::PipelineError::BadFile {
                    file, ..
                }) => layout::key_of(work.root(), file)
                    .filter(|key| key.starts_with(&raw_prefix()))
                    .map(|key| (key, work.readable(&bad.to_string(), &remote))),
                _ => None,
            },
            _ => None,
        };
        match poison {
            Some((key, reason)) if quarantined_objects.len() < MAX_POISON_OBJECTS => {
                tracing::warn!(key, reason, "raw object refused as a whole; quarantined");
                set_aside(platform, work, &key, &reason).await?;
                quarantined_objects.push(key);
            }
            _ => {
                let reason = work.readable(&error.to_string(), &remote);
                return Err(if error.is_retryable() {
                    AppError::retryable(reason)
                } else {
                    AppError::permanent(reason)
                });
            }
        }
    }
}

fn raw_prefix() -> String {
    layout::root(layout::RAW).prefix()
}

/// Moves a refused raw object to `quarantine/objects/`, with its reason, out of `raw/`
/// (in the work folder and in the bucket), so later ingests are not blocked by it.
async fn set_aside(
    platform: &Platform,
    work: &WorkDir,
    key: &str,
    reason: &str,
) -> Result<(), AppError> {
    let local = work.root().join(key);
    platform
        .store
        .upload(&local, layout::quarantined_object(key).as_str())
        .await?;
    platform
        .store
        .put(
            layout::quarantined_object_reason(key).as_str(),
            reason.as_bytes().to_vec(),
        )
        .await?;
    platform.store.delete(key).await?;
    std::fs::remove_file(&local)
        .map_err(|e| AppError::from(churn_pipeline::PipelineError::io(&local, e)))
}

/// The last day with events in the curated data of a work folder, if any.
pub async fn curated_data_end(work: &WorkDir) -> Result<Option<chrono::NaiveDate>, AppError> {
    let store = work.store();
    blocking("reading the curated data", move || {
        let sources = churn_pipeline::features::load_sources(&store)?;
        Ok(churn_pipeline::features::data_end(&sources)?.map(churn_pipeline::dates::from_days))
    })
    .await
}
