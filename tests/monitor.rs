use churn_app::config::Env;
use churn_io::registry::Registry;
use churn_io::store::ObjectGet;
use churn_io::sync::upload_dir;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::family::Family;
use churn_tests::{RoutedQueue, emulator, event_file, function_env, keys, platform};
use serde_json::{Value as Json, json};
use yaml_rust2::{Yaml, YamlLoader};

/// The event pattern of a function's EventBridge rule in infra/template.yaml, as JSON.
fn template_pattern(function: &str, event: &str) -> Json {
    fn json(yaml: &Yaml) -> Json {
        match yaml {
            Yaml::String(s) => json!(s),
            Yaml::Array(items) => Json::Array(items.iter().map(json).collect()),
            Yaml::Hash(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| (k.as_str().expect("a key").to_owned(), json(v)))
                    .collect(),
            ),
            other => panic!("not in an event pattern: {other:?}"),
        }
    }
    let path = format!("{}/../infra/template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template = YamlLoader::load_from_str(&std::fs::read_to_string(path).expect("template"))
        .expect("yaml")
        .remove(0);
    json(&template["Resources"][function]["Properties"]["Events"][event]["Properties"]["Pattern"])
}

/// An EventBridge event as a rule delivers it: `detail-type` and `detail` of a domain
/// event on the platform's bus.
fn delivered<T: serde::de::DeserializeOwned>(body: Json) -> T {
    serde_json::from_value(body).expect("an EventBridge event")
}

