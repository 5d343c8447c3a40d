//! The last step of the Distributed Map: once every part of the snapshot is scored into
//! `predictions/dt=<day>/shard=<part>/`, the day's ranked high-risk list and summary
//! (`summary.json` last) and the day's `PredictionsReady`. Shards still running make it
//! fail retryably, so Step Functions tries again; a replay after success does nothing.

use churn_io::events::SnapshotReady;
use churn_io::store::{ObjectGet, ObjectList, ObjectPut};
use churn_pipeline::layout;
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
