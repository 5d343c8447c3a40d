//! The real-time scoring API, whatever hosts it (a Lambda function URL today):
//!
//! - `POST /score` with `{"customer_id": "C042"}` scores the customer's latest feature
//!   row (the online feature table, written by batch prediction); with
//!   `{"record": {...}}` it scores the given feature record. Either way the answer is
//!   `{"model", "horizon_days", "probability", "tier", "reasons": [{"feature", "label",
//!   "value", "contribution"}]}`, scored by the registry's champion: the probability is
//!   that of churning within `horizon_days` (`null` for models that did not record it).
//! - `GET /health` answers 200 when a champion is loaded and the registry answers, and
//!   503 saying why otherwise: a load balancer or a deployment check can trust it.
//!
//! Bad requests get a 4xx with `{"error": "..."}` saying what to fix: 400 for bad JSON,
//! 404 for an unknown customer or path, 405 for a wrong method, 422 for a record the
//! model cannot score. A registry or store failure is a 503 (retry later). Customer data
//! never reaches the logs.

use std::time::{Duration, Instant};

use churn_io::AwsClients;
use churn_io::online::OnlineFeatures;
use churn_io::registry::ModelRegistry;
use churn_io::store::S3Store;
use serde_json::{Value as Json, json};

use crate::AppError;
use crate::champion::{ChampionCache, Loaded};
use crate::platform::Settings;

/// Reasons returned per score.
const REASONS: usize = 3;

/// One request, as the host received it.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
}

/// The answer: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Json,
}

/// A failure that becomes an HTTP answer.
#[derive(Debug)]
struct Failure {
    status: u16,
    message: String,
}

impl Failure {
    fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// A dependency failed: the details go to the log; the caller learns it may retry.
    fn unavailable(error: &AppError) -> Self {
        tracing::error!(error = %error, retryable = error.is_retryable(), "dependency failed");
        Self::new(
            503,
            "the model or feature store is unavailable; retry later",
        )
    }
}

/// The scoring API: its adapters and the cached champion.
#[derive(Debug)]
pub struct ScoreApi {
    registry: ModelRegistry,
    store: S3Store,
    online: OnlineFeatures,
    champion: ChampionCache,
}

impl ScoreApi {
    /// The API on the platform's tables and bucket; the champion is asked of the
    /// registry again every `refresh` (a promotion shows within it).
    pub fn new(clients: &AwsClients, settings: &Settings, refresh: Duration) -> Self {
        Self {
            registry: ModelRegistry::new(clients.dynamodb.clone(), &settings.registry_table),
            store: S3Store::new(clients.s3.clone(), &settings.bucket),
            online: OnlineFeatures::new(clients.dynamodb.clone(), &settings.online_table),
            champion: ChampionCache::new(refresh),
        }
    }

    /// Answers one request. Never fails: every problem is a status and a message.
    pub async fn handle(&self, request: ApiRequest<'_>) -> ApiResponse {
        let started = Instant::now();
        let result = match (request.method, request.path) {
            ("POST", "/score") => self.score(request.body).await,
            ("GET", "/health") => self.health().await,
            (_, "/score" | "/health") => Err(Failure::new(405, "use POST /score or GET /health")),
            (_, path) => Err(Failure::new(
                404,
                format!("no route {path}: use POST /score or GET /health"),
            )),
        };
        let response = match result {
            Ok(body) => ApiResponse { status: 200, body },
            Err(failure) => ApiResponse {
                status: failure.status,
                body: json!({ "error": failure.message }),
            },
        };
        tracing::info!(
            method = request.method,
            path = request.path,
            status = response.status,
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn champion(&self) -> Result<std::sync::Arc<Loaded>, Failure> {
        match self.champion.get(&self.registry, &self.store).await {
            Ok(Some(loaded)) => Ok(loaded),
            Ok(None) => Err(Failure::new(
                503,
                "no model has been promoted yet: train one first",
            )),
            Err(error) => Err(Failure::unavailable(&error)),
        }
    }

    async fn health(&self) -> Result<Json, Failure> {
        let loaded = self.champion().await?;
        Ok(json!({
            "status": "ok",
            "model": loaded.version,
            "horizon_days": loaded.scorer.artifact().lineage.horizon_days,
        }))
    }

    async fn score(&self, body: &[u8]) -> Result<Json, Failure> {
        let text =
            std::str::from_utf8(body).map_err(|_| Failure::new(400, "the body is not UTF-8"))?;
        let request: Json = serde_json::from_str(text).map_err(|e| {
            Failure::new(
                400,
                format!(
                    "the body is not JSON ({e}): send {{\"customer_id\": \"...\"}} or {{\"record\": {{...}}}}"
                ),
            )
        })?;
        let (customer_id, record) = match (&request["customer_id"], &request["record"]) {
            (Json::String(id), Json::Null) => {
                let row = self
                    .online
                    .get(id)
                    .await
                    .map_err(|e| Failure::unavailable(&e.into()))?
                    .ok_or_else(|| {
                        Failure::new(
                            404,
                            format!(
                                "customer '{id}' has no feature row (not scored by batch prediction yet?)"
                            ),
                        )
                    })?;
                (Some(id.clone()), Json::Object(row.values))
            }
            (Json::Null, record @ Json::Object(_)) => (None, record.clone()),
            _ => {
                return Err(Failure::new(
                    400,
                    "send {\"customer_id\": \"...\"} or {\"record\": {feature: value, ...}}, not both",
                ));
            }
        };
        let loaded = self.champion().await?;
        let unprocessable = |e: churn_core::ScoreError| Failure::new(422, e.to_string());
        let values = loaded
            .scorer
            .values_from_json(&record)
            .map_err(unprocessable)?;
        let explanation = loaded.scorer.explain(&values).map_err(unprocessable)?;
        let reasons: Vec<Json> = explanation
            .top_reasons(REASONS)
            .map(|reason| {
                json!({
                    "feature": reason.feature,
                    "label": reason.label(),
                    "value": reason.value,
                    "contribution": reason.contribution,
                })
            })
            .collect();
        let mut answer = json!({
            "model": loaded.version,
            "horizon_days": loaded.scorer.artifact().lineage.horizon_days,
            "probability": explanation.score.probability,
            "tier": explanation.score.tier.as_str(),
            "reasons": reasons,
        });
        if let Some(id) = customer_id {
            answer["customer_id"] = Json::String(id);
        }
        Ok(answer)
    }
}
