//! Once-only work: claim → run → settle → log, written once for every use case.
//!
//! Before a unit of work runs, its key is claimed in the idempotency ledger with a
//! conditional write; after, it is settled: finished with an outcome on success (a later
//! delivery gets that outcome back and does nothing), released on a retryable failure
//! (the retry claims it again at once), and finished as `failed: ...` on a permanent one
//! (every replay ends at once with the same error, instead of failing the same way
//! slowly). A claim whose holder died is taken over when its lease runs out.

use std::future::Future;
use std::time::Instant;

use churn_io::ledger::Claim;
use churn_io::now_epoch;

use crate::{AppError, Platform};

/// What became of a unit of work.
#[derive(Debug, Clone, PartialEq)]
pub enum Once<T> {
    /// This invocation did it.
    Done(T),
    /// An earlier delivery did; its recorded outcome.
    Earlier(String),
}

/// The keys of a batch that this invocation holds, and the outcomes of those an earlier
/// delivery finished.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Claimed {
    pub keys: Vec<String>,
    pub earlier: Vec<String>,
}

const FAILED: &str = "failed: ";

/// Claims every key of a batch. A key that failed for good before fails the batch with
/// that error; a key held by a running invocation fails it retryably. Either way the keys
/// claimed so far are given back first, so the retry can claim them.
pub async fn claim_all(platform: &Platform, keys: &[String]) -> Result<Claimed, AppError> {
    let mut claimed = Claimed::default();
    for key in keys {
        let refused = match platform.ledger.claim(key, now_epoch()).await {
            // A whole-event use case redoes its work from the start: taking over is
            // acquiring.
            Ok(Claim::Acquired | Claim::TakenOver) => {
                claimed.keys.push(key.clone());
                continue;
            }
            Ok(Claim::Done { outcome }) => match outcome.strip_prefix(FAILED) {
                Some(error) => AppError::permanent(format!("{key} failed before: {error}")),
                None => {
                    claimed.earlier.push(outcome);
                    continue;
                }
            },
            Ok(Claim::Busy { .. }) => AppError::retryable(format!(
                "{key} is being processed by another invocation; retry later"
            )),
            Err(error) => error.into(),
        };
        for held in &claimed.keys {
            platform.ledger.release(held).await?;
        }
        return Err(refused);
    }
    Ok(claimed)
}

/// Records how the work on the claimed `keys` ended, logs it, and passes the result on.
pub async fn settle<T>(
    platform: &Platform,
    unit: &'static str,
    keys: &[String],
    started: Instant,
    result: Result<T, AppError>,
    outcome: impl FnOnce(&T) -> String,
) -> Result<T, AppError> {
    let seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(value) => {
            let outcome = outcome(value);
            for key in keys {
                platform.ledger.finish(key, now_epoch(), &outcome).await?;
            }
            tracing::info!(unit, keys = ?keys, outcome, seconds, "finished");
        }
        Err(error) => {
            let retryable = error.is_retryable();
            for key in keys {
                if retryable {
                    platform.ledger.release(key).await?;
                } else {
                    let failed = format!("{FAILED}{error}");
                    platform.ledger.finish(key, now_epoch(), &failed).await?;
                }
            }
            tracing::error!(unit, keys = ?keys, error = %error, retryable, seconds, "failed");
        }
    }
    result
}

/// Runs `work` once for `key`: claimed, run, settled and logged.
pub async fn once<T, Fut>(
    platform: &Platform,
    unit: &'static str,
    key: String,
    work: impl FnOnce() -> Fut,
    outcome: impl FnOnce(&T) -> String,
) -> Result<Once<T>, AppError>
where
    Fut: Future<Output = Result<T, AppError>>,
{
    let keys = [key];
    let claimed = claim_all(platform, &keys).await?;
    if let Some(earlier) = claimed.earlier.into_iter().next() {
        tracing::info!(
            unit,
            key = keys[0],
            outcome = earlier,
            "done by an earlier delivery"
        );
        return Ok(Once::Earlier(earlier));
    }
    let started = Instant::now();
    let result = work().await;
    settle(platform, unit, &keys, started, result, outcome)
        .await
        .map(Once::Done)
}
