//! The router on an in-memory backend: every route, every error, the OpenAPI document
//! against the routes, access and CORS.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use churn_core::{ModelArtifact, Scorer, Tier};
use churn_io::online::OnlineRow;
use churn_io::registry::ModelVersion;
use serde_json::{Value as Json, json};
use tower::ServiceExt;

use super::list::{Listed, RankedList};
use super::*;

const MODEL: &[u8] = include_bytes!("../../../churn-core/tests/fixtures/model-v1.bin");
const GOLDEN: &str = include_str!("../../../churn-core/tests/fixtures/golden-v1.json");

#[derive(Default)]
struct Fake {
    champion: Option<Arc<Loaded>>,
    rows: HashMap<String, OnlineRow>,
    ranked: Option<Arc<RankedList>>,
    actions: HashMap<String, Vec<CustomerAction>>,
    action_days: Vec<ActionDay>,
    monitoring: Option<Json>,
    reports: HashMap<&'static str, String>,
    store_down: AtomicBool,
}

impl Backend for Fake {
    async fn champion(&self) -> Result<Option<Arc<Loaded>>, AppError> {
        Ok(self.champion.clone())
    }

    async fn customer(&self, customer_id: &str) -> Result<Option<OnlineRow>, AppError> {
        if self.store_down.load(Ordering::Relaxed) {
            return Err(AppError::retryable("the table did not answer"));
        }
        Ok(self.rows.get(customer_id).cloned())
    }

    async fn ranked(&self) -> Result<Option<Arc<RankedList>>, AppError> {
        Ok(self.ranked.clone())
    }

    async fn check_store(&self) -> Result<(), AppError> {
        if self.store_down.load(Ordering::Relaxed) {
            return Err(AppError::retryable("the table did not answer"));
        }
        Ok(())
    }

    async fn actions(&self, customer_id: &str) -> Result<Vec<CustomerAction>, AppError> {
        if self.store_down.load(Ordering::Relaxed) {
            return Err(AppError::retryable("the plans did not answer"));
        }
        Ok(self.actions.get(customer_id).cloned().unwrap_or_default())
    }

    async fn action_days(&self) -> Result<Vec<ActionDay>, AppError> {
        Ok(self.action_days.clone())
    }

    async fn monitoring(&self) -> Result<Option<Json>, AppError> {
        Ok(self.monitoring.clone())
    }

    async fn report(&self, which: Report) -> Result<Option<String>, AppError> {
        let name = match which {
            Report::Model => "model",
            Report::Monitoring => "monitoring",
        };
        Ok(self.reports.get(name).cloned())
    }
}

fn golden() -> Json {
    serde_json::from_str(GOLDEN).expect("golden")
}

fn loaded() -> Arc<Loaded> {
    let artifact = ModelArtifact::from_binary(MODEL).expect("fixture");
    let version = artifact.model_id.clone();
    Arc::new(Loaded {
        entry: ModelVersion {
            version: version.clone(),
            trained_at: "2026-11-25T05:40:00Z".into(),
            artifact_key: format!("models/{version}/model.bin"),
            metric_name: "roc_auc".into(),
            metric: 0.85,
            holdout: "fixture".into(),
            data_hash: "fixture".into(),
            seed: 42,
        },
        version,
        scorer: Scorer::new(artifact).expect("scorer"),
        etag: crate::champion::etag(MODEL),
        binary: MODEL.to_vec(),
    })
}

