use std::collections::HashMap;

use churn_io::ledger::Claim;
use churn_io::store::{ObjectGet, ObjectList, ObjectPut};
use churn_io::sync::upload_dir;
use churn_io::{AwsClients, Platform, Settings};
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::family::Family;
use churn_tests::{bucket, emulator, fresh, table};
use serde_json::{Value as Json, json};

fn event_file(name: &str) -> Json {
    let path = format!(
        "{}/../events/{name}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("json")
}

async fn platform(clients: &AwsClients) -> Platform {
    let bus = fresh("churn-bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let names: HashMap<&str, String> = HashMap::from([
        ("CHURN_BUCKET", bucket(clients).await),
        ("CHURN_REGISTRY_TABLE", table(clients, "models").await),
        ("CHURN_LEDGER_TABLE", table(clients, "ledger").await),
        ("CHURN_ONLINE_TABLE", table(clients, "online").await),
        ("CHURN_EVENT_BUS", bus),
    ]);
    Platform::new(
        clients,
        &Settings::from_lookup(|name| names.get(name).cloned()).expect("settings"),
    )
}

async fn keys(platform: &Platform, prefix: &str) -> Vec<String> {
    platform
        .store
        .list(prefix)
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[tokio::test]
async fn raw_uploads_become_a_champion_and_a_ranked_list_and_replays_change_nothing() {
    let Some(clients) = emulator("end to end").await else {
        return;
    };
    let platform = platform(&clients).await;

    // Raw data, as a customer's export job would upload it, one file with a space.
    let local = tempfile::tempdir().expect("tempdir");
    let config = GenerateConfig {
        customers: 1500,
        seed: 7,
        dirt_rate: 0.01,
        ..GenerateConfig::default()
    };
    generate(&Store::new(local.path()), &config, &NoProgress).expect("generate");
    upload_dir(&platform.store, local.path(), "raw", &[])
        .await
        .expect("upload raw");
    let spaced = "raw/customers/export 2026 é.csv";
    let first_customers = keys(&platform, "raw/customers/").await[0].clone();
    let bytes = platform.store.get(&first_customers).await.expect("get");
    // The same rows under a second name would be duplicates: move them instead.
    clients
        .s3
        .delete_object()
        .bucket(&platform.settings.bucket)
        .key(&first_customers)
        .send()
        .await
        .expect("delete");
    platform.store.put(spaced, bytes).await.expect("put");

    // A poison object: a file no ingest can read (another table's header).
    let poison = "raw/accounts/zz-broken.csv";
    platform
        .store
        .put(poison, b"not,the,header\n1,2,3\n".to_vec())
        .await
        .expect("put");

    // S3 notifies the ingest function (the key URL-encoded, as S3 does).
    let mut s3_event = event_file("s3-put-raw.json");
    s3_event["Records"][0]["s3"]["bucket"]["name"] = json!(platform.settings.bucket);
    s3_event["Records"][0]["s3"]["object"]["key"] = json!("raw/customers/export+2026+%C3%A9.csv");
    let s3_event: aws_lambda_events::event::s3::S3Event =
        serde_json::from_value(s3_event).expect("S3 event");
    let ingested = churn_ingest::handle(&platform, s3_event.clone())
        .await
        .expect("ingest");
    assert!(
        ingested.ingested && ingested.curated_rows > 0,
        "{ingested:?}"
    );
    assert!(
        ingested.quarantined_rows > 0,
        "1% dirt is quarantined: {ingested:?}"
    );
    let curated = keys(&platform, "curated/").await;
    assert_eq!(curated.len(), 6, "{curated:?}");
    assert_eq!(
        keys(&platform, "reports/").await,
        ["reports/ingest-report.json"]
    );
    assert!(!keys(&platform, "quarantine/").await.is_empty());
    // The poison object was set aside with its reason, and the rest went through.
    assert_eq!(ingested.quarantined_objects, [poison]);
    assert!(
        keys(&platform, "raw/accounts/")
            .await
            .iter()
            .all(|k| k != poison)
    );
    let reason = platform
        .store
        .get(&format!("quarantine/objects/{poison}.reason.txt"))
        .await
        .expect("reason");
    let reason = String::from_utf8(reason).expect("utf8");
    let bucket_key = format!("s3://{}/{poison}", platform.settings.bucket);
    assert!(reason.starts_with(&bucket_key), "{reason}");
    assert!(
        !keys(&platform, &format!("quarantine/objects/{poison}"))
            .await
            .is_empty(),
        "the object itself is kept"
    );
    // Delivered again: nothing is redone.
    let again = churn_ingest::handle(&platform, s3_event)
        .await
        .expect("replay");
    assert_eq!((again.ingested, again.duplicates), (false, 1), "{again:?}");

    // DatasetIngested starts a training; the first model becomes the champion.
    let mut train_event = event_file("dataset-ingested.json");
    train_event["detail"]["bucket"] = json!(platform.settings.bucket);
    train_event["detail"]["data_end"] = json!(config.end_date.to_string());
    let train_event: churn_train::TrainEvent = serde_json::from_value(train_event).expect("event");
    // Two families and few trials: this is about the wiring, not the search.
    let mut options = churn_train::Options::default();
    options.train.families = vec![Family::Linear, Family::Boosting];
    options.train.trials = [(Family::Linear, 1), (Family::Boosting, 2)].into();
    let trained = churn_train::handle(&platform, &options, train_event.clone())
        .await
        .expect("train");
    assert!(trained.promoted && trained.metric > 0.6, "{trained:?}");
    let champion = platform
        .registry
        .champion()
        .await
        .expect("champion")
        .expect("promoted");
    assert_eq!(champion.version, trained.version);
    let entry = platform
        .registry
        .version(&trained.version)
        .await
        .expect("get")
        .expect("registered");
    assert_eq!(entry.seed, 42);
    let model_keys = keys(&platform, &format!("models/{}/", trained.version)).await;
    for file in [
        "model.bin",
        "model.json",
        "training.json",
        "report.html",
        "metrics.json",
    ] {
        assert!(
            model_keys.iter().any(|k| k.ends_with(file)),
            "{file} in {model_keys:?}"
        );
    }
    let replay = churn_train::handle(&platform, &options, train_event)
        .await
        .expect("replay");
    assert!(replay.duplicate, "{replay:?}");

    // A manual training with another seed: registered, promoted only if it beats the
    // champion on its own holdout.
    let mut manual = event_file("dataset-ingested.json");
    manual["detail-type"] = json!("TrainRequested");
    manual["detail"] = json!({ "as_of": trained.as_of, "seed": 7 });
    let challenger = churn_train::handle(
        &platform,
        &options,
        serde_json::from_value(manual).expect("event"),
    )
    .await
    .expect("challenger");
    let theirs = challenger
        .champion_metric
        .expect("the champion was scored on the same rows");
    assert_eq!(
        challenger.promoted,
        challenger.metric > theirs,
        "{challenger:?}"
    );

    // ModelPromoted starts batch prediction.
    let mut predict_event = event_file("model-promoted.json");
    predict_event["detail"]["bucket"] = json!(platform.settings.bucket);
    let predicted = churn_batch_predict::handle(&platform, predict_event.clone())
        .await
        .expect("predict");
    assert!(
        predicted.rows > 0 && predicted.high_risk > 0,
        "{predicted:?}"
    );
    assert_eq!(predicted.online_rows as u64, predicted.rows);
    let prefix = format!("predictions/dt={}/", predicted.date);
    let written = keys(&platform, &prefix).await;
    for file in [
        "predictions.parquet",
        "high_risk.csv",
        "high_risk.parquet",
        "summary.json",
    ] {
        assert!(
            written.contains(&format!("{prefix}{file}")),
            "{file} in {written:?}"
        );
    }
    let list = String::from_utf8(
        platform
            .store
            .get(&format!("{prefix}high_risk.csv"))
            .await
            .expect("list"),
    )
    .expect("utf8");
    // rank,customer_id,churn_probability,reasons
    let first_customer = list
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(1))
        .expect("a row")
        .to_owned();
    let replay = churn_batch_predict::handle(&platform, predict_event)
        .await
        .expect("replay");
    assert!(replay.duplicate, "{replay:?}");
    assert_eq!(
        keys(&platform, &prefix).await,
        written,
        "the replay wrote nothing"
    );

    // The scoring API scores the riskiest customer from the online table.
    let app = churn_score_api::App::new(&clients, &platform.settings);
    let mut request = event_file("score-by-id.json");
    request["body"] = json!(json!({ "customer_id": first_customer }).to_string());
    let response = app
        .handle(lambda_http::request::from_str(&request.to_string()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    let body: Json = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("json"),
        other => panic!("{other:?}"),
    };
    let current = platform
        .registry
        .champion()
        .await
        .expect("champion")
        .expect("set");
    assert_eq!(body["model"], json!(current.version));
    assert_eq!(body["tier"], "high", "{body}");

    // The ledger holds every step as done.
    let key = format!(
        "predict:predictions/dt={}:{}",
        predicted.date, predicted.model
    );
    assert!(matches!(
        platform
            .ledger
            .claim(&key, churn_io::now_epoch())
            .await
            .expect("claim"),
        Claim::Done { .. }
    ));
}

#[tokio::test]
async fn an_ingest_that_finds_one_upload_busy_gives_back_what_it_claimed() {
    let Some(clients) = emulator("ingest claims").await else {
        return;
    };
    let platform = platform(&clients).await;
    let bucket = platform.settings.bucket.clone();
    let mut event = event_file("s3-put-raw.json");
    let mut second = event["Records"][0].clone();
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!("raw/customers/a.csv");
    event["Records"][0]["s3"]["object"]["sequencer"] = json!("01");
    second["s3"]["bucket"]["name"] = json!(bucket);
    second["s3"]["object"]["key"] = json!("raw/customers/b.csv");
    second["s3"]["object"]["sequencer"] = json!("02");
    event["Records"]
        .as_array_mut()
        .expect("records")
        .push(second);
    // Another invocation is ingesting b.csv.
    let now = churn_io::now_epoch();
    let busy = format!("ingest:{bucket}/raw/customers/b.csv:02");
    assert_eq!(
        platform.ledger.claim(&busy, now).await.expect("claim"),
        Claim::Acquired
    );

    let event = serde_json::from_value(event).expect("S3 event");
    let error = churn_ingest::handle(&platform, event)
        .await
        .expect_err("busy");
    assert!(error.retryable, "{error}");
    // a.csv was claimed, then given back: the retry can claim it at once.
    let first = format!("ingest:{bucket}/raw/customers/a.csv:01");
    assert_eq!(
        platform.ledger.claim(&first, now).await.expect("claim"),
        Claim::Acquired
    );
}
