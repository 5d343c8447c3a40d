//! The EventBridge publisher of the platform's domain events (`DatasetIngested`,
//! `ModelPromoted`, `SnapshotReady`, `PredictionsReady`, `DriftDetected`,
//! `PerformanceDegraded`): batches of at most 10 entries per
//! PutEvents call, as the API requires, and entries EventBridge rejects retried.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::IoError;

/// One domain event: its type (EventBridge's `detail-type`) and its JSON detail.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainEvent {
    pub detail_type: String,
    pub detail: serde_json::Value,
}

/// Publishes to one event bus under one source (e.g. `churn.platform`).
#[derive(Debug, Clone)]
pub struct EventPublisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
    source: String,
}

/// PutEvents takes at most this many entries.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
const ATTEMPTS: u32 = 4;

impl EventPublisher {
    pub fn new(
        client: aws_sdk_eventbridge::Client,
        bus: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Self {
            client,
            bus: bus.into(),
            source: source.into(),
        }
    }

    /// Publishes every event; returns the number of PutEvents calls made.
    pub async fn publish(&self, events: &[DomainEvent]) -> Result<usize, IoError> {
        let mut calls = 0;
        for batch in events.chunks(MAX_ENTRIES_PER_CALL) {
            let mut pending: Vec<PutEventsRequestEntry> = batch
                .iter()
                .map(|event| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(&self.source)
                        .detail_type(&event.detail_type)
                        .detail(event.detail.to_string())
                        .build()
                })
                .collect();
            let mut attempt = 0;
            loop {
                let output = self
                    .client
                    .put_events()
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| IoError::sdk("PutEvents", format!("event bus {}", self.bus), e))?;
                calls += 1;
                attempt += 1;
                if output.failed_entry_count() == 0 {
                    break;
                }
                // Entries come back in request order; failed ones carry an error code.
                let mut retryable = true;
                let mut reasons = Vec::new();
                let mut again = Vec::new();
                for (entry, result) in pending.iter().zip(output.entries()) {
                    if let Some(code) = result.error_code() {
                        retryable &= matches!(
                            code,
                            "ThrottlingException" | "InternalFailure" | "InternalException"
                        );
                        reasons.push(format!(
                            "{code}: {}",
                            result.error_message().unwrap_or_default()
                        ));
                        again.push(entry.clone());
                    }
                }
                if !retryable || attempt == ATTEMPTS {
                    return Err(IoError::Service {
                        operation: "PutEvents",
                        target: format!("event bus {}", self.bus),
                        message: format!(
                            "{} of {} entries rejected: {}",
                            again.len(),
                            pending.len(),
                            reasons.join("; ")
                        ),
                        retryable,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                pending = again;
            }
        }
        Ok(calls)
    }
}

/// `DatasetIngested`: raw data was validated and curated.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DatasetIngested {
    pub bucket: String,
    /// The object whose upload started it.
    pub trigger: String,
    /// The dataset version published (`curated/v=<version>/`).
    #[serde(default)]
    pub version: Option<String>,
    /// The last day with events in the curated data (YYYY-MM-DD), if any.
    pub data_end: Option<String>,
    pub curated_rows: u64,
    pub quarantined_rows: u64,
    pub duplicate_rows: u64,
    /// Raw objects refused as a whole, moved to `quarantine/objects/`.
    #[serde(default)]
    pub quarantined_objects: Vec<String>,
}

/// `ModelPromoted`: a new champion.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelPromoted {
    pub bucket: String,
    pub version: String,
    pub artifact_key: String,
    pub metric_name: String,
    pub metric: f64,
    /// The champion it replaced.
    pub previous: Option<String>,
    /// The features' as-of date it was trained on.
    pub as_of: String,
}

/// `PredictionsReady`: a day's scores and high-risk list are written.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PredictionsReady {
    pub bucket: String,
    pub date: String,
    pub model: String,
    pub prefix: String,
    pub high_risk_key: String,
    pub rows: u64,
    pub high_risk: u64,
}

/// `SnapshotReady`: a feature snapshot in parts waits for the Distributed Map (one child
/// per part), then for the merge of the day's shards.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotReady {
    pub bucket: String,
    /// `features/as_of=<date>/`.
    pub prefix: String,
    pub date: String,
    pub model: String,
    pub parts: usize,
}

/// `DriftDetected`: the monitor found features (or the scores) drifted to the alert
/// level. The monitoring report is under `report_prefix`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriftDetected {
    pub bucket: String,
    /// The prediction day monitored.
    pub date: String,
    /// The model whose reference the data was held against.
    pub model: String,
    /// `alert` (warnings publish nothing).
    pub level: churn_core::drift::Level,
    /// The features at alert, most urgent (drift × importance) first, then those missing
    /// or changed in kind.
    pub features: Vec<String>,
    /// `monitoring/dt=<date>/`.
    pub report_prefix: String,
}

/// `PerformanceDegraded`: realised or estimated ROC-AUC fell below the floor.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerformanceDegraded {
    pub bucket: String,
    pub date: String,
    pub model: String,
    /// Each figure below the floor: its prediction day, `realised` or `estimated`, the
    /// ROC-AUC and the floor.
    pub degraded: Vec<churn_core::estimate::Degradation>,
    pub report_prefix: String,
}

/// A typed domain event as an EventBridge entry. Fails only for a detail that is not
/// plain data (a map with non-string keys): a bug, reported instead of sent empty.
pub fn domain_event(
    detail_type: &str,
    detail: &impl serde::Serialize,
) -> Result<DomainEvent, IoError> {
    Ok(DomainEvent {
        detail_type: detail_type.to_owned(),
        detail: serde_json::to_value(detail).map_err(|e| IoError::Corrupt {
            target: format!("the {detail_type} event"),
            message: e.to_string(),
        })?,
    })
}
