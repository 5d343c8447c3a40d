//! `churn-score-api`: real-time scoring behind a Lambda function URL.
//!
//! - `POST /score` with `{"customer_id": "C042"}` scores the customer's latest feature
//!   row (the online feature table, written by batch prediction); with
//!   `{"record": {...}}` it scores the given raw feature record. Either way the answer is
//!   `{"model", "probability", "tier", "reasons": [{"feature", "value",
//!   "contribution"}]}`, with the champion model of the registry.
//! - `GET /health` says whether a model is loaded.
//!
//! Bad requests get a 4xx with `{"error": "..."}` saying what to fix: 400 for bad JSON,
//! 404 for an unknown customer or path, 405 for a wrong method, 422 for a record the model
//! cannot score (a wrong type, an unknown feature). A registry or S3 failure is a 503
//! (retry later); none of them is a crash.

use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::{ModelArtifact, Scorer};
use churn_io::online::OnlineFeatures;
use churn_io::registry::ModelRegistry;
use churn_io::store::{ObjectGet, S3Store};
use churn_io::{AwsClients, IoError, Settings};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value as Json, json};
use tokio::sync::Mutex;

/// Reasons returned per score.
const REASONS: usize = 3;

/// The champion, loaded.
#[derive(Debug)]
struct Loaded {
    version: String,
    scorer: Arc<Scorer>,
    checked: Instant,
}

/// The API: its adapters and the cached champion.
#[derive(Debug)]
pub struct App {
    registry: ModelRegistry,
    store: S3Store,
    online: OnlineFeatures,
    /// How long a loaded champion is used before the registry is asked again.
    refresh: Duration,
    model: Mutex<Option<Loaded>>,
}

/// A failure that becomes an HTTP answer.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn unavailable(error: &IoError) -> Self {
        // The details go to the log; the caller learns it may retry.
        tracing::error!(error = %error, retryable = error.is_retryable(), "dependency failed");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the model or feature store is unavailable; retry later",
        )
    }
}

impl App {
    pub fn new(clients: &AwsClients, settings: &Settings) -> Self {
        Self {
            registry: ModelRegistry::new(clients.dynamodb.clone(), &settings.registry_table),
            store: S3Store::new(clients.s3.clone(), &settings.bucket),
            online: OnlineFeatures::new(clients.dynamodb.clone(), &settings.online_table),
            refresh: Duration::from_secs(60),
            model: Mutex::new(None),
        }
    }

    /// Asks the registry for the champion on every request (tests, and promotions that
    /// must show at once); the default is once a minute.
    pub fn with_refresh(mut self, refresh: Duration) -> Self {
        self.refresh = refresh;
        self
    }

    /// Answers one request. Never fails: every problem is an HTTP status and a message.
    pub async fn handle(
        &self,
        request: Request,
    ) -> Result<Response<Body>, std::convert::Infallible> {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let result = match (method.clone(), path.as_str()) {
            (Method::POST, "/score") => self.score(request.body()).await,
            (Method::GET, "/health") => self.health().await,
            (_, "/score" | "/health") => Err(Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST /score or GET /health",
            )),
            _ => Err(Failure::new(
                StatusCode::NOT_FOUND,
                format!("no route {path}: use POST /score or GET /health"),
            )),
        };
        let (status, body) = match result {
            Ok(body) => (StatusCode::OK, body),
            Err(failure) => (failure.status, json!({ "error": failure.message })),
        };
        tracing::info!(
            method = %method,
            path,
            status = status.as_u16(),
            micros = started.elapsed().as_micros() as u64,
            "request"
        );
        Ok(Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap_or_default())
    }

    async fn health(&self) -> Result<Json, Failure> {
        let loaded = self.champion().await.ok();
        Ok(json!({ "status": "ok", "model": loaded.map(|(version, _)| version) }))
    }

    async fn score(&self, body: &Body) -> Result<Json, Failure> {
        let text = match body {
            Body::Text(text) => text.as_str(),
            Body::Binary(bytes) => std::str::from_utf8(bytes)
                .map_err(|_| Failure::new(StatusCode::BAD_REQUEST, "the body is not UTF-8"))?,
            Body::Empty => "",
            _ => "",
        };
        let request: Json = serde_json::from_str(text).map_err(|e| {
            Failure::new(
                StatusCode::BAD_REQUEST,
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
                    .map_err(|e| Failure::unavailable(&e))?
                    .ok_or_else(|| {
                        Failure::new(
                            StatusCode::NOT_FOUND,
                            format!("customer '{id}' has no feature row (not scored by batch prediction yet?)"),
                        )
                    })?;
                (Some(id.clone()), Json::Object(row.values))
            }
            (Json::Null, record @ Json::Object(_)) => (None, record.clone()),
            _ => {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    "send {\"customer_id\": \"...\"} or {\"record\": {feature: value, ...}}, not both",
                ));
            }
        };
        let (version, scorer) = self.champion().await?;
        let unprocessable = |e: churn_core::ScoreError| {
            Failure::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        };
        let values = scorer.values_from_json(&record).map_err(unprocessable)?;
        let explanation = scorer.explain(&values).map_err(unprocessable)?;
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
            "model": version,
            "probability": explanation.score.probability,
            "tier": explanation.score.tier.as_str(),
            "reasons": reasons,
        });
        if let Some(id) = customer_id {
            answer["customer_id"] = Json::String(id);
        }
        Ok(answer)
    }

    /// The champion's scorer, from the cache while it is fresh; reloaded when the
    /// registry names another version.
    async fn champion(&self) -> Result<(String, Arc<Scorer>), Failure> {
        let mut cached = self.model.lock().await;
        if let Some(loaded) = cached
            .as_ref()
            .filter(|l| l.checked.elapsed() < self.refresh)
        {
            return Ok((loaded.version.clone(), loaded.scorer.clone()));
        }
        let champion = self
            .registry
            .champion()
            .await
            .map_err(|e| Failure::unavailable(&e))?
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "no model has been promoted yet: train one first",
                )
            })?;
        if let Some(loaded) = cached.as_mut().filter(|l| l.version == champion.version) {
            loaded.checked = Instant::now();
            return Ok((loaded.version.clone(), loaded.scorer.clone()));
        }
        let model = self
            .registry
            .version(&champion.version)
            .await
            .map_err(|e| Failure::unavailable(&e))?
            .ok_or_else(|| {
                Failure::unavailable(&IoError::NotFound(format!(
                    "registry entry of {}",
                    champion.version
                )))
            })?;
        let bytes = self
            .store
            .get(&model.artifact_key)
            .await
            .map_err(|e| Failure::unavailable(&e))?;
        let scorer = ModelArtifact::from_binary(&bytes)
            .and_then(Scorer::new)
            .map_err(|e| {
                Failure::unavailable(&IoError::Corrupt {
                    target: model.artifact_key.clone(),
                    message: e.to_string(),
                })
            })?;
        tracing::info!(version = champion.version, "model loaded");
        let scorer = Arc::new(scorer);
        *cached = Some(Loaded {
            version: champion.version.clone(),
            scorer: scorer.clone(),
            checked: Instant::now(),
        });
        Ok((champion.version, scorer))
    }
}
