//! The application layer: the use cases the `churn` CLI, the Lambda functions and the
//! scoring API share, and what every one of them needs around its work.
//!
//! - [`ingest`], [`train`] (with the [`train::promotion`] policy), [`predict`] (with the
//!   Distributed Map's shards and their [`predict::merge`]), [`push`] (a day's retention
//!   actions, planned and sent once), [`monitor`] (drift, accuracy and the actions'
//!   effect, with the events that start a retraining): each a use case on the
//!   [`Platform`]'s adapters, running the pipeline's code in a [`work`] folder.
//! - [`api`]: the scoring API's HTTP router, one for both hosts (`churn serve` and the
//!   `churn-score-api` Lambda), on a [`api::Backend`] port (the stack's tables, or a
//!   local data directory).
//! - [`dates`]: which day a training or a scoring run works on.
//! - [`once`]: claim → run → settle → log in the idempotency ledger, written once.
//! - [`champion`]: the registry's champion with its artifact, loaded in one place.
//! - [`config`]: settings read from the environment, typed, checked and recorded.
//! - [`AppError`]: one error, retryable or not as the layer below decided; the functions
//!   report it to Lambda as `Retryable` or `Permanent`.
//!
//! It holds the rules that decide what runs when (the dates, the promotion policy, the
//! frozen plan of a day), and knows no CLI flags and no Lambda event envelopes: the
//! binaries translate those into the typed requests here.
//!
//! Features: `pipeline` (every use case; without it only [`api`] on the stack's
//! backend, which links no polars) and `lambda`
//! (`AppError` as Lambda's `Diagnostic`).
//!
//! Where this differs from the target in `ARCHITECTURE.md`: the batch use cases work on
//! the AWS adapters of [`Platform`] (the CLI shares the dates, the day's plan and its
//! dispatcher, which are generic over their stores), since a local ledger does not
//! exist yet; only the API has a local backend.

pub mod api;
pub mod champion;
pub mod config;
mod error;
pub mod once;
pub mod platform;

#[cfg(feature = "pipeline")]
pub mod dates;
#[cfg(feature = "pipeline")]
pub mod ingest;
#[cfg(feature = "pipeline")]
pub mod monitor;
#[cfg(feature = "pipeline")]
pub mod predict;
#[cfg(feature = "pipeline")]
pub mod push;
#[cfg(feature = "pipeline")]
pub mod registry;
#[cfg(feature = "pipeline")]
pub mod train;
#[cfg(feature = "pipeline")]
pub mod work;

pub use error::AppError;
pub use platform::{LEASE_SECONDS, Platform, Settings};

/// Logs as JSON lines for CloudWatch, one per event, filtered by `RUST_LOG`, without
/// timestamps (CloudWatch adds them).
pub fn init_lambda_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_current_span(false)
        .without_time()
        .init();
}

/// The variables [`init_lambda_logging`] reads (for the template check).
pub const LOGGING_VARIABLES: &[&str] = &["RUST_LOG"];
