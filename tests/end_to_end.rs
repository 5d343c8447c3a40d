use churn_app::Platform;
use churn_app::config::Env;
use churn_io::AwsClients;
use churn_io::ledger::Claim;
use churn_io::registry::Registry;
use churn_io::store::{ObjectGet, ObjectPut};
use churn_io::sync::upload_dir;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::family::Family;
use churn_tests::{emulator, event_file, fresh, function_env, keys, platform};
use serde_json::{Value as Json, json};

/// The training function's settings as deployed, with the platform's names.
fn train_config(platform: &Platform) -> churn_train::Config {
    churn_train::Config::read(&Env::new(function_env(platform, &[]))).expect("config")
}

/// The batch prediction function's settings as deployed.
fn predict_config(
    platform: &Platform,
    rows_per_part: &str,
    fan_out_above: &str,
) -> churn_batch_predict::Config {
    let env = function_env(
        platform,
        &[
            ("CHURN_SNAPSHOT_ROWS_PER_PART", rows_per_part),
            ("CHURN_FANOUT_ABOVE", fan_out_above),
        ],
    );
    churn_batch_predict::Config::read(&Env::new(env)).expect("config")
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
    let first_customers = keys(&platform, "raw/customers/").await[0].clone();
    // The same compression (the generator's dirt writes some files gzip or zstd).
    let compressed = [".gz", ".zst"]
        .into_iter()
        .find(|suffix| first_customers.ends_with(suffix))
        .unwrap_or("");
    let spaced = format!("raw/customers/export 2026 é.csv{compressed}");
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
    platform.store.put(&spaced, bytes).await.expect("put");

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
    s3_event["Records"][0]["s3"]["object"]["key"] =
        json!(format!("raw/customers/export+2026+%C3%A9.csv{compressed}"));
    let s3_event: aws_lambda_events::event::s3::S3Event =
        serde_json::from_value(s3_event).expect("S3 event");
    let ingested = churn_ingest::handle(
        &platform,
        &churn_ingest::Config::new(platform.settings.clone()),
        s3_event.clone(),
    )
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
    // One dataset version, published by its pointer, written last.
    let version = ingested.version.clone().expect("a version");
    let curated = keys(&platform, "curated/").await;
    assert_eq!(curated.len(), 7, "six tables and the pointer: {curated:?}");
    assert!(curated.contains(&"curated/_current.json".to_owned()));
    assert!(
        curated
            .iter()
            .filter(|k| !k.ends_with("_current.json"))
            .all(|k| k.starts_with(&format!("curated/v={version}/")))
    );
    assert_eq!(
        keys(&platform, "reports/").await,
        [format!("reports/v={version}/ingest-report.json")]
    );
    assert!(
        !keys(&platform, &format!("quarantine/v={version}/"))
            .await
            .is_empty()
    );
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
    let again = churn_ingest::handle(
        &platform,
        &churn_ingest::Config::new(platform.settings.clone()),
        s3_event,
    )
    .await
    .expect("replay");
    assert_eq!((again.ingested, again.duplicates), (false, 1), "{again:?}");

    // DatasetIngested starts a training; the first model becomes the champion.
    let mut train_event = event_file("dataset-ingested.json");
    train_event["detail"]["bucket"] = json!(platform.settings.bucket);
    train_event["detail"]["data_end"] = json!(config.end_date.to_string());
    let train_event: churn_train::TrainEvent = serde_json::from_value(train_event).expect("event");
    // Two families and few trials: this is about the wiring, not the search.
    let mut options = train_config(&platform);
    options.train.train.families = vec![Family::Linear, Family::Boosting];
    options.train.train.trials = [(Family::Linear, 1), (Family::Boosting, 2)].into();
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
    // The promotion is in the champion's history, with who and the policy's reason.
    let promoted = champion.history.last().expect("a history");
    assert_eq!(
        (
            promoted.version.as_str(),
            promoted.by.as_str(),
            promoted.previous.as_deref()
        ),
        (trained.version.as_str(), "churn-train", None)
    );
    assert_eq!(promoted.reason, trained.verdict);
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
        "profile.json",
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
    // The policy's two tests, on the figures the summary reports: a higher ROC-AUC, and a
    // calibration error within the tolerance of the champion's on the same rows.
    let (ours, champions) = (
        challenger
            .calibration_error
            .expect("the challenger's calibration"),
        challenger
            .champion_calibration_error
            .expect("the champion's calibration on the same rows"),
    );
    let tolerance = options.train.policy.calibration_tolerance;
    assert_eq!(
        challenger.promoted,
        challenger.metric > theirs && ours <= champions + tolerance,
        "{challenger:?}"
    );
    assert!(
        challenger.verdict.contains("calibration error")
            || challenger.verdict.contains("not enough")
    );

    // ModelPromoted starts batch prediction, on a snapshot in parts.
    let predict_options = predict_config(&platform, "500", "");
    let mut predict_event = event_file("model-promoted.json");
    predict_event["detail"]["bucket"] = json!(platform.settings.bucket);
    let predict_event: churn_batch_predict::Event =
        serde_json::from_value(predict_event).expect("event");
    let predicted = churn_batch_predict::handle(&platform, &predict_options, predict_event)
        .await
        .expect("predict");
    assert!(
        predicted.rows > 0 && predicted.high_risk > 0,
        "{predicted:?}"
    );
    assert_eq!(predicted.online_rows as u64, predicted.rows);
    // A challenger the policy kept out is newer than the champion: scored in shadow.
    assert_eq!(
        predicted.challenger,
        (!challenger.promoted).then(|| challenger.version.clone()),
        "{predicted:?}"
    );
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
    let predict_event = serde_json::from_value(event_file("model-promoted.json")).expect("event");
    let replay = churn_batch_predict::handle(&platform, &predict_options, predict_event)
        .await
        .expect("replay");
    assert!(replay.duplicate, "{replay:?}");
    assert_eq!(
        keys(&platform, &prefix).await,
        written,
        "the replay wrote nothing"
    );

    // The snapshot is in parts; the Distributed Map runs one child per object of it: the
    // spec and summary are skipped, each part is scored into a shard folder of its own.
    let snapshot = keys(&platform, &format!("features/as_of={}/", predicted.date)).await;
    let parts = snapshot.iter().filter(|k| k.ends_with(".parquet")).count();
    assert!(parts >= 2, "{snapshot:?}");
    let mut shard_rows = 0;
    for key in &snapshot {
        // events/predict-shard.json is what the Map's ItemSelector passes each child.
        let mut item = event_file("predict-shard.json");
        item["Key"] = json!(key);
        let item = serde_json::from_value(item).expect("shard item");
        let shard = churn_batch_predict::handle(&platform, &predict_options, item)
            .await
            .expect("shard");
        assert_eq!(
            shard.skipped,
            !key.ends_with(".parquet"),
            "{key}: {shard:?}"
        );
        shard_rows += shard.rows;
    }
    assert_eq!(
        shard_rows, predicted.rows,
        "the parts hold every customer once"
    );
    let shards = keys(&platform, &format!("{prefix}shard=")).await;
    assert_eq!(
        shards
            .iter()
            .filter(|k| k.ends_with("/predictions.parquet"))
            .count(),
        parts
    );

    // The scoring API scores the riskiest customer from the online table.
    let api = churn_score_api::app(
        &clients,
        &churn_score_api::Config {
            settings: platform.settings.clone(),
            refresh: std::time::Duration::from_secs(60),
        },
    )
    .expect("router");
    let mut request = event_file("customer.json");
    let path = format!("/v1/customers/{first_customer}");
    request["rawPath"] = json!(path);
    request["requestContext"]["http"]["path"] = json!(path);
    let response = churn_score_api::handle(
        &api,
        lambda_http::request::from_str(&request.to_string()).expect("request"),
    )
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
    // What the probability means: churn within the horizon the model was trained for.
    assert_eq!(
        body["horizon_days"],
        json!(churn_app::dates::DEFAULT_HORIZON_DAYS),
        "{body}"
    );
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

    // PredictionsReady starts the CRM push.
    let mut ready = event_file("predictions-ready.json");
    ready["detail"]["bucket"] = json!(platform.settings.bucket);
    ready["detail"]["date"] = json!(predicted.date);
    ready["detail"]["model"] = json!(predicted.model);
    ready["detail"]["prefix"] = json!(prefix);
    ready["detail"]["high_risk_key"] = json!(format!("{prefix}high_risk.csv"));
    crm_push(&clients, &platform, &predicted.date, ready).await;
}

