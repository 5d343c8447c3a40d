//! The scoring API: one HTTP router (axum) that `churn serve` hosts on a socket and
//! `churn-score-api` runs behind a Lambda function URL (`lambda_http` runs it as a tower
//! service), so the two hosts answer alike, byte for byte.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/score` | `{"record": {feature: value}}` scored by the champion |
//! | `GET /v1/customers/{id}` | the customer's stored feature row, scored |
//! | `POST /v1/customers/{id}` | the same with the body's fresh fields merged over the row |
//! | `GET /v1/customers?tier=&segment=&q=&sort=&page=&per_page=` | a page of the day's ranked list |
//! | `GET /v1/customers?...&format=csv` | every customer the filters select, as CSV |
//! | `GET /v1/customers/{id}/actions` | the actions planned for the customer, newest first |
//! | `GET /v1/actions` | each kept action day's totals (actions by status, expected gain, cost), newest first |
//! | `GET /v1/monitoring` | the latest monitoring report's figures (`monitor.json`) |
//! | `GET /v1/reports/{name}` | the champion's evaluation report (`model`) or the latest monitoring report (`monitoring`), HTML |
//! | `GET /v1/model` | the champion: version, horizon, threshold, tiers, metrics |
//! | `GET /v1/model/scorer.bin` | the champion's artifact for the WASM scorer, with an ETag |
//! | `GET /healthz` | 200 when the champion is loaded and the store answers, else 503 |
//! | `GET /metrics` | Prometheus text |
//! | `GET /openapi.json` | this API described (OpenAPI 3.1) |
//!
//! A score is `{"model", "horizon_days", "probability", "tier", "reasons": [{"feature",
//! "label", "value", "contribution"}]}`: the probability is that of churning within
//! `horizon_days` (`null` for models that did not record it); `?reasons=N` (0 to 10,
//! default 3) on the scoring routes sets how many reasons, 0 none. A customer's score adds
//! `customer_id`, `as_of` (the stored row's date), `fresh_fields` (the names the body
//! replaced) and `record` (the row scored, for a what-if panel or `POST /v1/score`).
//!
//! Every problem is a status with `{"error": "..."}` saying what to fix: 400 for a body
//! or query that cannot be read, 401 without the right bearer token, 404 for an unknown
//! customer or route, 405 for a wrong method, 413 for a body over the limit, 422 for a
//! record the model cannot score, 503 when there is no champion or a dependency failed
//! (retry later). The logs name routes, never paths: customer data never reaches them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value as Json, json};

mod activity;
pub mod backend;
pub mod list;
#[cfg(feature = "pipeline")]
pub mod local;
mod metrics;

pub use backend::{ActionDay, AwsBackend, Backend, CustomerAction, Report};

use crate::AppError;
use crate::champion::Loaded;
use metrics::Metrics;

/// Reasons returned per score.
/// Reasons in a score unless the query asks otherwise (`?reasons=N`).
const REASONS: usize = 3;
/// The most reasons a score gives.
const MAX_REASONS: usize = 10;

/// Parameters the scoring routes take: `reasons=N` (0 to 10): how many reasons; 0 skips
/// them, which makes a score about 25 times cheaper (no TreeSHAP).
type ScoreQuery = Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>;

fn reasons_wanted(query: ScoreQuery) -> Result<usize, Failure> {
    let Query(params) =
        query.map_err(|e| Failure::bad_request(format!("the query cannot be read: {e}")))?;
    let mut reasons = REASONS;
    for (name, value) in params {
        match name.as_str() {
            "reasons" => {
                reasons = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= MAX_REASONS)
                    .ok_or_else(|| {
                        Failure::bad_request(format!(
                            "reasons={value}: give a count from 0 to {MAX_REASONS}"
                        ))
                    })?;
            }
            _ => {
                return Err(Failure::bad_request(format!(
                    "unknown query parameter '{name}': a score takes only reasons=N"
                )));
            }
        }
    }
    Ok(reasons)
}

