//! Batch prediction on a cloud store. The daily run builds the feature snapshot as of the
//! day after the data ends, in parts of at most `rows_per_part` customers
//! (`features/as_of=<day>/part-*.parquet`, so a million customers fit in 2 GB), scores it
//! with the champion (the pipeline's `predict`, as `churn predict`) into
//! `predictions/dt=<day>/` (`summary.json` last), refreshes the online feature table a
//! part at a time, and publishes `PredictionsReady`.
//!
//! Above `fan_out_above` customers the daily run only writes the snapshot and publishes
//! `SnapshotReady`, which starts the Step Functions Distributed Map: one child per part
//! ([`shard`]) scores it into `predictions/dt=<day>/shard=<part>/` and refreshes its
//! online rows; then [`merge::day`] sums the shards up into the day's ranked high-risk
//! list and summary and publishes the day's `PredictionsReady`.
//!
//! The challenger ([`champion::challenger_of`]: the newest model trained after the
//! champion) is scored in shadow beside a whole day into
//! `predictions/dt=<day>/challenger=<id>/`, scores only; the monitor compares the two
//! once the labels mature. On a day of the Distributed Map each shard scores its part
//! into `challenger=<id>/shard=<part>/` and the merge sums them up.
//!
//! Once per (day, model, shard): a replay writes nothing twice.

pub mod merge;

use std::path::Path;

use churn_core::layout::{self, Key};
use churn_io::events::{PredictionsReady, SnapshotReady, domain_event};
use churn_io::online::OnlineRow;
use churn_io::store::ObjectGet;
use churn_io::sync::upload_dir;
use churn_pipeline::features::{SPEC_FILE, SUMMARY_FILE, TABLE_FILE};
use churn_pipeline::predict::{PredictOptions, PredictSummary};
use churn_pipeline::progress::NoProgress;
use serde::Serialize;

use crate::champion::Champion;
use crate::dates::{DEFAULT_HORIZON_DAYS, scoring_as_of};
use crate::ingest::curated_data_end;
use crate::once::{Once, once};
use crate::work::{WorkDir, blocking};
use crate::{AppError, Platform, champion};

/// How batch prediction runs.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictConfig {
    /// Customers per part of the snapshot. Memory grows with it; 100,000 keeps a million
    /// customers within 2 GB.
    pub rows_per_part: u64,
    /// Above this many customers the daily run hands the snapshot to the Distributed
    /// Map instead of scoring it itself (`None`: never).
    pub fan_out_above: Option<u64>,
}

impl Default for PredictConfig {
    fn default() -> Self {
        Self {
            rows_per_part: churn_pipeline::features::ROWS_PER_PART,
            fan_out_above: None,
        }
    }
}

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
    /// The challenger scored in shadow beside the champion (`challenger=<id>/`).
    pub challenger: Option<String>,
}

/// The daily run: the snapshot as of the day after the data ends, scored at once or
/// handed to the Distributed Map.
pub async fn daily(platform: &Platform, config: &PredictConfig) -> Result<Summary, AppError> {
    let champion = champion::required(&platform.registry, &platform.store).await?;
    let work = WorkDir::new()?;
    work.download_dataset(&platform.store).await?;
    let end = curated_data_end(&work)
        .await?
        .ok_or_else(|| AppError::permanent("the curated data has no events: nothing to score"))?;
    let day = scoring_as_of(end);
    let snapshot = layout::features_as_of(&day);
    let customers = {
        let (store, dir, rows_per_part) = (work.store(), work.at(&snapshot), config.rows_per_part);
        let horizon = horizon_of(&champion);
        blocking("building the feature snapshot", move || {
            let customers = churn_pipeline::features::customer_count(&store)?;
            let parts = customers.div_ceil(rows_per_part).max(1) as usize;
            churn_pipeline::features::build_as_of_parts(&store, day, horizon, Some(&dir), parts)?;
            Ok(customers)
        })
        .await?
    };
    let date = day.to_string();
    if config.fan_out_above.is_some_and(|limit| customers > limit) {
        return fan_out(platform, &work, &snapshot, &date, &champion.entry.version).await;
    }
    let out = layout::predictions(&day);
    score(
        platform, &work, &champion, &snapshot, &date, &out, None, None,
    )
    .await
}

