//! What the API reads, behind one port: the champion, a customer's stored feature row,
//! the day's ranked list, and whether the store answers. [`AwsBackend`] reads the
//! stack's registry, bucket and online table; `churn serve` has a local one (see
//! `local`, with the `pipeline` feature) on a data directory.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use churn_io::AwsClients;
use churn_io::online::{OnlineFeatures, OnlineRow};
use churn_io::registry::ModelRegistry;
use churn_io::store::S3Store;
use serde_json::Value as Json;

use super::activity::Activity;
use super::list::RankedList;
use crate::AppError;
use crate::champion::{ChampionCache, Loaded};
use crate::platform::Settings;

/// The API's view of the platform.
pub trait Backend: Send + Sync + 'static {
    /// The champion, ready to score; `None` when no model was ever promoted.
    fn champion(&self) -> impl Future<Output = Result<Option<Arc<Loaded>>, AppError>> + Send;
    /// A customer's latest stored feature row.
    fn customer(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Option<OnlineRow>, AppError>> + Send;
    /// The latest prediction day, ranked; `None` when no day was predicted yet.
    fn ranked(&self) -> impl Future<Output = Result<Option<Arc<RankedList>>, AppError>> + Send;
    /// Checks that the feature store answers (for `/healthz`).
    fn check_store(&self) -> impl Future<Output = Result<(), AppError>> + Send;
    /// The actions planned for a customer, newest day first.
    fn actions(
        &self,
        customer_id: &str,
    ) -> impl Future<Output = Result<Vec<CustomerAction>, AppError>> + Send;
    /// Each kept action day's totals, newest first.
    fn action_days(&self) -> impl Future<Output = Result<Vec<ActionDay>, AppError>> + Send;
    /// The latest monitoring report's figures (`monitor.json`); `None` before the first.
    fn monitoring(&self) -> impl Future<Output = Result<Option<Json>, AppError>> + Send;
    /// A report's HTML; `None` when it was not written.
    fn report(
        &self,
        which: Report,
    ) -> impl Future<Output = Result<Option<String>, AppError>> + Send;
}

/// One action planned for a customer on an action day, and what became of it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerAction {
    pub day: String,
    /// The playbook's action id.
    pub action: String,
    pub kind: String,
    pub channel: String,
    /// The playbook rule that chose it.
    pub rule: Option<String>,
    pub probability: f64,
    pub tier: String,
    pub cost: f64,
    /// Expected saved value minus cost.
    pub expected_gain: f64,
    /// Why this action, in words.
    pub why: String,
    /// `sent`, `failed`, `deferred`... from the sending run; `planned (not sent)` for a
    /// dry run.
    pub status: String,
}

/// An action day's totals: how many retention actions were planned, what became of
/// them, and their expected value; the CRM risk syncs counted apart (as `churn actions`
/// counts them in `plan.json`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ActionDay {
    pub day: String,
    /// Retention actions (discounts, calls, support priority, messages).
    pub actions: usize,
    /// CRM contacts whose risk properties are synced.
    pub crm_syncs: usize,
    /// Retention actions by status (`planned (not sent)`, `sent`, `failed`, `deferred`...).
    pub statuses: std::collections::BTreeMap<String, usize>,
    /// The sum of the actions' expected gains (saved value minus cost).
    pub expected_gain: f64,
    pub cost: f64,
}

/// The HTML reports the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The champion's evaluation report (`churn evaluate`).
    Model,
    /// The latest monitoring report (`churn monitor`).
    Monitoring,
}

impl Report {
    pub const NAMES: &str = "model or monitoring";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "model" => Some(Self::Model),
            "monitoring" => Some(Self::Monitoring),
            _ => None,
        }
    }
}

/// The stack's registry (DynamoDB), bucket (S3) and online table (DynamoDB).
#[derive(Debug)]
pub struct AwsBackend {
    registry: ModelRegistry,
    store: S3Store,
    online: OnlineFeatures,
    champion: ChampionCache,
    activity: Activity<S3Store>,
}

impl AwsBackend {
    /// The champion is asked of the registry again every `refresh` (a promotion shows
    /// within it).
    pub fn new(clients: &AwsClients, settings: &Settings, refresh: Duration) -> Self {
        Self {
            registry: ModelRegistry::new(clients.dynamodb.clone(), &settings.registry_table),
            store: S3Store::new(clients.s3.clone(), &settings.bucket),
            online: OnlineFeatures::new(clients.dynamodb.clone(), &settings.online_table),
            champion: ChampionCache::new(refresh),
            activity: Activity::new(S3Store::new(clients.s3.clone(), &settings.bucket), refresh),
        }
    }
}

impl Backend for AwsBackend {
    async fn champion(&self) -> Result<Option<Arc<Loaded>>, AppError> {
        self.champion.get(&self.registry, &self.store).await
    }

    async fn customer(&self, customer_id: &str) -> Result<Option<OnlineRow>, AppError> {
        Ok(self.online.get(customer_id).await?)
    }

    async fn ranked(&self) -> Result<Option<Arc<RankedList>>, AppError> {
        self.activity.ranked().await
    }

    async fn check_store(&self) -> Result<(), AppError> {
        // A read of a key nobody writes: answered (absent) when the table is reachable.
        self.online.get("healthz-probe").await?;
        Ok(())
    }

    async fn actions(&self, customer_id: &str) -> Result<Vec<CustomerAction>, AppError> {
        self.activity.actions(customer_id).await
    }

    async fn action_days(&self) -> Result<Vec<ActionDay>, AppError> {
        self.activity.action_days().await
    }

    async fn monitoring(&self) -> Result<Option<Json>, AppError> {
        self.activity.monitoring().await
    }

    async fn report(&self, which: Report) -> Result<Option<String>, AppError> {
        let champion = self.champion().await?;
        let version = champion.as_deref().map(|loaded| loaded.version.as_str());
        self.activity.report(which, version).await
    }
}
