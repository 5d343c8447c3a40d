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
}

/// The stack's registry (DynamoDB), bucket (S3) and online table (DynamoDB).
#[derive(Debug)]
pub struct AwsBackend {
    registry: ModelRegistry,
    store: S3Store,
    online: OnlineFeatures,
    champion: ChampionCache,
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
        Err(AppError::permanent(
            "the ranked list is served by `churn serve` only for now: in the stack, read \
             predictions/dt=<day>/high_risk.csv from the bucket",
        ))
    }

    async fn check_store(&self) -> Result<(), AppError> {
        // A read of a key nobody writes: answered (absent) when the table is reachable.
        self.online.get("healthz-probe").await?;
        Ok(())
    }
}