/// Every route, as the router serves it and `/openapi.json` describes it.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/score"),
    ("GET", "/v1/customers"),
    ("GET", "/v1/customers/{id}"),
    ("POST", "/v1/customers/{id}"),
    ("GET", "/v1/customers/{id}/actions"),
    ("GET", "/v1/actions"),
    ("GET", "/v1/model"),
    ("GET", "/v1/model/scorer.bin"),
    ("GET", "/v1/monitoring"),
    ("GET", "/v1/reports/{name}"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// The OpenAPI document of [`ROUTES`].
pub const OPENAPI: &str = include_str!("openapi.json");

/// The largest request body read, unless the host says otherwise: a record of a few
/// hundred features is a few kilobytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A bearer token the API requires. Compared in constant time (as SHA-256 digests, so
/// not even its length shows).
#[derive(Clone)]
pub struct Token([u8; 32]);

impl Token {
    /// A token from its text; blank text is refused (it would let anyone in).
    pub fn new(text: &str) -> Result<Self, AppError> {
        let text = text.trim();
        if text.len() < 16 {
            return Err(AppError::permanent(
                "the API token is shorter than 16 characters: use a long random one \
                 (e.g. `openssl rand -hex 32`)",
            ));
        }
        Ok(Self(digest(text.as_bytes())))
    }

    fn accepts(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.0.ct_eq(&digest(presented.as_bytes())))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// How a host runs the API.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// Required as `Authorization: Bearer <token>` on every route but `/healthz`.
    pub token: Option<Token>,
    /// Origins a browser may call from (CORS); none by default.
    pub cors_origins: Vec<String>,
    /// The largest request body read.
    pub max_body_bytes: usize,
}

impl Default for ApiOptions {
    fn default() -> Self {
        Self {
            token: None,
            cors_origins: Vec::new(),
            max_body_bytes: MAX_BODY_BYTES,
        }
    }
}

struct Shared<B> {
    backend: B,
    options: ApiOptions,
    metrics: Metrics,
}

type AppState<B> = State<Arc<Shared<B>>>;

/// The router on `backend`. Fails on an origin that is not a valid header value.
pub fn router<B: Backend>(backend: B, options: ApiOptions) -> Result<Router, AppError> {
    let cors = cors(&options.cors_origins)?;
    let shared = Arc::new(Shared {
        backend,
        options,
        metrics: Metrics::default(),
    });
    let router = Router::new()
        .route("/v1/score", post(score::<B>))
        .route("/v1/customers", get(customers::<B>))
        .route(
            "/v1/customers/{id}",
            get(customer::<B>).post(customer_with_fields::<B>),
        )
        .route("/v1/customers/{id}/actions", get(customer_actions::<B>))
        .route("/v1/actions", get(action_days::<B>))
        .route("/v1/monitoring", get(monitoring::<B>))
        .route("/v1/reports/{name}", get(report::<B>))
        .route("/v1/model", get(model::<B>))
        .route("/v1/model/scorer.bin", get(scorer_bin::<B>))
        .route("/healthz", get(healthz::<B>))
        .route("/metrics", get(metrics_text::<B>))
        .route("/openapi.json", get(openapi))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            authorise::<B>,
        ))
        .layer(middleware::from_fn_with_state(shared.clone(), observe::<B>))
        .with_state(shared);
    Ok(match cors {
        Some(cors) => router.layer(cors),
        None => router,
    })
}

fn cors(origins: &[String]) -> Result<Option<tower_http::cors::CorsLayer>, AppError> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return Ok(None);
    }
    let origins = origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/')).map_err(|_| {
                AppError::permanent(format!("CORS origin '{origin}' is not a valid origin"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_NONE_MATCH,
            ])
            .expose_headers([header::ETAG]),
    ))
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

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// A dependency failed: the details go to the log; the caller learns it may retry.
    fn unavailable(error: &AppError) -> Self {
        tracing::error!(error = %error, retryable = error.is_retryable(), "dependency failed");
        if error.is_retryable() {
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the model or feature store is unavailable; retry later",
            )
        } else {
            Self::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        json_response(self.status, &json!({ "error": self.message }))
    }
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn ok(body: &Json) -> Response {
    json_response(StatusCode::OK, body)
}

/// Logs and counts every answer by its route's pattern.
async fn observe<B: Backend>(State(shared): AppState<B>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| {
            ROUTES
                .iter()
                .find(|(_, path)| *path == matched.as_str())
                .map(|(_, path)| *path)
        })
        .unwrap_or("unmatched");
    let response = next.run(request).await;
    let took = started.elapsed();
    shared
        .metrics
        .record(route, response.status().as_u16(), took);
    tracing::info!(
        method = %method,
        route,
        status = response.status().as_u16(),
        micros = took.as_micros() as u64,
        "request"
    );
    response
}

