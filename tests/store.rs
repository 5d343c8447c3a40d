use churn_io::IoError;
use churn_io::store::{ObjectGet, ObjectList, ObjectPut, S3Store, decode_event_key};
use churn_tests::{bucket, emulator};

#[tokio::test]
async fn objects_round_trip_and_list_in_key_order() {
    let Some(clients) = emulator("store round trip").await else {
        return;
    };
    let store = S3Store::new(clients.s3.clone(), bucket(&clients).await);
    store
        .put("models/v2/model.bin", vec![2; 10])
        .await
        .expect("put");
    store
        .put("models/v1/model.bin", vec![1; 3])
        .await
        .expect("put");
    store
        .put("raw/customers/x.csv", b"id\n".to_vec())
        .await
        .expect("put");
    assert_eq!(
        store.get("models/v1/model.bin").await.expect("get"),
        [1, 1, 1]
    );
    let keys: Vec<_> = store
        .list("models/")
        .await
        .expect("list")
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    assert_eq!(
        keys,
        [
            ("models/v1/model.bin".to_owned(), 3),
            ("models/v2/model.bin".to_owned(), 10)
        ]
    );
    let missing = store.get("models/v9/model.bin").await.expect_err("missing");
    assert!(matches!(missing, IoError::NotFound(_)), "{missing}");
    assert!(!missing.is_retryable());
}

#[tokio::test]
async fn a_key_from_an_s3_event_finds_its_object() {
    let Some(clients) = emulator("event key").await else {
        return;
    };
    let store = S3Store::new(clients.s3.clone(), bucket(&clients).await);
    let key = "raw/customers/export 2026-11-01 é.csv";
    store
        .put(key, b"customer_id\nc1\n".to_vec())
        .await
        .expect("put");
    // As S3 writes it into the notification (events/s3-put-raw.json has one like it).
    let from_event =
        decode_event_key("raw/customers/export+2026-11-01+%C3%A9.csv").expect("decode");
    assert_eq!(from_event, key);
    assert_eq!(
        store.get(&from_event).await.expect("get"),
        b"customer_id\nc1\n"
    );
}

#[tokio::test]
async fn large_files_go_up_in_parts_and_come_back_whole() {
    let Some(clients) = emulator("multipart").await else {
        return;
    };
    let store = S3Store::new(clients.s3.clone(), bucket(&clients).await).with_part_size(5 << 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("predictions.parquet");
    // 12 MiB of varied bytes: three parts of 5, 5 and 2 MiB.
    let bytes: Vec<u8> = (0..12u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&source, &bytes).expect("write");
    let key = "predictions/dt=2026-11-25/part-0.parquet";
    assert_eq!(
        store.upload(&source, key).await.expect("upload"),
        bytes.len() as u64
    );

    let head = clients
        .s3
        .head_object()
        .bucket(store.bucket())
        .key(key)
        .send()
        .await
        .expect("head");
    // A multipart object's ETag ends with the number of parts.
    assert!(
        head.e_tag().unwrap_or_default().ends_with("-3\""),
        "{:?}",
        head.e_tag()
    );

    let copy = dir.path().join("copy.parquet");
    assert_eq!(
        store.download(key, &copy).await.expect("download"),
        bytes.len() as u64
    );
    assert!(
        std::fs::read(&copy).expect("read") == bytes,
        "the object came back different"
    );
    let uploads = clients
        .s3
        .list_multipart_uploads()
        .bucket(store.bucket())
        .send()
        .await
        .expect("uploads");
    assert!(uploads.uploads().is_empty(), "no upload is left open");
}
