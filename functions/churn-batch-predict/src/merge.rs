//! The last step of the Distributed Map: once every part of the snapshot is scored into
//! `predictions/dt=<date>/shard=<part>/`, the day's ranked high-risk list and summary
//! (`summary.json` last) and the day's `PredictionsReady`. Shards still running make it
//! fail retryably, so Step Functions tries again; a replay after success does nothing.

use churn_io::events::SnapshotReady;
use churn_io::store::{ObjectGet, ObjectList, ObjectPut};
use churn_io::{HandlerError, Platform};
use churn_lambda::blocking;
use churn_pipeline::predict::shards::{SHARD_PREFIX, merge_shards};

use crate::Summary;

/// Merges the shards of the day `snapshot` was scored for.
pub async fn merge_day(
    platform: &Platform,
    snapshot: &SnapshotReady,
) -> Result<Summary, HandlerError> {
    let out_key = format!("predictions/dt={}", snapshot.date);
    let ledger_key = format!("merge:{out_key}:{}", snapshot.model);
    let base = Summary {
        date: snapshot.date.clone(),
        model: snapshot.model.clone(),
        ..Summary::default()
    };
    if churn_lambda::claim(platform, &ledger_key).await?.is_some() {
        return Ok(Summary {
            duplicate: true,
            ..base
        });
    }
    let result = async {
        let parts = platform
            .store
            .list(&snapshot.prefix)
            .await?
            .iter()
            .filter(|o| o.key.ends_with(".parquet"))
            .count();
        // What merging reads: each shard's summary (written last) and high-risk list.
        let shard_prefix = format!("{out_key}/{SHARD_PREFIX}");
        let objects = platform.store.list(&shard_prefix).await?;
        let finished = objects
            .iter()
            .filter(|o| o.key.ends_with("/summary.json"))
            .count();
        if finished < parts {
            return Err(HandlerError::retryable(format!(
                "{out_key}: {finished} of {parts} shards are scored; try again when the rest are"
            )));
        }
        let work = tempfile::tempdir()
            .map_err(|e| HandlerError::retryable(format!("a work folder in /tmp: {e}")))?;
        let root = work.path().to_path_buf();
        for object in objects
            .iter()
            .filter(|o| o.key.ends_with("/summary.json") || o.key.ends_with("/high_risk.parquet"))
        {
            platform
                .store
                .download(&object.key, &root.join(&object.key))
                .await?;
        }
        let merged = {
            let dir = root.join(&out_key);
            blocking("merging the shards", move || {
                merge_shards(&dir, Some(parts))
            })
            .await?
        };
        // The day's files only: the shards are in place already.
        for name in ["high_risk.csv", "high_risk.parquet"] {
            let key = format!("{out_key}/{name}");
            platform.store.upload(&root.join(&key), &key).await?;
        }
        let key = format!("{out_key}/summary.json");
        platform.store.upload(&root.join(&key), &key).await?;
        crate::publish_ready(
            platform,
            (&snapshot.date, &snapshot.model, &out_key),
            merged.rows,
            merged.high_risk,
        )
        .await?;
        Ok(Summary {
            rows: merged.rows,
            high_risk: merged.high_risk,
            ..base.clone()
        })
    }
    .await;
    let summary = churn_lambda::settle(platform, &[ledger_key], result, |s| {
        format!("merged {} rows", s.rows)
    })
    .await?;
    tracing::info!(
        date = summary.date,
        rows = summary.rows,
        high_risk = summary.high_risk,
        "shards merged"
    );
    Ok(summary)
}
