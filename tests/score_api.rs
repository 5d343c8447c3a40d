use std::collections::HashMap;
use std::time::Duration;

use churn_app::Settings;
use churn_io::AwsClients;
use churn_io::online::{OnlineFeatures, OnlineRow};
use churn_io::registry::{ModelRegistry, ModelVersion, Move, Registry};
use churn_io::store::{ObjectPut, S3Store};
use churn_tests::{bucket, emulator, table};
use serde_json::Value as Json;

const MODEL: &[u8] = include_bytes!("../crates/churn-core/tests/fixtures/model-v1.bin");
const GOLDEN: &str = include_str!("../crates/churn-core/tests/fixtures/golden-v1.json");

async fn call(app: &axum::Router, event: &str) -> (u16, Json) {
    let path = format!(
        "{}/../events/{event}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("event");
    let request = lambda_http::request::from_str(&text).expect("request");
    let response = churn_score_api::handle(app, request)
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let body = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("{event}: body {other:?}"),
    };
    (status, body)
}

async fn settings(clients: &AwsClients) -> Settings {
    let names: HashMap<&str, String> = HashMap::from([
        ("CHURN_BUCKET", bucket(clients).await),
        ("CHURN_REGISTRY_TABLE", table(clients, "models").await),
        ("CHURN_ONLINE_TABLE", table(clients, "online").await),
    ]);
    Settings::from_lookup(|name| names.get(name).cloned()).expect("settings")
}

#[tokio::test]
async fn scores_by_customer_id_and_by_record_and_answers_bad_requests_with_4xx() {
    let Some(clients) = emulator("score api").await else {
        return;
    };
    let settings = settings(&clients).await;
    let app = app(&clients, settings.clone(), Duration::ZERO);

    // Before any promotion: not healthy, since there is no model to score with.
    let (status, body) = call(&app, "healthz.json").await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = call(&app, "score-record.json").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no model"),
        "{body}"
    );

    // Promote the v1 fixture and give customer C000042 the first golden record's row.
    let golden: Json = serde_json::from_str(GOLDEN).expect("golden");
    let version = golden["model_id"].as_str().expect("id").to_owned();
    let store = S3Store::new(clients.s3.clone(), &settings.bucket);
    let artifact_key = format!("models/{version}/model.bin");
    store
        .put(&artifact_key, MODEL.to_vec())
        .await
        .expect("put model");
    let model = ModelVersion {
        version: version.clone(),
        trained_at: "2026-11-25T05:40:00Z".into(),
        artifact_key,
        metric_name: "roc_auc".into(),
        metric: 0.85,
        holdout: "fixture".into(),
        data_hash: "fixture".into(),
        seed: 42,
    };
    let registry = ModelRegistry::new(clients.dynamodb.clone(), &settings.registry_table);
    registry.register(&model).await.expect("register");
    registry
        .promote(
            &model,
            None,
            Move {
                at: "2026-11-25T05:41:00Z",
                by: "test",
                reason: "the fixture",
            },
        )
        .await
        .expect("promote");
    let first = &golden["records"][0];
    OnlineFeatures::new(clients.dynamodb.clone(), &settings.online_table)
        .put(&[OnlineRow {
            customer_id: "C000042".into(),
            as_of: "2026-11-25".into(),
            values: first["values"].as_object().expect("values").clone(),
        }])
        .await
        .expect("online row");

    // By id: exactly the batch pipeline's probability, tier and reasons.
    let (status, body) = call(&app, "customer.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["model"], version.as_str());
    // A v1 artifact did not record its horizon: it loads, and says it is unknown.
    assert_eq!(body["horizon_days"], Json::Null, "{body}");
    assert_eq!(body["customer_id"], "C000042");
    assert_eq!(body["probability"].as_f64(), first["probability"].as_f64());
    assert_eq!(body["tier"], first["tier"]);
    let reasons: Vec<&str> = body["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["feature"].as_str().unwrap_or_default())
        .collect();
    let expected: Vec<&str> = first["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r.as_str().unwrap_or_default())
        .collect();
    assert_eq!(reasons, expected);

    // A full record, spelt loosely ("Month-to-Month").
    let (status, body) = call(&app, "score-record.json").await;
    assert_eq!(status, 200, "{body}");
    let probability = body["probability"].as_f64().expect("probability");
    assert!((0.0..=1.0).contains(&probability), "{body}");

    // Bad requests: each a 4xx saying what is wrong.
    for (event, status, says) in [
        ("score-bad-json.json", 400, "not JSON"),
        (
            "score-wrong-type.json",
            422,
            "'tenure_days' expects a number",
        ),
        ("customer-unknown.json", 404, "NO-SUCH-CUSTOMER"),
    ] {
        let (got, body) = call(&app, event).await;
        assert_eq!(got, status, "{event}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{event}: {message}");
    }
    let (status, body) = call(&app, "healthz.json").await;
    assert_eq!(
        (status, body["model"].as_str()),
        (200, Some(version.as_str()))
    );

    // Fresh fields over the stored row score as the merged record does.
    let (status, fresh) = call(&app, "customer-fresh-fields.json").await;
    assert_eq!(status, 200, "{fresh}");
    let mut merged = first["values"].clone();
    merged["contract_type"] = "two-year".into();
    assert_eq!(fresh["record"], merged);
    assert_eq!(fresh["fresh_fields"], serde_json::json!(["contract_type"]));

    // The list of the day is `churn serve`'s for now, and says so.
    let mut request: Json = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../events/healthz.json",
            std::env::var("CARGO_MANIFEST_DIR").expect("set")
        ))
        .expect("event"),
    )
    .expect("json");
    request["rawPath"] = "/v1/customers".into();
    request["requestContext"]["http"]["path"] = "/v1/customers".into();
    let response = churn_score_api::handle(
        &app,
        lambda_http::request::from_str(&request.to_string()).expect("request"),
    )
    .await
    .expect("infallible");
    assert_eq!(response.status(), 503);

    // The scorer goes out as the stored bytes (base64 in the function URL's answer).
    request["rawPath"] = "/v1/model/scorer.bin".into();
    request["requestContext"]["http"]["path"] = "/v1/model/scorer.bin".into();
    let response = churn_score_api::handle(
        &app,
        lambda_http::request::from_str(&request.to_string()).expect("request"),
    )
    .await
    .expect("infallible");
    assert_eq!(response.status(), 200);
    match response.body() {
        lambda_http::Body::Binary(bytes) => assert_eq!(bytes.as_slice(), MODEL),
        other => panic!("scorer.bin: {other:?}"),
    }
}

fn app(clients: &AwsClients, settings: Settings, refresh: Duration) -> axum::Router {
    churn_score_api::app(clients, &churn_score_api::Config { settings, refresh }).expect("router")
}

#[tokio::test]
async fn an_unreachable_registry_is_a_503_not_a_crash() {
    let Some(clients) = emulator("score api down").await else {
        return;
    };
    let settings = settings(&clients).await;
    let gone = churn_tests::unreachable().await;
    let app = app(&gone, settings, Duration::from_secs(60));
    // /healthz says so too: it used to answer 200 without a readable registry.
    let (status, body) = call(&app, "healthz.json").await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = call(&app, "score-record.json").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("retry later"),
        "{body}"
    );
}
