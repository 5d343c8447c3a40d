//! Every adapter a function uses, built once per cold start, and the error a handler
//! returns.

use crate::actions::ledger::{ACTION_LEASE_SECONDS, DynamoActionLedger};
use crate::events::EventPublisher;
use crate::ledger::Ledger;
use crate::online::OnlineFeatures;
use crate::registry::ModelRegistry;
use crate::store::S3Store;
use crate::{AwsClients, IoError, Settings};

/// The platform's stores, tables and bus.
#[derive(Debug, Clone)]
pub struct Platform {
    pub settings: Settings,
    pub store: S3Store,
    pub registry: ModelRegistry,
    pub ledger: Ledger,
    /// Retention actions' keys and cool-down days, in the same table as `ledger`.
    pub actions: DynamoActionLedger,
    pub online: OnlineFeatures,
    pub events: EventPublisher,
}

/// Claims outlive the longest function timeout (15 minutes).
pub const LEASE_SECONDS: i64 = 20 * 60;

impl Platform {
    pub fn new(clients: &AwsClients, settings: &Settings) -> Self {
        Self {
            settings: settings.clone(),
            store: S3Store::new(clients.s3.clone(), &settings.bucket),
            registry: ModelRegistry::new(clients.dynamodb.clone(), &settings.registry_table),
            ledger: Ledger::new(
                clients.dynamodb.clone(),
                &settings.ledger_table,
                LEASE_SECONDS,
            ),
            actions: DynamoActionLedger::new(
                clients.dynamodb.clone(),
                &settings.ledger_table,
                ACTION_LEASE_SECONDS,
            ),
            online: OnlineFeatures::new(clients.dynamodb.clone(), &settings.online_table),
            events: EventPublisher::new(
                clients.eventbridge.clone(),
                &settings.event_bus,
                &settings.event_source,
            ),
        }
    }
}

/// Why a handler failed, and whether the invocation should be retried. Retryable
/// failures (a throttled or unreachable service) are returned to Lambda, which retries;
/// permanent ones (bad data, a refused condition) are recorded in the ledger so every
/// retry and replay ends at once with the same message, and reach the on-failure
/// destination.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct HandlerError {
    pub message: String,
    pub retryable: bool,
}

impl HandlerError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }
}

impl From<IoError> for HandlerError {
    fn from(error: IoError) -> Self {
        Self {
            retryable: error.is_retryable(),
            message: error.to_string(),
        }
    }
}

/// Seconds since the epoch, for ledger leases (functions may read the clock; the
/// pipeline and core never do).
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