fn serving() -> Fake {
    let golden = golden();
    let rows = golden["records"]
        .as_array()
        .expect("records")
        .iter()
        .enumerate()
        .map(|(n, record)| {
            let id = format!("C{n:06}");
            let row = OnlineRow {
                customer_id: id.clone(),
                as_of: "2026-11-01".into(),
                values: record["values"].as_object().expect("values").clone(),
            };
            (id, row)
        })
        .collect();
    let listed = |id: &str, probability: f64, tier: Tier| Listed {
        customer_id: id.into(),
        probability,
        tier,
        segment: Some("month-to-month".into()),
        monthly_charge: Some(50.0),
        reasons: vec!["contract type = month-to-month".into()],
    };
    Fake {
        champion: Some(loaded()),
        rows,
        ranked: Some(Arc::new(RankedList::new(
            "2026-11-01",
            "m",
            vec![
                listed("C000001", 0.7, Tier::High),
                listed("C000002", 0.1, Tier::Low),
            ],
        ))),
        actions: HashMap::from([(
            "C000001".to_owned(),
            vec![CustomerAction {
                day: "2026-11-01".into(),
                action: "retention-call".into(),
                kind: "call".into(),
                channel: "crm".into(),
                rule: Some("high-value".into()),
                probability: 0.7,
                tier: "high".into(),
                cost: 15.0,
                expected_gain: 42.5,
                why: "high risk, worth a call".into(),
                status: "sent".into(),
            }],
        )]),
        action_days: vec![ActionDay {
            day: "2026-11-01".into(),
            actions: 1,
            crm_syncs: 2,
            statuses: [("sent".to_owned(), 1)].into(),
            expected_gain: 42.5,
            cost: 15.0,
        }],
        monitoring: Some(json!({"findings": {"drift": "ok"}})),
        reports: HashMap::from([("model", "<!doctype html><html>evaluation</html>".to_owned())]),
        store_down: AtomicBool::new(false),
    }
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    call_with(app, Request::builder().method(method).uri(uri), body).await
}

async fn call_with(
    app: &Router,
    request: axum::http::request::Builder,
    body: &str,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, headers, bytes.to_vec())
}

async fn json_of(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, Json) {
    let (status, headers, bytes) = call(app, method, uri, body).await;
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default()),
        Some("application/json"),
        "{method} {uri}"
    );
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

fn app(backend: Fake) -> Router {
    router(backend, ApiOptions::default()).expect("router")
}