#[tokio::test]
async fn predictions_are_monitored_drift_is_published_and_retrains_once_per_window() {
    let Some(clients) = emulator("monitor chain").await else {
        return;
    };
    let platform = platform(&clients).await;
    let bus = platform.settings.event_bus.clone();
    // What the template routes: the monitor's findings to churn-train.
    let evidence = RoutedQueue::new(
        &clients,
        &bus,
        &template_pattern("TrainFunction", "Evidence"),
    )
    .await;

    // Data in which an upstream column broke on 2026-09-01: sessions have no data usage
    // since (the champion, trained on 2026-06-01, never saw it).
    let local = tempfile::tempdir().expect("tempdir");
    let config = GenerateConfig {
        customers: 1500,
        seed: 7,
        drift: vec![
            "null-column@2026-09-01=sessions.data_used_mb"
                .parse()
                .expect("scenario"),
        ],
        ..GenerateConfig::default()
    };
    generate(&Store::new(local.path()), &config, &NoProgress).expect("generate");
    upload_dir(&platform.store, local.path(), "raw", &[])
        .await
        .expect("upload raw");
    let mut s3_event = event_file("s3-put-raw.json");
    s3_event["Records"][0]["s3"]["bucket"]["name"] = json!(platform.settings.bucket);
    s3_event["Records"][0]["s3"]["object"]["key"] =
        json!(keys(&platform, "raw/sessions/").await[0]);
    let ingested = churn_ingest::handle(
        &platform,
        &churn_ingest::Config::new(platform.settings.clone()),
        delivered(s3_event),
    )
    .await
    .expect("ingest");
    assert!(ingested.ingested, "{ingested:?}");

    // The champion, trained months ago.
    let mut train = churn_train::Config::read(&Env::new(function_env(
        &platform,
        &[("CHURN_RETRAIN_COOLDOWN_DAYS", "7")],
    )))
    .expect("config");
    train.train.train.families = vec![Family::Linear, Family::Boosting];
    train.train.train.trials = [(Family::Linear, 1), (Family::Boosting, 2)].into();
    let mut requested = event_file("train-requested.json");
    requested["detail"] = json!({ "as_of": "2026-06-01" });
    let first = churn_train::handle(&platform, &train, delivered(requested))
        .await
        .expect("train");
    assert!(first.promoted, "{first:?}");
    // A challenger that the policy keeps out (its gain would have to exceed 0.5): newer
    // than the champion, so batch prediction scores it in shadow.
    let mut strict = train.clone();
    strict.train.policy.min_auc_gain = 0.5;
    let mut requested = event_file("train-requested.json");
    requested["detail"] = json!({ "as_of": "2026-06-01", "seed": 8 });
    let challenger = churn_train::handle(&platform, &strict, delivered(requested))
        .await
        .expect("challenger");
    assert!(!challenger.promoted, "{challenger:?}");

    // Today's scores: PredictionsReady, which the template sends to the monitor.
    let predict =
        churn_batch_predict::Config::read(&Env::new(function_env(&platform, &[]))).expect("config");
    let predicted = churn_batch_predict::handle(
        &platform,
        &predict,
        delivered(event_file("schedule-daily.json")),
    )
    .await
    .expect("predict");
    assert_eq!(predicted.date, "2026-11-01");
    assert_eq!(predicted.challenger.as_ref(), Some(&challenger.version));
    let shadowed = keys(
        &platform,
        &format!(
            "predictions/dt=2026-11-01/challenger={}/",
            challenger.version
        ),
    )
    .await;
    assert_eq!(shadowed.len(), 2, "scores and summary only: {shadowed:?}");
    let monitor =
        churn_monitor::Config::read(&Env::new(function_env(&platform, &[]))).expect("config");
    let mut ready = event_file("predictions-ready.json");
    ready["detail"] = json!({
        "bucket": platform.settings.bucket, "date": predicted.date, "model": predicted.model,
        "prefix": "predictions/dt=2026-11-01/",
        "high_risk_key": "predictions/dt=2026-11-01/high_risk.csv",
        "rows": predicted.rows, "high_risk": predicted.high_risk,
    });
    let monitored = churn_monitor::handle(&platform, &monitor, delivered(ready.clone()))
        .await
        .expect("monitor");
    assert_eq!(monitored.model, first.version);
    assert_eq!((monitored.days_read, monitored.days_carried), (1, 0));
    // The broken column is found, first.
    assert_eq!(
        monitored.drifted_features.first().map(String::as_str),
        Some("data_used_mb_30d"),
        "{monitored:?}"
    );
    assert!(monitored.published.contains(&"DriftDetected".to_owned()));
    let written = keys(&platform, "monitoring/dt=2026-11-01/").await;
    assert_eq!(
        written,
        [
            "monitoring/dt=2026-11-01/monitor.json",
            "monitoring/dt=2026-11-01/report.html"
        ]
    );
    let report: churn_pipeline::monitor::MonitorReport = serde_json::from_slice(
        &platform
            .store
            .get("monitoring/dt=2026-11-01/monitor.json")
            .await
            .expect("report"),
    )
    .expect("json");
    assert_eq!(report.model_id, first.version);
    // The challenger beside the champion, on the same customers (not matured yet).
    assert_eq!(report.shadow.len(), 1);
    assert_eq!(report.shadow[0].challenger.model_id, challenger.version);
    assert_eq!(report.shadow[0].champion, first.version);
    assert_eq!(report.shadow[0].challenger.rows, report.accuracy[0].rows);
    assert_eq!(report.findings.drifted_features, monitored.drifted_features);
    // A second delivery does nothing.
    let again = churn_monitor::handle(&platform, &monitor, delivered(ready))
        .await
        .expect("replay");
    assert!(again.duplicate, "{again:?}");

    // DriftDetected reaches churn-train through the template's rule, and it retrains on
    // the latest data the labels cover.
    let arrived = evidence.receive(monitored.published.len()).await;
    let drift = arrived
        .into_iter()
        .find(|e| e["detail-type"] == "DriftDetected")
        .expect("DriftDetected arrived");
    assert_eq!(drift["detail"]["features"][0], "data_used_mb_30d");
    assert_eq!(
        drift["detail"]["report_prefix"],
        "monitoring/dt=2026-11-01/"
    );
    let retrained = churn_train::handle(&platform, &train, delivered(drift.clone()))
        .await
        .expect("retrain");
    assert!(
        !retrained.duplicate && !retrained.cooled_down,
        "{retrained:?}"
    );
    assert_eq!(retrained.as_of, "2026-08-03");
    assert_ne!(retrained.version, first.version);
    assert!(
        platform
            .registry
            .version(&retrained.version)
            .await
            .expect("registry")
            .is_some()
    );
    // More evidence in the same window (a storm of alerts, or the same one redelivered)
    // trains nothing.
    let mut storm = drift;
    storm["detail-type"] = json!("PerformanceDegraded");
    storm["detail"]["date"] = json!("2026-11-02");
    let cooled = churn_train::handle(&platform, &train, delivered(storm.clone()))
        .await
        .expect("cooled");
    assert!(cooled.cooled_down, "{cooled:?}");
    assert!(cooled.verdict.contains("retrained already"), "{cooled:?}");
    // The next window trains again (here: on the same data, which is trained already).
    storm["detail"]["date"] = json!("2026-11-20");
    let next = churn_train::handle(&platform, &train, delivered(storm))
        .await
        .expect("next window");
    assert!(!next.cooled_down && next.duplicate, "{next:?}");
}
