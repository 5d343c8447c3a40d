//! Where a function's data lives, from its environment (set by infra/template.yaml).

use crate::IoError;

/// The names of the bucket, tables and event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `CHURN_BUCKET`: the data bucket (`raw/`, `curated/`, `models/`, ...).
    pub bucket: String,
    /// `CHURN_REGISTRY_TABLE`, default `churn-models`.
    pub registry_table: String,
    /// `CHURN_LEDGER_TABLE`, default `churn-ledger`.
    pub ledger_table: String,
    /// `CHURN_ONLINE_TABLE`, default `churn-online-features`.
    pub online_table: String,
    /// `CHURN_EVENT_BUS`, default `default`.
    pub event_bus: String,
    /// `CHURN_EVENT_SOURCE`, default `churn.platform`.
    pub event_source: String,
}

impl Settings {
    /// Reads the settings; a missing `CHURN_BUCKET` is an error naming it.
    pub fn from_env() -> Result<Self, IoError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from any lookup (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, IoError> {
        let or = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let bucket = lookup("CHURN_BUCKET")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| IoError::Corrupt {
                target: "environment".into(),
                message: "CHURN_BUCKET is not set: name the data bucket".into(),
            })?;
        Ok(Self {
            bucket,
            registry_table: or("CHURN_REGISTRY_TABLE", "churn-models"),
            ledger_table: or("CHURN_LEDGER_TABLE", "churn-ledger"),
            online_table: or("CHURN_ONLINE_TABLE", "churn-online-features"),
            event_bus: or("CHURN_EVENT_BUS", "default"),
            event_source: or("CHURN_EVENT_SOURCE", "churn.platform"),
        })
    }
}
