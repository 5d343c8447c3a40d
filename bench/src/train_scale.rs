//! Where `train-scale` leaves its data, model and feature table: defined once here for it
//! and for the benchmarks that read them (`reasons-scale`, `boosting-speed`).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use churn_pipeline::generate::GenerateConfig;

/// Its default data directory.
pub fn dir() -> PathBuf {
    std::env::temp_dir().join("churn-train-scale")
}

/// The as-of date of its features: 89 days before the generator's last day, so the
/// 90-day labels are complete.
pub fn as_of(config: &GenerateConfig) -> NaiveDate {
    config.end_date - chrono::Duration::days(89)
}

/// Its feature folder under `dir`.
pub fn features(dir: &Path) -> PathBuf {
    churn_core::layout::features_as_of(&as_of(&GenerateConfig::default())).local(dir)
}

/// Its model folder under `dir`.
pub fn model(dir: &Path) -> PathBuf {
    dir.join("models/scale")
}
