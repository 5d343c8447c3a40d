//! The batch engine of the churn platform.
//!
//! `churn-pipeline` turns raw customer data into feature tables (and, later, models):
//! the raw-data [`contract`], the synthetic data [`generate`]or, [`ingest`] (validation,
//! cleaning, quarantine) and [`features`] as of a date, [`train`]ing, [`evaluate`],
//! [`predict`], and the [`actions`] candidates of a retention plan. The `churn` CLI and
//! the Lambda functions are thin shells over the use cases here.
//!
//! It knows nothing of Lambda events, environment variables or terminals: progress goes
//! through the [`progress::Progress`] trait, storage through [`store::Store`], and every
//! storage key is built by `churn_core::layout`.

pub mod actions;
pub mod contract;
pub mod dataset;
pub mod dates;
pub mod error;
pub mod evaluate;
pub mod features;
pub mod generate;
pub mod ingest;
pub mod models;
pub mod monitor;
pub mod predict;
pub mod progress;
pub mod reference;
pub mod rng;
pub mod store;
pub mod train;

pub use error::{PipelineError, Result};