/// Requires the bearer token, when there is one, on every route but `/healthz`.
async fn authorise<B: Backend>(
    State(shared): AppState<B>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &shared.options.token else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match presented {
        Some(presented) if token.accepts(presented.trim()) => next.run(request).await,
        Some(_) => unauthorised("the bearer token is wrong"),
        None => unauthorised("send Authorization: Bearer <token>"),
    }
}

fn unauthorised(message: &str) -> Response {
    let mut response = Failure::new(StatusCode::UNAUTHORIZED, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn routes_hint() -> String {
    ROUTES
        .iter()
        .map(|(method, path)| format!("{method} {path}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn no_route(request: Request) -> Failure {
    // The path may hold a customer id: it goes back to the caller, not to the log.
    Failure::new(
        StatusCode::NOT_FOUND,
        format!("no route {}: use {}", request.uri().path(), routes_hint()),
    )
}

async fn wrong_method(request: Request) -> Failure {
    let path = request.uri().path();
    let allowed: Vec<&str> = ROUTES
        .iter()
        .filter(|(_, route)| matches_route(route, path))
        .map(|(method, _)| *method)
        .collect();
    Failure::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not served on {path}: use {}",
            request.method(),
            allowed.join(" or ")
        ),
    )
}

/// Whether `path` is an instance of the route pattern `route`.
fn matches_route(route: &str, path: &str) -> bool {
    let (mut route, mut path) = (route.split('/'), path.split('/'));
    loop {
        match (route.next(), path.next()) {
            (None, None) => return true,
            (Some(r), Some(p)) if r == p || (r.starts_with('{') && !p.is_empty()) => {}
            _ => return false,
        }
    }
}

/// Reads a JSON body of at most the configured size.
async fn read_json<B>(shared: &Shared<B>, body: Body, expect: &str) -> Result<Json, Failure> {
    let limit = shared.options.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {limit} bytes"),
        )
    })?;
    let text =
        std::str::from_utf8(&bytes).map_err(|_| Failure::bad_request("the body is not UTF-8"))?;
    serde_json::from_str(text)
        .map_err(|e| Failure::bad_request(format!("the body is not JSON ({e}): send {expect}")))
}

async fn champion<B: Backend>(shared: &Shared<B>) -> Result<Arc<Loaded>, Failure> {
    match shared.backend.champion().await {
        Ok(Some(loaded)) => Ok(loaded),
        Ok(None) => Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no model has been promoted yet: train one first",
        )),
        Err(error) => Err(Failure::unavailable(&error)),
    }
}

/// A record scored by the champion, as every scoring route answers.
fn scored(
    loaded: &Loaded,
    record: &Json,
    reasons: usize,
) -> Result<serde_json::Map<String, Json>, Failure> {
    let unprocessable =
        |e: churn_core::ScoreError| Failure::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string());
    let values = loaded
        .scorer
        .values_from_json(record)
        .map_err(unprocessable)?;
    let (score, reasons) = if reasons == 0 {
        (
            loaded.scorer.score(&values).map_err(unprocessable)?,
            Vec::new(),
        )
    } else {
        let explanation = loaded.scorer.explain(&values).map_err(unprocessable)?;
        let top: Vec<Json> = explanation
            .top_reasons(reasons)
            .map(|reason| {
                json!({
                    "feature": reason.feature,
                    "label": reason.label(),
                    "value": reason.value,
                    "contribution": reason.contribution,
                })
            })
            .collect();
        (explanation.score, top)
    };
    let Json::Object(answer) = json!({
        "model": loaded.version,
        "horizon_days": loaded.scorer.artifact().lineage.horizon_days,
        "probability": score.probability,
        "tier": score.tier.as_str(),
        "reasons": reasons,
    }) else {
        unreachable!("an object literal")
    };
    Ok(answer)
}