/// HubSpot (contacts and tasks) and Twilio, answering as documented.
async fn providers() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};
    let server = MockServer::start().await;
    let results = |request: &Request| -> Vec<Json> {
        let body: Json = serde_json::from_slice(&request.body).expect("json");
        body["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|i| json!({ "id": format!("hs-{}", i["id"].as_str().unwrap_or("task")), "objectWriteTraceId": i["objectWriteTraceId"] }))
            .collect()
    };
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(move |r: &Request| {
            ResponseTemplate::new(200)
                .set_body_json(json!({ "status": "COMPLETE", "results": results(r) }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(move |r: &Request| {
            ResponseTemplate::new(201)
                .set_body_json(json!({ "status": "COMPLETE", "results": results(r) }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "sid": "SM1", "status": "queued" })),
        )
        .mount(&server)
        .await;
    server
}

const PUSH_PLAYBOOK: &str = r#"
format = 1
revision = "e2e-1"
[value]
expected_months = 12
[budget]
daily = 2000
[caps]
call = 5
[[actions]]
id = "call-owner"
kind = "call"
cost = 10
save_rate = 0.35
cooldown_days = 30
[[actions]]
id = "discount-20-email"
kind = "discount"
channel = "email"
cost = 0.1
discount_percent = 20
discount_months = 3
save_rate = 0.25
cooldown_days = 60
subject = "{discount_percent}% off"
body = "Use {offer_code} for {discount_percent}% off for {discount_months} months."
[[actions]]
id = "discount-10-sms"
kind = "discount"
channel = "sms"
cost = 0.05
discount_percent = 10
discount_months = 3
save_rate = 0.15
cooldown_days = 60
body = "{discount_percent}% off with {offer_code}"
[[actions]]
id = "support-priority"
kind = "support_priority"
save_rate = 0.05
[[rules]]
name = "high"
tiers = ["high"]
actions = ["call-owner", "discount-20-email", "discount-10-sms"]
[[rules]]
name = "medium"
tiers = ["medium"]
actions = ["support-priority"]
"#;

/// `churn-crm-push` on the day's predictions: sent once to HubSpot, Twilio and SES
/// (tokens from Secrets Manager), replays and SQS redeliveries a no-op, a bad SQS
/// message dropped and an unreachable store redelivered.
async fn crm_push(clients: &AwsClients, platform: &Platform, date: &str, ready: Json) {
    let server = providers().await;
    let secret = fresh("churn/providers");
    clients
        .secrets_manager()
        .create_secret()
        .name(&secret)
        .secret_string(
            json!({ "hubspot": "pat-e2e-token", "twilio": "twilio-e2e-token" }).to_string(),
        )
        .send()
        .await
        .expect("secret");
    let sender = format!("{}@example.com", fresh("retention"));
    clients
        .ses()
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("identity");
    let connections = format!(
        "[crm]\nprovider = \"hubspot\"\nbase_url = \"{0}\"\ntoken = {{ secret = \"{secret}\", key = \"hubspot\" }}\n\n[sms]\nprovider = \"twilio\"\nbase_url = \"{0}\"\naccount_sid = \"AC123\"\nauth_token = {{ secret = \"{secret}\", key = \"twilio\" }}\nfrom = \"+15005550006\"\nmessages_per_second = 1000\n\n[email]\nprovider = \"ses\"\nfrom = \"{sender}\"\nemails_per_second = 100\n",
        server.uri()
    );
    platform
        .store
        .put("config/playbook.toml", PUSH_PLAYBOOK.as_bytes().to_vec())
        .await
        .expect("playbook");
    platform
        .store
        .put("config/connections.toml", connections.into_bytes())
        .await
        .expect("connections");
    let mut config =
        churn_crm_push::Config::read(&Env::new(function_env(platform, &[]))).expect("config");
    config.push.dispatch = churn_app::push::DispatchOptions {
        record_attempts: 2,
        record_backoff: std::time::Duration::from_millis(10),
        concurrency: 4,
    };
    let providers = churn_app::push::Providers {
        secrets: churn_io::secrets::Secrets::new(Some(clients.secrets_manager())),
        ses: Some(clients.ses()),
        clock: churn_io::now_epoch,
    };
    let push = |platform: &Platform, event: Json| {
        let (config, providers) = (&config, &providers);
        let platform = platform.clone();
        async move {
            let event = serde_json::from_value(event).expect("an event the function takes");
            churn_crm_push::handle(&platform, config, providers, event)
                .await
                .map(|answer| serde_json::to_value(answer).expect("json"))
        }
    };
    let _counting = churn_tests::SES_COUNT.lock().await;
    let ses_before = churn_tests::ses_sent().await;
    let pushed = push(platform, ready.clone()).await.expect("push");
    let day = &pushed["day"];
    let sent = day["outcomes"]["sent"].as_u64().expect("sent");
    let failed = day["outcomes"]["failed"].as_u64().unwrap_or(0);
    assert_eq!(
        Some(sent + failed),
        day["outcomes"]
            .as_object()
            .map(|o| o.values().filter_map(Json::as_u64).sum()),
        "{day}"
    );
    assert!(day["plan"]["crm_syncs"].as_u64() > Some(0), "{day}");
    let actions = format!("actions/dt={date}/");
    // The only actions not sent are those of customers the CRM cannot key (1% dirt
    // leaves some without an e-mail address): refused one by one, counted, and the day
    // goes on.
    let outcomes = String::from_utf8(
        platform
            .store
            .get(&format!("{actions}outcomes.jsonl"))
            .await
            .expect("outcomes"),
    )
    .expect("utf8");
    for line in outcomes
        .lines()
        .filter(|l| !l.contains(r#""status":"sent""#))
    {
        assert!(
            line.contains(r#""status":"failed""#) && line.contains("NO_EMAIL"),
            "{line}"
        );
    }
    let written = keys(platform, &actions).await;
    for file in [
        "plan.json",
        "plan.jsonl",
        "skipped.jsonl",
        "outcomes.jsonl",
        "summary.json",
    ] {
        assert!(
            written.contains(&format!("{actions}{file}")),
            "{file} in {written:?}"
        );
    }
    let emails = day["plan"]["planned"]["discount-20-email"]
        .as_u64()
        .unwrap_or(0);
    assert!(emails > 0, "{day}");
    assert_eq!(churn_tests::ses_sent().await, ses_before + emails);
    let requests = server.received_requests().await.expect("recorded").len();
    assert!(requests > 0);
    let plan = String::from_utf8(
        platform
            .store
            .get(&format!("{actions}plan.jsonl"))
            .await
            .expect("plan"),
    )
    .expect("utf8");
    let first_key = serde_json::from_str::<Json>(plan.lines().next().expect("an action"))
        .expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert!(matches!(
        churn_io::action_ledger::ActionLedger::claim(
            &platform.actions,
            &first_key,
            churn_io::now_epoch()
        )
        .await
        .expect("claim"),
        churn_io::action_ledger::ActionClaim::Done { .. }
    ));

    // A replay of the event, and the same event through SQS: no request, no e-mail, and
    // nothing to redeliver.
    let replay = push(platform, ready.clone()).await.expect("replay");
    assert_eq!(replay["day"]["frozen"], json!(true));
    assert_eq!(
        replay["day"]["outcomes"]["already_done"].as_u64(),
        Some(sent + failed)
    );
    // The schedule after quiet hours finds the latest day and has nothing left to send.
    let scheduled = push(platform, event_file("schedule-actions.json"))
        .await
        .expect("scheduled");
    assert_eq!(scheduled["date"], json!(date));
    assert_eq!(
        scheduled["day"]["outcomes"]["already_done"].as_u64(),
        Some(sent + failed)
    );
    let mut batch = event_file("sqs-predictions-ready.json");
    batch["Records"][0]["messageId"] = json!("m1");
    batch["Records"][0]["body"] = json!(ready.to_string());
    let answer = push(platform, batch.clone()).await.expect("sqs");
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(
        server.received_requests().await.expect("recorded").len(),
        requests
    );
    assert_eq!(churn_tests::ses_sent().await, ses_before + emails);

    // A message that can never succeed next to it fails the invocation (the error alarm
    // fires, and the queue's redrive takes it to the dead-letter queue), where it used
    // to be dropped with a log line.
    let mut with_bad = batch.clone();
    let mut bad = batch["Records"][0].clone();
    bad["messageId"] = json!("m2");
    bad["body"] = json!("not an event");
    with_bad["Records"]
        .as_array_mut()
        .expect("records")
        .push(bad);
    let error = push(platform, with_bad).await.expect_err("a bad message");
    assert!(!error.is_retryable(), "{error}");
    assert!(
        error
            .to_string()
            .contains("m2: SQS message m2: the body is not an EventBridge event"),
        "{error}"
    );

    // The store gone: the message goes back to the queue for a later try.
    let gone = Platform::new(&churn_tests::unreachable().await, &platform.settings);
    let answer = push(&gone, batch).await.expect("sqs");
    assert_eq!(
        answer,
        json!({ "batchItemFailures": [{ "itemIdentifier": "m1" }] })
    );
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
    let error = churn_ingest::handle(
        &platform,
        &churn_ingest::Config::new(platform.settings.clone()),
        event,
    )
    .await
    .expect_err("busy");
    assert!(error.is_retryable(), "{error}");
    // a.csv was claimed, then given back: the retry can claim it at once.
    let first = format!("ingest:{bucket}/raw/customers/a.csv:01");
    assert_eq!(
        platform.ledger.claim(&first, now).await.expect("claim"),
        Claim::Acquired
    );
}
