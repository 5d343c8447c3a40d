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

    // The champion's evaluation report, from its model folder.
    store
        .put(
            &format!("models/{version}/report.html"),
            b"<h1>the champion</h1>".to_vec(),
        )
        .await
        .expect("put report");
    let (status, report) = get(&app, "/v1/reports/model").await;
    assert_eq!((status, report.as_str()), (200, "<h1>the champion</h1>"));

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

/// A GET of `path` through the function URL's envelope: (status, body text).
async fn get(app: &axum::Router, path: &str) -> (u16, String) {
    let mut request: Json = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../events/healthz.json",
            std::env::var("CARGO_MANIFEST_DIR").expect("set")
        ))
        .expect("event"),
    )
    .expect("json");
    request["rawPath"] = path.into();
    request["requestContext"]["http"]["path"] = path.into();
    let response = churn_score_api::handle(
        app,
        lambda_http::request::from_str(&request.to_string()).expect("request"),
    )
    .await
    .expect("infallible");
    let body: &[u8] = response.body().as_ref();
    (
        response.status().as_u16(),
        String::from_utf8_lossy(body).into_owned(),
    )
}

fn planned(day: &str, customer: &str, action: &str, kind: &str, gain: f64) -> String {
    serde_json::json!({
        "key": format!("{day}:{customer}:{action}"),
        "customer_id": customer,
        "action": action,
        "kind": kind,
        "channel": if kind == "crm_sync" { "crm" } else { "email" },
        "rule": "high-risk",
        "probability": 0.8,
        "tier": "high",
        "customer_value": 400.0,
        "cost": 5.0,
        "expected_saved": gain + 5.0,
        "expected_gain": gain,
        "why": "high risk, month-to-month",
    })
    .to_string()
}