#[tokio::test]
async fn a_record_and_a_stored_customer_score_as_the_batch_pipeline_does() {
    let app = app(serving());
    let golden = golden();
    let first = &golden["records"][0];
    let body = json!({ "record": first["values"] }).to_string();
    let (status, scored) = json_of(&app, "POST", "/v1/score", &body).await;
    assert_eq!(status, StatusCode::OK, "{scored}");
    assert_eq!(
        scored["probability"].as_f64(),
        first["probability"].as_f64()
    );
    assert_eq!(scored["tier"], first["tier"]);
    let reasons: Vec<&Json> = scored["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| &r["feature"])
        .collect();
    let expected: Vec<&Json> = first["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .collect();
    assert_eq!(reasons, expected);

    let (status, customer) = json_of(&app, "GET", "/v1/customers/C000000", "").await;
    assert_eq!(status, StatusCode::OK, "{customer}");
    assert_eq!(customer["probability"], scored["probability"]);
    assert_eq!(customer["customer_id"], "C000000");
    assert_eq!(customer["as_of"], "2026-11-01");
    assert_eq!(customer["record"], first["values"]);
    assert_eq!(customer["fresh_fields"], json!([]));
}

/// `?reasons=N` sets how many reasons a score gives; 0 none, the probability unchanged.
#[tokio::test]
async fn the_number_of_reasons_is_asked_for_and_checked() {
    let app = app(serving());
    let body = json!({ "record": golden()["records"][0]["values"] }).to_string();
    let (_, default) = json_of(&app, "POST", "/v1/score", &body).await;
    for (uri, count) in [
        ("/v1/score?reasons=0", 0),
        ("/v1/score?reasons=5", 5),
        ("/v1/customers/C000000?reasons=0", 0),
        ("/v1/customers/C000000?reasons=1", 1),
    ] {
        let sent = if uri.starts_with("/v1/score") {
            body.as_str()
        } else {
            "{}"
        };
        let (status, scored) = json_of(&app, "POST", uri, sent).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {scored}");
        assert_eq!(scored["probability"], default["probability"], "{uri}");
        assert_eq!(scored["tier"], default["tier"], "{uri}");
        assert_eq!(
            scored["reasons"].as_array().map(Vec::len),
            Some(count),
            "{uri}"
        );
    }
    let (_, one) = json_of(&app, "GET", "/v1/customers/C000000?reasons=1", "").await;
    assert_eq!(
        one["reasons"][0], default["reasons"][0],
        "the largest reason first"
    );
    for (uri, says) in [
        ("/v1/score?reasons=11", "from 0 to 10"),
        ("/v1/score?reasons=many", "from 0 to 10"),
        ("/v1/score?reason=2", "unknown query parameter 'reason'"),
    ] {
        let (status, answer) = json_of(&app, "POST", uri, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            answer["error"].as_str().unwrap_or_default().contains(says),
            "{uri}: {answer}"
        );
    }
}

#[tokio::test]
async fn fresh_fields_score_exactly_as_the_merged_record() {
    let app = app(serving());
    let golden = golden();
    let mut merged = golden["records"][0]["values"].clone();
    let fresh = json!({ "contract_type": "month-to-month", "late_payment_count_90d": 3 });
    for (name, value) in fresh.as_object().expect("object") {
        merged[name] = value.clone();
    }
    let (status, with_fields) =
        json_of(&app, "POST", "/v1/customers/C000000", &fresh.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{with_fields}");
    let (_, stored) = json_of(&app, "GET", "/v1/customers/C000000", "").await;
    let (_, as_record) = json_of(
        &app,
        "POST",
        "/v1/score",
        &json!({ "record": merged }).to_string(),
    )
    .await;
    assert_ne!(
        with_fields["probability"], stored["probability"],
        "the fields matter"
    );
    for field in ["probability", "tier", "reasons", "model"] {
        assert_eq!(with_fields[field], as_record[field], "{field}");
    }
    assert_eq!(with_fields["record"], merged);
    assert_eq!(
        with_fields["fresh_fields"],
        json!(["contract_type", "late_payment_count_90d"])
    );
}

#[tokio::test]
async fn every_error_is_a_status_with_a_message() {
    let options = ApiOptions {
        max_body_bytes: 1024,
        ..ApiOptions::default()
    };
    let app = router(serving(), options).expect("router");
    let big = json!({ "record": { "plan": "x".repeat(2000) } }).to_string();
    for (method, uri, body, status, says) in [
        ("POST", "/v1/score", "{\"record\": ", 400, "not JSON"),
        (
            "POST",
            "/v1/score",
            "{\"customer_id\": \"C1\"}",
            400,
            "/v1/customers/{id}",
        ),
        ("POST", "/v1/score", &big, 413, "over 1024 bytes"),
        (
            "POST",
            "/v1/score",
            "{\"record\": {\"tenure_days\": \"forty\"}}",
            422,
            "'tenure_days' expects a number",
        ),
        (
            "POST",
            "/v1/score",
            "{\"record\": {\"tenure\": 3}}",
            422,
            "tenure",
        ),
        (
            "GET",
            "/v1/customers/NOBODY",
            "",
            404,
            "'NOBODY' has no feature row",
        ),
        (
            "POST",
            "/v1/customers/C000000",
            "[1]",
            400,
            "the fresh fields",
        ),
        (
            "POST",
            "/v1/customers/C000000",
            "{\"tenure_days\": \"x\"}",
            422,
            "expects a number",
        ),
        (
            "GET",
            "/v1/customers?tier=urgent",
            "",
            400,
            "use low, medium or high",
        ),
        (
            "GET",
            "/v1/customers?page=x",
            "",
            400,
            "a whole number from 1",
        ),
        ("GET", "/v2/score", "", 404, "no route /v2/score"),
        ("GET", "/v1/score", "", 405, "use POST"),
        ("DELETE", "/v1/customers/C1", "", 405, "use GET or POST"),
    ] {
        let (got, body) = json_of(&app, method, uri, body).await;
        assert_eq!(got.as_u16(), status, "{method} {uri}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{method} {uri}: {message}");
    }
}

#[tokio::test]
async fn without_a_champion_or_a_store_the_api_says_503_and_why() {
    let app = app(Fake::default());
    for (method, uri, says) in [
        ("GET", "/healthz", "no model has been promoted"),
        ("POST", "/v1/score", "no model has been promoted"),
        ("GET", "/v1/model", "no model has been promoted"),
        ("GET", "/v1/model/scorer.bin", "no model has been promoted"),
        ("GET", "/v1/customers", "no prediction day yet"),
    ] {
        let body = if method == "POST" {
            "{\"record\": {}}"
        } else {
            ""
        };
        let (status, body) = json_of(&app, method, uri, body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(says),
            "{uri}: {body}"
        );
    }
    let down = serving();
    down.store_down.store(true, Ordering::Relaxed);
    let app = self::app(down);
    for uri in ["/healthz", "/v1/customers/C000000"] {
        let (status, body) = json_of(&app, "GET", uri, "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap_or_default()
                .contains("retry later"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_model_and_its_scorer_are_served_with_a_revalidating_etag() {
    let app = app(serving());
    let (status, model) = json_of(&app, "GET", "/v1/model", "").await;
    assert_eq!(status, StatusCode::OK, "{model}");
    let artifact = ModelArtifact::from_binary(MODEL).expect("fixture");
    assert_eq!(model["version"], artifact.model_id.as_str());
    assert_eq!(
        model["threshold"].as_f64(),
        Some(artifact.decision.threshold)
    );
    assert_eq!(
        model["tiers"]["medium"]["from"].as_f64(),
        Some(artifact.decision.medium_from)
    );
    assert_eq!(model["metric"]["value"].as_f64(), Some(0.85));
    assert_eq!(model["scorer"]["bytes"].as_u64(), Some(MODEL.len() as u64));

    let (status, headers, bytes) = call(&app, "GET", "/v1/model/scorer.bin", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, MODEL, "the artifact as stored");
    let etag = headers
        .get(header::ETAG)
        .expect("etag")
        .to_str()
        .expect("text")
        .to_owned();
    assert_eq!(json!(etag), model["scorer"]["etag"]);
    assert_eq!(
        headers.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-cache"[..])
    );
    let (status, _, bytes) = call_with(
        &app,
        Request::builder()
            .uri("/v1/model/scorer.bin")
            .header(header::IF_NONE_MATCH, &etag),
        "",
    )
    .await;
    assert_eq!((status, bytes.len()), (StatusCode::NOT_MODIFIED, 0));
    let (status, _, _) = call_with(
        &app,
        Request::builder()
            .uri("/v1/model/scorer.bin")
            .header(header::IF_NONE_MATCH, "\"an-older-champion\""),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_list_is_paged_with_the_days_overview() {
    let app = app(serving());
    let (status, page) = json_of(&app, "GET", "/v1/customers?tier=high&per_page=10", "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["customers"][0]["customer_id"], "C000001");
    assert_eq!(page["overview"]["tiers"]["low"], 1);
    assert_eq!(page["overview"]["segments"]["month-to-month"], 2);
    assert_eq!(page["day"], "2026-11-01");

    let (status, headers, body) = call(&app, "GET", "/v1/customers?tier=high&format=csv", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"churn-customers-2026-11-01.csv\""
    );
    let text = String::from_utf8(body).expect("utf-8");
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "rank,customer_id,probability,tier,segment,monthly_charge,reasons",
            "1,C000001,0.7,high,month-to-month,50,contract type = month-to-month",
        ]
    );
}

#[tokio::test]
async fn actions_monitoring_and_reports_are_served_or_named_missing() {
    let served = app(serving());
    let (status, history) = json_of(&served, "GET", "/v1/customers/C000001/actions", "").await;
    assert_eq!(status, StatusCode::OK, "{history}");
    assert_eq!(history["actions"][0]["action"], "retention-call");
    assert_eq!(history["actions"][0]["expected_gain"], 42.5);
    let (status, none) = json_of(&served, "GET", "/v1/customers/C000002/actions", "").await;
    assert_eq!(
        (status, none["actions"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );

    let (status, days) = json_of(&served, "GET", "/v1/actions", "").await;
    assert_eq!(status, StatusCode::OK, "{days}");
    assert_eq!(
        days["days"][0],
        json!({"day": "2026-11-01", "actions": 1, "crm_syncs": 2, "statuses": {"sent": 1},
               "expected_gain": 42.5, "cost": 15.0})
    );

    let (status, report) = json_of(&served, "GET", "/v1/monitoring", "").await;
    assert_eq!(
        (status, &report["findings"]["drift"]),
        (StatusCode::OK, &json!("ok"))
    );
    let (status, headers, body) = call(&served, "GET", "/v1/reports/model", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(String::from_utf8_lossy(&body).contains("evaluation"));
    for (uri, says) in [
        ("/v1/reports/monitoring", "run `churn monitor`"),
        ("/v1/reports/drift", "use model or monitoring"),
    ] {
        let (status, body) = json_of(&served, "GET", uri, "").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            body["error"].as_str().unwrap_or_default().contains(says),
            "{body}"
        );
    }
    let mut quiet = serving();
    quiet.monitoring = None;
    let (status, body) = json_of(&app(quiet), "GET", "/v1/monitoring", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let down = serving();
    down.store_down.store(true, Ordering::Relaxed);
    let (status, _) = json_of(&app(down), "GET", "/v1/customers/C000001/actions", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn health_and_metrics_report_what_was_served() {
    let app = app(serving());
    let (status, health) = json_of(&app, "GET", "/healthz", "").await;
    assert_eq!((status, &health["status"]), (StatusCode::OK, &json!("ok")));
    json_of(&app, "GET", "/v1/customers/C000000", "").await;
    json_of(&app, "GET", "/v1/customers/NOBODY", "").await;
    let (status, headers, text) = call(&app, "GET", "/metrics", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .expect("text")
            .starts_with("text/plain")
    );
    let text = String::from_utf8(text).expect("utf-8");
    assert!(
        text.contains("churn_api_requests_total{route=\"/v1/customers/{id}\",status=\"200\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("churn_api_requests_total{route=\"/v1/customers/{id}\",status=\"404\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains("NOBODY"), "no customer ids in the figures");
    assert!(
        text.contains("churn_model_info{version=\"blend-fee8d1f2\"} 1"),
        "{text}"
    );
}

/// The OpenAPI document names exactly the routes, and every route it names answers
/// (no fallback 404 or 405).
#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes() {
    let document: Json = serde_json::from_str(OPENAPI).expect("OpenAPI is JSON");
    assert_eq!(document["openapi"], "3.1.0");
    let mut described = BTreeSet::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for method in operations.as_object().expect("operations").keys() {
            described.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, path)| ((*method).to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(described, routed);
    let app = app(serving());
    for (method, path) in ROUTES {
        let uri = path.replace("{id}", "C000000").replace("{name}", "model");
        let body = match (*method, *path) {
            ("POST", "/v1/score") => {
                json!({ "record": golden()["records"][0]["values"] }).to_string()
            }
            ("POST", _) => "{}".to_owned(),
            _ => String::new(),
        };
        let (status, _, _) = call(&app, method, &uri, &body).await;
        assert_eq!(status, StatusCode::OK, "{method} {path}");
    }
    // Every error response the document references exists.
    assert!(document["components"]["responses"]["Error"].is_object());
}

#[tokio::test]
async fn a_token_guards_every_route_but_healthz() {
    let options = ApiOptions {
        token: Some(Token::new("a-long-random-token-0123").expect("token")),
        ..ApiOptions::default()
    };
    let app = router(serving(), options).expect("router");
    let (status, body) = json_of(&app, "GET", "/v1/model", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("Authorization: Bearer")
    );
    let get = |token: &str| {
        Request::builder()
            .uri("/v1/model")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
    };
    let (status, headers, _) = call_with(&app, get("a-long-random-token-0124"), "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    let (status, _, _) = call_with(&app, get("a-long-random-token-0123"), "").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = call(&app, "GET", "/healthz", "").await;
    assert_eq!(status, StatusCode::OK, "a health check needs no token");
}

#[tokio::test]
async fn cors_answers_only_the_configured_origins() {
    let options = ApiOptions {
        cors_origins: vec!["https://app.example.com".into()],
        ..ApiOptions::default()
    };
    let app = router(serving(), options).expect("router");
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/v1/score")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
    };
    let (_, headers, _) = call_with(&app, preflight("https://app.example.com"), "").await;
    assert_eq!(
        headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(&b"https://app.example.com"[..])
    );
    let (_, headers, _) = call_with(&app, preflight("https://evil.example"), "").await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    // None by default.
    let (_, headers, _) = call_with(
        &self::app(serving()),
        preflight("https://app.example.com"),
        "",
    )
    .await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert!(
        router(
            serving(),
            ApiOptions {
                cors_origins: vec!["bad\norigin".into()],
                ..ApiOptions::default()
            }
        )
        .is_err()
    );
}
