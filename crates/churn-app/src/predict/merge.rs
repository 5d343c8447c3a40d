//! The last step of the Distributed Map: once every part of the snapshot is scored into
//! `predictions/dt=<day>/shard=<part>/`, the day's ranked high-risk list and summary
//! (`summary.json` last) and the day's `PredictionsReady`. Shards still running make it
//! fail retryably, so Step Functions tries again; a replay after success does nothing.

use churn_core::layout::{self, Key};
use churn_io::events::SnapshotReady;
use churn_io::store::{ObjectGet, ObjectList, ObjectPut};
use churn_pipeline::predict::shards::merge_shards;
use churn_pipeline::predict::{HIGH_RISK_CSV, HIGH_RISK_PARQUET, SUMMARY_FILE};

use super::{Summary, publish_ready};
use crate::once::{Once, once};
use crate::work::{WorkDir, blocking};
use crate::{AppError, Platform};

/// Merges the shards of the day `snapshot` was scored for.
pub async fn day(platform: &Platform, snapshot: &SnapshotReady) -> Result<Summary, AppError> {
    let day = churn_pipeline::dates::parse_date(&snapshot.date, "the snapshot's date")?;
    let out = layout::predictions(&day);
    let base = Summary {
        date: snapshot.date.clone(),
        model: snapshot.model.clone(),
        ..Summary::default()
    };
    let done = once(
        platform,
        "merge",
        format!("merge:{out}:{}", snapshot.model),
        || async {
            let parts = platform
                .store
                .list(&snapshot.prefix)
                .await?
                .iter()
                .filter(|o| o.key.ends_with(".parquet"))
                .count();
            // What merging reads: each shard's summary (written last) and high-risk list.
            let shard_prefix = out.join(layout::SHARD_PREFIX);
            let objects = platform.store.list(shard_prefix.as_str()).await?;
            let is = |key: &str, name: &str| key.rsplit('/').next() == Some(name);
            let finished = objects.iter().filter(|o| is(&o.key, SUMMARY_FILE)).count();
            if finished < parts {
                return Err(AppError::retryable(format!(
                    "{out}: {finished} of {parts} shards are scored; try again when the rest are"
                )));
            }
            let work = WorkDir::new()?;
            for object in objects
                .iter()
                .filter(|o| is(&o.key, SUMMARY_FILE) || is(&o.key, HIGH_RISK_PARQUET))
            {
                platform
                    .store
                    .download(&object.key, &work.root().join(&object.key))
                    .await?;
            }
            let merged = {
                let dir = work.at(&out);
                blocking("merging the shards", move || {
                    merge_shards(&dir, Some(parts))
                })
                .await?
            };
            merge_challengers(platform, &work, &out, parts).await?;
            // The day's files only, the summary last: the shards are in place already.
            for name in [HIGH_RISK_CSV, HIGH_RISK_PARQUET, SUMMARY_FILE] {
                let key = out.join(name);
                platform.store.upload(&work.at(&key), key.as_str()).await?;
            }
            publish_ready(platform, &snapshot.date, &snapshot.model, &out, &merged).await?;
            Ok(Summary {
                rows: merged.rows,
                high_risk: merged.high_risk,
                ..base.clone()
            })
        },
        |s: &Summary| format!("merged {} rows", s.rows),
    )
    .await?;
    Ok(match done {
        Once::Done(summary) => summary,
        Once::Earlier(_) => Summary {
            duplicate: true,
            ..base
        },
    })
}

/// Sums up each challenger's shards scored in shadow (`challenger=<id>/shard=*/`) into
/// its `summary.json`, before the day's own summary is written. A challenger missing
/// from some shard (it could not score there) is left out of the day, with a warning.
async fn merge_challengers(
    platform: &Platform,
    work: &WorkDir,
    day: &Key,
    parts: usize,
) -> Result<(), AppError> {
    let prefix = day.join(layout::CHALLENGER_PREFIX);
    let mut folders = std::collections::BTreeSet::new();
    for object in platform.store.list(prefix.as_str()).await? {
        if object.key.rsplit('/').next() == Some(SUMMARY_FILE) && layout::is_shard(&object.key) {
            platform
                .store
                .download(&object.key, &work.root().join(&object.key))
                .await?;
            // predictions/dt=<day>/challenger=<id>/shard=<part>/summary.json
            if let Some(folder) = object.key.rsplitn(3, '/').nth(2) {
                folders.insert(folder.to_owned());
            }
        }
    }
    for folder in folders {
        let dir = work.root().join(&folder);
        let merged = blocking("merging a challenger's shards", move || {
            churn_pipeline::predict::shards::merge_shadow_shards(&dir, Some(parts))
        })
        .await;
        match merged {
            Ok(summary) => {
                let key = format!("{folder}/{SUMMARY_FILE}");
                platform.store.upload(&work.root().join(&key), &key).await?;
                tracing::info!(
                    challenger = summary.model_id,
                    rows = summary.rows,
                    "challenger's shards merged"
                );
            }
            Err(error) if error.is_retryable() => return Err(error),
            Err(error) => {
                tracing::warn!(folder, error = %error, "a challenger is missing from the day: left out");
            }
        }
    }
    Ok(())
}