#[tokio::test]
async fn the_dashboard_routes_read_the_stacks_bucket() {
    let Some(clients) = emulator("score api dashboard").await else {
        return;
    };
    let settings = settings(&clients).await;
    let store = S3Store::new(clients.s3.clone(), &settings.bucket);
    let app = app(&clients, settings.clone(), Duration::ZERO);

    // Nothing written yet: empty histories and 404s that say what to run, not 503s.
    let (status, body) = get(&app, "/v1/actions").await;
    assert_eq!((status, body.as_str()), (200, r#"{"days":[]}"#));
    let (status, body) = get(&app, "/v1/monitoring").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("churn monitor"), "{body}");

    // Two finished action days (one sent), and one whose plan header is not written yet.
    let put = |key: &str, text: String| {
        let (store, key) = (store.clone(), key.to_owned());
        async move { store.put(&key, text.into_bytes()).await.expect("put") }
    };
    for day in ["2026-11-23", "2026-11-24", "2026-11-25"] {
        let lines = [
            planned(day, "C000042", "discount-20", "discount", 60.0),
            planned(day, "C000042", "crm-sync", "crm_sync", 0.0),
            planned(day, "C000007", "call", "call", 40.0),
        ];
        put(&format!("actions/dt={day}/plan.jsonl"), lines.join("\n")).await;
        if day != "2026-11-25" {
            put(&format!("actions/dt={day}/plan.json"), "{}".into()).await;
        }
    }
    put(
        "actions/dt=2026-11-24/outcomes.jsonl",
        format!(
            "{}\n{}\n",
            serde_json::json!({"key": "2026-11-24:C000042:discount-20", "status": "sent"}),
            serde_json::json!({"key": "2026-11-24:C000007:call", "status": "failed"}),
        ),
    )
    .await;

    let (status, body) = get(&app, "/v1/actions").await;
    assert_eq!(status, 200, "{body}");
    let days: Json = serde_json::from_str(&body).expect("JSON");
    let days = days["days"].as_array().expect("days");
    let listed: Vec<&str> = days
        .iter()
        .map(|d| d["day"].as_str().expect("day"))
        .collect();
    assert_eq!(
        listed,
        ["2026-11-24", "2026-11-23"],
        "newest first, unfinished left out"
    );
    assert_eq!(days[0]["actions"], 2);
    assert_eq!(days[0]["crm_syncs"], 1);
    assert_eq!(
        days[0]["statuses"],
        serde_json::json!({"failed": 1, "sent": 1})
    );
    assert_eq!(days[0]["expected_gain"], 100.0);
    assert_eq!(
        days[1]["statuses"],
        serde_json::json!({"planned (not sent)": 2})
    );

    let (status, body) = get(&app, "/v1/customers/C000042/actions").await;
    assert_eq!(status, 200, "{body}");
    let history: Json = serde_json::from_str(&body).expect("JSON");
    let statuses: Vec<(&str, &str, &str)> = history["actions"]
        .as_array()
        .expect("actions")
        .iter()
        .map(|a| {
            (
                a["day"].as_str().expect("day"),
                a["action"].as_str().expect("action"),
                a["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("2026-11-24", "discount-20", "sent"),
            ("2026-11-24", "crm-sync", "planned (not sent)"),
            ("2026-11-23", "discount-20", "planned (not sent)"),
            ("2026-11-23", "crm-sync", "planned (not sent)"),
        ]
    );

    // The monitoring day with its report (written last) is the one served.
    put(
        "monitoring/dt=2026-11-24/monitor.json",
        r#"{"day":"2026-11-24"}"#.into(),
    )
    .await;
    put("monitoring/dt=2026-11-24/report.html", "<h1>24</h1>".into()).await;
    put(
        "monitoring/dt=2026-11-25/monitor.json",
        r#"{"day":"2026-11-25"}"#.into(),
    )
    .await;
    let (status, body) = get(&app, "/v1/monitoring").await;
    assert_eq!((status, body.as_str()), (200, r#"{"day":"2026-11-24"}"#));
    let (status, body) = get(&app, "/v1/reports/monitoring").await;
    assert_eq!((status, body.as_str()), (200, "<h1>24</h1>"));
    // No champion: no model report.
    let (status, body) = get(&app, "/v1/reports/model").await;
    assert_eq!(status, 404, "{body}");

    // The ranked list: the newest day whose summary is written, from every shard's
    // list (not the challenger's); an unfinished newer day is left out.
    let (status, body) = get(&app, "/v1/customers").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("churn predict"), "{body}");
    let listed = |id: &str, probability: f64, tier: &str, segment: &str, charge: f64| {
        serde_json::json!({"customer_id": id, "probability": probability, "tier": tier,
            "segment": segment, "monthly_charge": charge})
        .to_string()
    };
    let day = "predictions/dt=2026-11-24";
    put(
        &format!("{day}/shard=part-00000/customers.jsonl"),
        [
            listed("C000007", 0.2, "low", "two-year", 20.0),
            listed("C000042", 0.9, "high", "month-to-month", 99.5),
        ]
        .join("\n"),
    )
    .await;
    put(
        &format!("{day}/shard=part-00001/customers.jsonl"),
        listed("C000100", 0.6, "medium", "month-to-month", 50.0) + "\n",
    )
    .await;
    put(
        &format!("{day}/challenger=m2/customers.jsonl"),
        listed("C999999", 1.0, "high", "month-to-month", 1.0),
    )
    .await;
    put(
        &format!("{day}/summary.json"),
        r#"{"model_id": "m1"}"#.into(),
    )
    .await;
    put(
        "predictions/dt=2026-11-25/customers.jsonl",
        listed("C555555", 1.0, "high", "month-to-month", 1.0),
    )
    .await;
    let (status, body) = get(&app, "/v1/customers?segment=month-to-month").await;
    assert_eq!(status, 200, "{body}");
    let page: Json = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (page["day"].as_str(), page["model"].as_str()),
        (Some("2026-11-24"), Some("m1"))
    );
    assert_eq!(page["total"], 2, "{body}");
    let ids: Vec<&str> = page["customers"]
        .as_array()
        .expect("customers")
        .iter()
        .map(|c| c["customer_id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["C000042", "C000100"], "riskiest first, across shards");
    put(
        &format!("{day}/shard=part-00001/customers.jsonl"),
        "{\"customer_id\": 1}\n".into(),
    )
    .await;
    let (status, body) = get(&app, "/v1/customers").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("shard=part-00001/customers.jsonl") && body.contains("line 1"),
        "{body}"
    );

    // A plan line that is not an action: a 503 naming the object and the line.
    put("actions/dt=2026-11-24/plan.jsonl", "{\"key\": 1}\n".into()).await;
    let (status, body) = get(&app, "/v1/actions").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("actions/dt=2026-11-24/plan.jsonl") && body.contains("line 1"),
        "{body}"
    );
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
