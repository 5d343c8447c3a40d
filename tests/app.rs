use churn_app::config::Env;
use churn_app::once::once;
use churn_app::train::{TrainConfig, Trigger};
use churn_app::{AppError, Platform};
use churn_io::ledger::Claim;
use churn_io::sync::upload_dir;
use churn_pipeline::PipelineError;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::family::Family;
use churn_tests::{emulator, event_file, fresh, function_env, platform};
use serde_json::json;

/// A full work disk used to be recorded as a permanent failure, and every replay of the
/// event then failed at once with it: now the key is given back, and the retry runs.
#[tokio::test]
async fn a_full_work_disk_gives_the_work_back_for_a_retry() {
    let Some(clients) = emulator("retryable pipeline errors").await else {
        return;
    };
    let platform = platform(&clients).await;
    let key = fresh("train:2026-08-03");
    let result = once(
        &platform,
        "test",
        key.clone(),
        || {
            churn_app::work::blocking("training", || -> churn_pipeline::Result<()> {
                Err(PipelineError::io(
                    "/tmp/work/features/as_of=2026-08-03/features.parquet",
                    std::io::Error::from(std::io::ErrorKind::StorageFull),
                ))
            })
        },
        |()| "done".into(),
    )
    .await;
    let error = result.expect_err("the disk was full");
    assert!(error.is_retryable(), "{error}");
    assert_eq!(
        platform
            .ledger
            .claim(&key, churn_io::now_epoch())
            .await
            .expect("claim"),
        Claim::Acquired,
        "the key was released, not finished as failed"
    );

    // Bad data stays failed: the replay ends at once with the same error.
    let bad = fresh("train:bad");
    let error = once(
        &platform,
        "test",
        bad.clone(),
        || async { Err::<(), _>(AppError::permanent("no labelled rows")) },
        |()| "done".into(),
    )
    .await
    .expect_err("bad data");
    assert!(!error.is_retryable());
    let replay = once(
        &platform,
        "test",
        bad,
        || async { Ok(()) },
        |()| "done".into(),
    )
    .await
    .expect_err("the same failure");
    assert!(replay.to_string().contains("no labelled rows"), "{replay}");
}

/// Curated data for `customers` customers uploaded to the platform's bucket.
async fn curated(platform: &Platform, customers: u64, seed: u64) -> tempfile::TempDir {
    let local = tempfile::tempdir().expect("tempdir");
    let root = local.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let store = Store::new(&root);
        let config = GenerateConfig {
            customers,
            seed,
            ..GenerateConfig::default()
        };
        generate(&store, &config, &NoProgress).expect("generate");
        ingest(&store, &IngestOptions::new(config.end_date), &NoProgress).expect("ingest");
    })
    .await
    .expect("prepared");
    upload_dir(&platform.store, local.path(), "curated", &[])
        .await
        .expect("upload");
    local
}

/// The same end date and seed used to be one ledger key, so a training on corrected data
/// was skipped as a replay. The key now includes the curated data's fingerprint.
#[tokio::test]
async fn corrected_data_with_the_same_end_date_trains_again() {
    let Some(clients) = emulator("corrected data").await else {
        return;
    };
    let platform = platform(&clients).await;
    let local = curated(&platform, 600, 3).await;
    let mut config = TrainConfig::default();
    config.train.families = vec![Family::Linear];
    config.train.trials = [(Family::Linear, 1)].into();
    config.train.folds = 3;
    let trigger = Trigger::Scheduled;
    let first = churn_app::train::run(&platform, &config, &trigger)
        .await
        .expect("train");
    assert!(!first.duplicate && first.promoted, "{first:?}");
    let replay = churn_app::train::run(&platform, &config, &trigger)
        .await
        .expect("replay");
    assert!(replay.duplicate, "{replay:?}");

    // A correction: the raw customers lose their last record, and the data is ingested
    // again (the same end date).
    let root = local.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let store = Store::new(&root);
        for entry in std::fs::read_dir(root.join("raw/customers")).expect("raw") {
            let path = entry.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("csv");
            let kept: Vec<&str> = text.lines().collect();
            std::fs::write(&path, kept[..kept.len() - 1].join("\n") + "\n").expect("write");
        }
        let end = GenerateConfig::default().end_date;
        ingest(&store, &IngestOptions::new(end), &NoProgress).expect("ingest");
    })
    .await
    .expect("corrected");
    upload_dir(&platform.store, local.path(), "curated", &[])
        .await
        .expect("upload");
    let again = churn_app::train::run(&platform, &config, &trigger)
        .await
        .expect("retrain");
    assert!(
        !again.duplicate,
        "the corrected data was trained on: {again:?}"
    );
    assert_eq!(again.as_of, first.as_of);
}

/// Through the actions queue, a day whose playbook is missing used to be answered as a
/// success (a log line only): now the invocation fails, so the error alarm fires.
#[tokio::test]
async fn a_missing_playbook_fails_the_queue_invocation() {
    let Some(clients) = emulator("missing playbook").await else {
        return;
    };
    let platform = platform(&clients).await;
    let config =
        churn_crm_push::Config::read(&Env::new(function_env(&platform, &[]))).expect("config");
    let providers = churn_app::push::Providers {
        secrets: churn_io::secrets::Secrets::new(None),
        ses: None,
        clock: churn_io::now_epoch,
    };
    let mut ready = event_file("predictions-ready.json");
    ready["detail"]["bucket"] = json!(platform.settings.bucket);
    let mut batch = event_file("sqs-predictions-ready.json");
    batch["Records"][0]["body"] = json!(ready.to_string());
    let event = serde_json::from_value(batch).expect("an SQS batch");
    let error = churn_crm_push::handle(&platform, &config, &providers, event)
        .await
        .expect_err("no playbook");
    assert!(!error.is_retryable(), "{error}");
    assert!(
        error.to_string().contains("config/playbook.toml")
            && error.to_string().contains("upload the playbook"),
        "{error}"
    );
}

/// Two ingests of a bucket at once used to both publish (each read raw/ whole), the last
/// one without the other's upload: the second now finds the data set leased and fails
/// retryably (Lambda retries it), giving back the upload it claimed.
#[tokio::test]
async fn an_ingest_while_another_runs_waits_for_it() {
    let Some(clients) = emulator("dataset lease").await else {
        return;
    };
    let platform = platform(&clients).await;
    let lease = format!("ingest-dataset:{}", platform.settings.bucket);
    let now = churn_io::now_epoch();
    assert_eq!(
        platform.ledger.claim(&lease, now).await.expect("claim"),
        Claim::Acquired
    );
    let mut event = event_file("s3-put-raw.json");
    event["Records"][0]["s3"]["bucket"]["name"] = json!(platform.settings.bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!("raw/customers/late.csv");
    event["Records"][0]["s3"]["object"]["sequencer"] = json!("07");
    let event = serde_json::from_value(event).expect("S3 event");
    let error = churn_ingest::handle(
        &platform,
        &churn_ingest::Config::new(platform.settings.clone()),
        event,
    )
    .await
    .expect_err("the data set is busy");
    assert!(
        error.is_retryable() && error.to_string().contains("another ingest"),
        "{error}"
    );
    let upload = format!(
        "ingest:{}/raw/customers/late.csv:07",
        platform.settings.bucket
    );
    assert_eq!(
        platform.ledger.claim(&upload, now).await.expect("claim"),
        Claim::Acquired,
        "the upload was given back for the retry"
    );
}
