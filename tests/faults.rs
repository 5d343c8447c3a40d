use churn_io::events::{DomainEvent, EventPublisher};
use churn_io::ledger::Ledger;
use churn_io::store::{ObjectList, ObjectPut, S3Store};
use churn_tests::{Cuttable, bucket, emulator, unreachable};

#[tokio::test]
async fn an_emulator_gone_mid_run_gives_retryable_errors_and_writes_nothing() {
    let Some(clients) = emulator("faults").await else {
        return;
    };
    let live = S3Store::new(clients.s3.clone(), bucket(&clients).await).with_part_size(5 << 20);
    let gone = unreachable().await;
    let dead = S3Store::new(gone.s3.clone(), live.bucket()).with_part_size(5 << 20);

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("big.bin");
    std::fs::write(&file, vec![7u8; 11 << 20]).expect("write");
    let error = dead
        .upload(&file, "predictions/dt=2026-11-25/part-0.parquet")
        .await
        .expect_err("down");
    assert!(error.is_retryable(), "{error}");
    assert!(
        error.to_string().contains("CreateMultipartUpload"),
        "{error}"
    );
    let error = dead
        .put("models/v1/model.bin", vec![1])
        .await
        .expect_err("down");
    assert!(error.is_retryable(), "{error}");

    let ledger = Ledger::new(gone.dynamodb.clone(), "ledger", 900);
    let error = ledger.claim("k", 0).await.expect_err("down");
    assert!(error.is_retryable(), "{error}");

    let publisher = EventPublisher::new(gone.eventbridge.clone(), "default", "churn.test");
    let event = DomainEvent {
        detail_type: "ModelPromoted".into(),
        detail: serde_json::json!({}),
    };
    assert!(
        publisher
            .publish(&[event])
            .await
            .expect_err("down")
            .is_retryable()
    );

    // Nothing reached the bucket.
    assert!(live.list("").await.expect("list").is_empty());
}

#[tokio::test]
async fn refusals_are_not_retryable() {
    let Some(clients) = emulator("refusals").await else {
        return;
    };
    let missing_bucket = S3Store::new(clients.s3.clone(), "no-such-bucket-churn");
    let error = missing_bucket
        .put("raw/x.csv", vec![1])
        .await
        .expect_err("no bucket");
    assert!(!error.is_retryable(), "{error}");
    assert!(
        error
            .to_string()
            .contains("s3://no-such-bucket-churn/raw/x.csv"),
        "{error}"
    );
    let ledger = Ledger::new(clients.dynamodb.clone(), "no-such-table-churn", 900);
    let error = ledger.claim("k", 0).await.expect_err("no table");
    assert!(!error.is_retryable(), "{error}");
}

#[tokio::test]
async fn an_emulator_gone_in_the_middle_of_a_multipart_upload_leaves_no_object() {
    let Some(clients) = emulator("multipart cut").await else {
        return;
    };
    let bucket = bucket(&clients).await;
    // The connection goes away after the second of four parts.
    let proxy = Cuttable::to_emulator(2).await;
    let proxied = S3Store::new(proxy.clients().await.s3.clone(), &bucket).with_part_size(5 << 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("predictions.parquet");
    std::fs::write(&file, vec![7u8; 18 << 20]).expect("write");
    let key = "predictions/dt=2026-11-25/predictions.parquet";
    let error = proxied
        .upload(&file, key)
        .await
        .expect_err("cut mid-upload");
    assert!(proxy.is_cut(), "the proxy cut the upload");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("UploadPart"), "{error}");

    // Seen directly: no object, whole or half; the unfinished upload (whose abort could
    // not get through either) is invisible to readers, and the bucket's lifecycle rule
    // (infra/template.yaml) aborts it after two days.
    let live = S3Store::new(clients.s3.clone(), &bucket);
    assert!(live.list("").await.expect("list").is_empty());
    let uploads = clients
        .s3
        .list_multipart_uploads()
        .bucket(&bucket)
        .send()
        .await
        .expect("uploads");
    assert_eq!(uploads.uploads().len(), 1);
    // Once the emulator is back, the retry writes the whole object.
    live.upload(&file, key).await.expect("retry");
    assert_eq!(live.list("").await.expect("list")[0].size, 18 << 20);
}