async fn score<B: Backend>(
    State(shared): AppState<B>,
    query: ScoreQuery,
    body: Body,
) -> Result<Response, Failure> {
    let reasons = reasons_wanted(query)?;
    const EXPECT: &str = "{\"record\": {feature: value, ...}}";
    let request = read_json(&shared, body, EXPECT).await?;
    let record = match &request {
        Json::Object(fields) if fields.len() == 1 && fields.contains_key("record") => {
            &fields["record"]
        }
        _ => {
            return Err(Failure::bad_request(format!(
                "send {EXPECT} (to score a stored customer, GET or POST /v1/customers/{{id}})"
            )));
        }
    };
    let loaded = champion(&shared).await?;
    Ok(ok(&Json::Object(scored(&loaded, record, reasons)?)))
}

async fn stored_row<B: Backend>(
    shared: &Shared<B>,
    id: &str,
) -> Result<churn_io::online::OnlineRow, Failure> {
    shared
        .backend
        .customer(id)
        .await
        .map_err(|e| Failure::unavailable(&e))?
        .ok_or_else(|| {
            Failure::new(
                StatusCode::NOT_FOUND,
                format!("customer '{id}' has no feature row (not scored by batch prediction yet?)"),
            )
        })
}

fn customer_answer(
    loaded: &Loaded,
    row: churn_io::online::OnlineRow,
    fresh: Option<serde_json::Map<String, Json>>,
    reasons: usize,
) -> Result<Response, Failure> {
    let mut values = row.values;
    let mut fresh_fields: Vec<String> = Vec::new();
    for (name, value) in fresh.into_iter().flatten() {
        fresh_fields.push(name.clone());
        values.insert(name, value);
    }
    let record = Json::Object(values);
    let mut answer = scored(loaded, &record, reasons)?;
    answer.insert("customer_id".into(), Json::String(row.customer_id));
    answer.insert("as_of".into(), Json::String(row.as_of));
    answer.insert("fresh_fields".into(), json!(fresh_fields));
    // The record scored: what a what-if panel edits, and what POST /v1/score takes.
    answer.insert("record".into(), record);
    Ok(ok(&Json::Object(answer)))
}

async fn customer<B: Backend>(
    State(shared): AppState<B>,
    Path(id): Path<String>,
    query: ScoreQuery,
) -> Result<Response, Failure> {
    let reasons = reasons_wanted(query)?;
    let row = stored_row(&shared, &id).await?;
    let loaded = champion(&shared).await?;
    customer_answer(&loaded, row, None, reasons)
}

async fn customer_with_fields<B: Backend>(
    State(shared): AppState<B>,
    Path(id): Path<String>,
    query: ScoreQuery,
    body: Body,
) -> Result<Response, Failure> {
    let reasons = reasons_wanted(query)?;
    const EXPECT: &str = "the fresh fields as {feature: value, ...}";
    let Json::Object(fresh) = read_json(&shared, body, EXPECT).await? else {
        return Err(Failure::bad_request(format!("send {EXPECT}")));
    };
    let row = stored_row(&shared, &id).await?;
    let loaded = champion(&shared).await?;
    customer_answer(&loaded, row, Some(fresh), reasons)
}

async fn customers<B: Backend>(
    State(shared): AppState<B>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let Query(params) =
        query.map_err(|e| Failure::bad_request(format!("the query cannot be read: {e}")))?;
    let query = list::ListQuery::parse(&params).map_err(Failure::bad_request)?;
    let ranked = shared
        .backend
        .ranked()
        .await
        .map_err(|e| Failure::unavailable(&e))?
        .ok_or_else(|| {
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no prediction day yet: run batch prediction (`churn predict`) first",
            )
        })?;
    if query.csv {
        let mut response = Response::new(Body::from(ranked.csv(&query)));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        let disposition = format!(
            "attachment; filename=\"churn-customers-{}.csv\"",
            ranked.day
        );
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
        return Ok(response);
    }
    let mut page = ranked.page(&query);
    page["overview"] = ranked.overview();
    Ok(ok(&page))
}

async fn customer_actions<B: Backend>(
    State(shared): AppState<B>,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let actions = shared
        .backend
        .actions(&id)
        .await
        .map_err(|e| Failure::unavailable(&e))?;
    Ok(ok(&json!({ "customer_id": id, "actions": actions })))
}

async fn action_days<B: Backend>(State(shared): AppState<B>) -> Result<Response, Failure> {
    let days = shared
        .backend
        .action_days()
        .await
        .map_err(|e| Failure::unavailable(&e))?;
    Ok(ok(&json!({ "days": days })))
}