/// One item of the Distributed Map: a part of a snapshot (`{"Key": ...}`), scored into
/// its shard folder. The snapshot's other objects (its spec, its summary) are skipped.
pub async fn shard(platform: &Platform, key: &str) -> Result<Summary, AppError> {
    let Some(name) = key
        .strip_suffix(".parquet")
        .map(|k| k.rsplit('/').next().unwrap_or(k))
    else {
        tracing::info!(key, "not a table of the snapshot: skipped");
        return Ok(Summary {
            shard: Some(key.to_owned()),
            skipped: true,
            ..Summary::default()
        });
    };
    let date = layout::parse_as_of(key)
        .ok_or_else(|| {
            AppError::permanent(format!("shard {key} is not under features/as_of=<date>/"))
        })?
        .to_owned();
    let day = churn_pipeline::dates::parse_date(&date, "the shard's date")?;
    let champion = champion::required(&platform.registry, &platform.store).await?;
    let work = WorkDir::new()?;
    // The part, as the table of a feature folder of its own, with the snapshot's spec.
    let snapshot = layout::features_as_of(&day);
    let local = layout::root("shard");
    write(
        &work.at(&local.join(TABLE_FILE)),
        &platform.store.get(key).await?,
    )?;
    let spec = platform
        .store
        .get(snapshot.join(SPEC_FILE).as_str())
        .await?;
    write(&work.at(&local.join(SPEC_FILE)), &spec)?;
    let out = layout::prediction_shard(&day, name);
    score(
        platform,
        &work,
        &champion,
        &local,
        &date,
        &out,
        Some(key.to_owned()),
        Some(name),
    )
    .await
}

/// The horizon the champion predicts (models older than the horizon's record: the
/// default). The snapshot's label is unknown anyway; its summary says what it is for.
fn horizon_of(champion: &Champion) -> u32 {
    champion
        .artifact
        .lineage
        .horizon_days
        .unwrap_or(DEFAULT_HORIZON_DAYS)
}

/// Scores the feature folder `features` of the work folder into `out` (a whole day, or
/// the shard of `part`), once per (out, model), uploads it, refreshes the online rows and
/// publishes `PredictionsReady`.
#[allow(clippy::too_many_arguments)] // one private step, called twice
async fn score(
    platform: &Platform,
    work: &WorkDir,
    champion: &Champion,
    features: &Key,
    date: &str,
    out: &Key,
    shard: Option<String>,
    part: Option<&str>,
) -> Result<Summary, AppError> {
    let version = champion.entry.version.clone();
    let key = format!("predict:{out}:{version}");
    let done = once(
        platform,
        "predict",
        key,
        || async {
            let (predicted, online_rows, challenger) =
                score_and_upload(platform, work, champion, features, date, out, part).await?;
            publish_ready(platform, date, &version, out, &predicted).await?;
            Ok(Summary {
                date: date.to_owned(),
                model: version.clone(),
                shard: shard.clone(),
                rows: predicted.rows,
                high_risk: predicted.high_risk,
                online_rows,
                challenger,
                ..Summary::default()
            })
        },
        |s: &Summary| format!("scored {} rows", s.rows),
    )
    .await?;
    Ok(match done {
        Once::Done(summary) => summary,
        Once::Earlier(_) => Summary {
            date: date.to_owned(),
            model: version.clone(),
            shard,
            duplicate: true,
            ..Summary::default()
        },
    })
}

/// Scores with the champion and the challenger in shadow (into the challenger's folder
/// of the day, or of the shard of `part`), uploads both and refreshes the online rows;
/// returns the summary, the online rows written and the challenger scored.
async fn score_and_upload(
    platform: &Platform,
    work: &WorkDir,
    champion: &Champion,
    features: &Key,
    date: &str,
    out: &Key,
    part: Option<&str>,
) -> Result<(PredictSummary, usize, Option<String>), AppError> {
    let model = work.at(&layout::model_binary(&champion.entry.version));
    write(&model, &champion.binary)?;
    let features_dir = work.at(features);
    let predicted = {
        let (model, features_dir, out) = (model.clone(), features_dir.clone(), work.at(out));
        // The CLI's default: reasons for the high tier, the list the CRM step acts on.
        let options = PredictOptions::default()
            .validate()
            .map_err(churn_pipeline::PipelineError::from)?;
        blocking("scoring", move || {
            churn_pipeline::predict::predict(&model, &features_dir, &out, &options, &NoProgress)
        })
        .await?
    };
    // Before the champion's summary goes up: a merge that finds every shard finished
    // finds their challengers' too.
    let day = churn_pipeline::dates::parse_date(date, "the day scored")?;
    let challenger = shadow(platform, work, champion, &features_dir, |id| {
        let folder = layout::prediction_challenger(&day, id);
        match part {
            Some(part) => folder.join(&format!("{}{part}", layout::SHARD_PREFIX)),
            None => folder,
        }
    })
    .await?;
    if let (Some((_, folder)), Some(_)) = (&challenger, part) {
        // A shard's challenger is beside the shard, not in it.
        upload_dir(
            &platform.store,
            work.root(),
            folder.as_str(),
            &[churn_pipeline::predict::SUMMARY_FILE],
        )
        .await?;
    }
    let challenger = challenger.map(|(id, _)| id);
    upload_dir(
        &platform.store,
        work.root(),
        out.as_str(),
        &[churn_pipeline::predict::SUMMARY_FILE],
    )
    .await?;
    // The daily run's snapshot goes up too (the actions read its segments); a shard's
    // part is in the bucket already.
    if layout::parse_as_of(features.as_str()).is_some() {
        upload_dir(
            &platform.store,
            work.root(),
            features.as_str(),
            &[SUMMARY_FILE],
        )
        .await?;
    }
    let mut online_rows = 0;
    // A part at a time: a million rows as JSON would not fit beside everything else.
    for part in churn_pipeline::features::table_files(&features_dir)? {
        let dir = features_dir.clone();
        let rows = blocking("reading the feature rows", move || {
            churn_pipeline::features::rows_as_json(&dir, &part)
        })
        .await?;
        let rows: Vec<OnlineRow> = rows
            .into_iter()
            .map(|(customer_id, values)| OnlineRow {
                customer_id,
                as_of: date.to_owned(),
                values,
            })
            .collect();
        online_rows += platform.online.put(&rows).await?;
    }
    Ok((predicted, online_rows, challenger))
}

