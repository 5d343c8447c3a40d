//! The fixed sets of values some flags take (`clap::ValueEnum`), and what each means to
//! the pipeline.

use churn_core::Tier;
use churn_pipeline::store::RawFormat;
use churn_pipeline::train::SelectionMetric;
use churn_pipeline::train::calibrate::CalibrationKind;
use churn_pipeline::train::family::Family;

/// The file formats of raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Csv,
    #[value(alias = "ndjson", alias = "json")]
    Jsonl,
    Parquet,
}

impl From<FormatArg> for RawFormat {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Csv => RawFormat::Csv,
            FormatArg::Jsonl => RawFormat::JsonLines,
            FormatArg::Parquet => RawFormat::Parquet,
        }
    }
}

/// The model families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FamilyArg {
    /// Logistic regression.
    Lr,
    /// Random forest.
    Rf,
    /// Gradient-boosted trees.
    Gbdt,
}

impl From<FamilyArg> for Family {
    fn from(family: FamilyArg) -> Self {
        match family {
            FamilyArg::Lr => Family::Linear,
            FamilyArg::Rf => Family::Forest,
            FamilyArg::Gbdt => Family::Boosting,
        }
    }
}

/// The metric that selects configs and the champion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MetricArg {
    #[value(alias = "roc_auc", alias = "auc")]
    RocAuc,
    #[value(alias = "pr_auc", alias = "average-precision")]
    PrAuc,
}

impl From<MetricArg> for SelectionMetric {
    fn from(metric: MetricArg) -> Self {
        match metric {
            MetricArg::RocAuc => SelectionMetric::RocAuc,
            MetricArg::PrAuc => SelectionMetric::PrAuc,
        }
    }
}

/// The calibration fitted on out-of-fold predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CalibrationArg {
    Platt,
    Isotonic,
    None,
}

impl From<CalibrationArg> for CalibrationKind {
    fn from(calibration: CalibrationArg) -> Self {
        match calibration {
            CalibrationArg::Platt => CalibrationKind::Platt,
            CalibrationArg::Isotonic => CalibrationKind::Isotonic,
            CalibrationArg::None => CalibrationKind::None,
        }
    }
}

/// A risk tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TierArg {
    High,
    Medium,
    #[value(alias = "all")]
    Low,
}

impl From<Tier> for TierArg {
    fn from(tier: Tier) -> Self {
        match tier {
            Tier::High => TierArg::High,
            Tier::Medium => TierArg::Medium,
            Tier::Low => TierArg::Low,
        }
    }
}

impl From<TierArg> for Tier {
    fn from(tier: TierArg) -> Self {
        match tier {
            TierArg::High => Tier::High,
            TierArg::Medium => Tier::Medium,
            TierArg::Low => Tier::Low,
        }
    }
}