async fn monitoring<B: Backend>(State(shared): AppState<B>) -> Result<Response, Failure> {
    match shared.backend.monitoring().await {
        Ok(Some(report)) => Ok(ok(&report)),
        Ok(None) => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "no monitoring report yet: run `churn monitor`",
        )),
        Err(error) => Err(Failure::unavailable(&error)),
    }
}

async fn report<B: Backend>(
    State(shared): AppState<B>,
    Path(name): Path<String>,
) -> Result<Response, Failure> {
    let which = backend::Report::parse(&name).ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            format!("no report '{name}': use {}", backend::Report::NAMES),
        )
    })?;
    match shared.backend.report(which).await {
        Ok(Some(html)) => {
            let mut response = Response::new(Body::from(html));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            Ok(response)
        }
        Ok(None) => Err(Failure::new(
            StatusCode::NOT_FOUND,
            match which {
                backend::Report::Model => {
                    "the champion has no evaluation report: run `churn evaluate`"
                }
                backend::Report::Monitoring => "no monitoring report yet: run `churn monitor`",
            },
        )),
        Err(error) => Err(Failure::unavailable(&error)),
    }
}

async fn model<B: Backend>(State(shared): AppState<B>) -> Result<Response, Failure> {
    let loaded = champion(&shared).await?;
    let artifact = loaded.scorer.artifact();
    Ok(ok(&json!({
        "version": loaded.version,
        "family": artifact.family,
        "trained_at": loaded.entry.trained_at,
        "horizon_days": artifact.lineage.horizon_days,
        "threshold": artifact.decision.threshold,
        "threshold_rule": artifact.decision.rule,
        "tiers": {
            "low": { "from": 0.0 },
            "medium": { "from": artifact.decision.medium_from },
            "high": { "from": artifact.decision.threshold },
        },
        "metric": {
            "name": loaded.entry.metric_name,
            "value": loaded.entry.metric,
            "holdout": loaded.entry.holdout,
        },
        "metrics": artifact.metrics,
        "features": artifact.feature_spec.features.iter().map(|f| &f.name).collect::<Vec<_>>(),
        "scorer": {
            "path": "/v1/model/scorer.bin",
            "bytes": loaded.binary.len(),
            "etag": loaded.etag,
        },
    })))
}

async fn scorer_bin<B: Backend>(
    State(shared): AppState<B>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let loaded = champion(&shared).await?;
    let etag = HeaderValue::from_str(&loaded.etag).expect("an etag is hex in quotes");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|tag| tag.trim() == loaded.etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(Body::from(loaded.binary.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    // Revalidate every time: a promotion must reach the web app at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

async fn healthz<B: Backend>(State(shared): AppState<B>) -> Result<Response, Failure> {
    let loaded = champion(&shared).await?;
    shared
        .backend
        .check_store()
        .await
        .map_err(|e| Failure::unavailable(&e))?;
    Ok(ok(&json!({
        "status": "ok",
        "model": loaded.version,
        "horizon_days": loaded.scorer.artifact().lineage.horizon_days,
    })))
}

async fn metrics_text<B: Backend>(State(shared): AppState<B>) -> Response {
    let champion = shared.backend.champion().await.ok().flatten();
    let text = shared
        .metrics
        .render(champion.as_deref().map(|c| c.version.as_str()));
    let mut response = Response::new(Body::from(text));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn openapi() -> Response {
    let mut response = Response::new(Body::from(OPENAPI));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn route_patterns_match_their_paths_only() {
        assert!(matches_route("/v1/customers/{id}", "/v1/customers/C1"));
        assert!(!matches_route("/v1/customers/{id}", "/v1/customers/"));
        assert!(!matches_route("/v1/customers/{id}", "/v1/customers"));
        assert!(matches_route("/v1/score", "/v1/score"));
        assert!(!matches_route("/v1/score", "/v1/score/x"));
    }

    #[test]
    fn a_token_is_long_and_matched_exactly() {
        assert!(Token::new("short").is_err());
        let token = Token::new("0123456789abcdef0123").expect("long enough");
        assert!(token.accepts("0123456789abcdef0123"));
        assert!(!token.accepts("0123456789abcdef012"));
        assert!(!token.accepts(""));
        assert_eq!(format!("{token:?}"), "Token(..)", "never printed");
    }
}
