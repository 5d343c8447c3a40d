//! The platform's adapters, built once per process (a Lambda's cold start), and the
//! names they are built from.

use churn_io::AwsClients;
use churn_io::action_ledger::{ACTION_LEASE_SECONDS, DynamoActionLedger};
use churn_io::events::EventPublisher;
use churn_io::ledger::Ledger;
use churn_io::online::OnlineFeatures;
use churn_io::registry::ModelRegistry;
use churn_io::store::S3Store;

use crate::config::{ConfigError, Env};

/// The names of the bucket, tables and event bus every function works with.
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
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: env.required("CHURN_BUCKET", "the data bucket")?,
            registry_table: env.text("CHURN_REGISTRY_TABLE", "churn-models"),
            ledger_table: env.text("CHURN_LEDGER_TABLE", "churn-ledger"),
            online_table: env.text("CHURN_ONLINE_TABLE", "churn-online-features"),
            event_bus: env.text("CHURN_EVENT_BUS", "default"),
            event_source: env.text("CHURN_EVENT_SOURCE", "churn.platform"),
        })
    }

    /// The settings from any lookup (a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&Env::new(lookup))
    }
}

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

    /// `s3://<bucket>/<key>`, for messages.
    pub fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.settings.bucket)
    }
}
