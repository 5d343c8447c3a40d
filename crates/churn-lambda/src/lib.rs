//! What every churn Lambda handler shares, so each `functions/churn-*` is only its event
//! decoding and its use case:
//!
//! - [`init_logging`]: one JSON line per event, no timestamps (CloudWatch adds them).
//! - [`claim`] and [`settle`]: the idempotency ledger around one unit of work. A claimed
//!   key is finished with an outcome on success, released on a retryable failure (the
//!   retry claims it again), and finished as `failed: ...` on a permanent one, so every
//!   retry and replay ends at once with the same error.
//! - `blocking` (feature `pipeline`): pipeline code (synchronous, CPU-bound) off the
//!   async runtime.

use churn_io::ledger::Claim;
use churn_io::{HandlerError, Platform, now_epoch};

/// Logs as JSON lines for CloudWatch, filtered by `RUST_LOG`.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_current_span(false)
        .without_time()
        .init();
}

/// Claims `key`. `Ok(None)`: this invocation does the work. `Ok(Some(outcome))`: an
/// earlier delivery did it. A permanent earlier failure is returned again; a claim held
/// by a running invocation is a retryable error.
pub async fn claim(platform: &Platform, key: &str) -> Result<Option<String>, HandlerError> {
    match platform.ledger.claim(key, now_epoch()).await? {
        // A whole-event use case redoes its work from the start: taking over is acquiring.
        Claim::Acquired | Claim::TakenOver => Ok(None),
        Claim::Done { outcome } if outcome.starts_with("failed") => {
            Err(HandlerError::permanent(outcome))
        }
        Claim::Done { outcome } => Ok(Some(outcome)),
        Claim::Busy { .. } => Err(HandlerError::retryable(format!(
            "{key} is being processed by another invocation; retry later"
        ))),
    }
}

/// Records how the work on the claimed `keys` ended, and passes the result on.
pub async fn settle<T>(
    platform: &Platform,
    keys: &[String],
    result: Result<T, HandlerError>,
    outcome: impl FnOnce(&T) -> String,
) -> Result<T, HandlerError> {
    let now = now_epoch();
    match &result {
        Ok(value) => {
            let outcome = outcome(value);
            for key in keys {
                platform.ledger.finish(key, now, &outcome).await?;
            }
        }
        Err(error) => {
            for key in keys {
                if error.retryable {
                    platform.ledger.release(key).await?;
                } else {
                    let failed = format!("failed: {}", error.message);
                    platform.ledger.finish(key, now, &failed).await?;
                }
            }
            tracing::error!(error = error.message, retryable = error.retryable, "failed");
        }
    }
    result
}

#[cfg(feature = "pipeline")]
/// Runs pipeline code on the blocking pool; its errors are permanent (bad data does not
/// get better by retrying), prefixed with `what`.
pub async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> churn_pipeline::Result<T> + Send + 'static,
) -> Result<T, HandlerError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| HandlerError::permanent(format!("{what} stopped: {e}")))?
        .map_err(|e| HandlerError::permanent(format!("{what}: {e}")))
}

/// The last day with events in the curated data downloaded under `root`, if any.
#[cfg(feature = "pipeline")]
pub async fn curated_data_end(
    root: &std::path::Path,
) -> Result<Option<chrono::NaiveDate>, HandlerError> {
    let store = churn_pipeline::store::Store::new(root);
    blocking("reading the curated data", move || {
        let sources = churn_pipeline::features::load_sources(&store)?;
        Ok(churn_pipeline::features::data_end(&sources)?.map(churn_pipeline::dates::from_days))
    })
    .await
}