/// Scores the challenger in shadow into the day's folder (`challenger=<id>/`), if there
/// is one. Reaching the registry or the store is retried with the day; a challenger that
/// cannot score (a damaged artifact, features it does not know) is logged and left out,
/// since only the champion's scores drive the day.
async fn shadow(
    platform: &Platform,
    work: &WorkDir,
    champion: &Champion,
    features_dir: &Path,
    folder_of: impl FnOnce(&str) -> Key,
) -> Result<Option<(String, Key)>, AppError> {
    let Some((entry, binary)) =
        champion::challenger(&platform.registry, &platform.store, champion).await?
    else {
        return Ok(None);
    };
    let model = work.at(&layout::model_binary(&entry.version));
    write(&model, &binary)?;
    let folder = folder_of(&entry.version);
    let (features_dir, out) = (features_dir.to_path_buf(), work.at(&folder));
    let scored = blocking("scoring the challenger in shadow", move || {
        churn_pipeline::predict::shadow_into(&model, &features_dir, &out, &NoProgress)
    })
    .await;
    match scored {
        Ok(summary) => {
            tracing::info!(
                challenger = summary.model_id,
                rows = summary.rows,
                folder = %folder,
                "challenger scored in shadow"
            );
            Ok(Some((entry.version, folder)))
        }
        Err(error) if error.is_retryable() => Err(error),
        Err(error) => {
            tracing::error!(challenger = entry.version, error = %error, "the challenger cannot score: left out of the day");
            Ok(None)
        }
    }
}

/// Uploads the snapshot and publishes `SnapshotReady` for the Distributed Map, once.
async fn fan_out(
    platform: &Platform,
    work: &WorkDir,
    snapshot: &Key,
    date: &str,
    model: &str,
) -> Result<Summary, AppError> {
    let summary = Summary {
        date: date.to_owned(),
        model: model.to_owned(),
        fanned_out: true,
        ..Summary::default()
    };
    let done = once(
        platform,
        "fan-out",
        format!("snapshot:{date}:{model}"),
        || async {
            upload_dir(
                &platform.store,
                work.root(),
                snapshot.as_str(),
                &[SUMMARY_FILE],
            )
            .await?;
            let parts = churn_pipeline::features::table_files(&work.at(snapshot))?.len();
            let ready = SnapshotReady {
                bucket: platform.settings.bucket.clone(),
                prefix: snapshot.prefix(),
                date: date.to_owned(),
                model: model.to_owned(),
                parts,
            };
            platform
                .events
                .publish(&[domain_event("SnapshotReady", &ready)?])
                .await?;
            Ok(parts)
        },
        |parts| format!("snapshot of {parts} parts handed to the Distributed Map"),
    )
    .await?;
    Ok(Summary {
        duplicate: matches!(done, Once::Earlier(_)),
        ..summary
    })
}

/// Publishes the day's (or a shard's) `PredictionsReady` for the scores under `out`.
async fn publish_ready(
    platform: &Platform,
    date: &str,
    model: &str,
    out: &Key,
    predicted: &PredictSummary,
) -> Result<(), AppError> {
    let ready = PredictionsReady {
        bucket: platform.settings.bucket.clone(),
        date: date.to_owned(),
        model: model.to_owned(),
        prefix: out.prefix(),
        high_risk_key: out.join(churn_pipeline::predict::HIGH_RISK_CSV).to_string(),
        rows: predicted.rows,
        high_risk: predicted.high_risk,
    };
    platform
        .events
        .publish(&[domain_event("PredictionsReady", &ready)?])
        .await?;
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    let io = |e| AppError::from(churn_pipeline::PipelineError::io(path, e));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}
