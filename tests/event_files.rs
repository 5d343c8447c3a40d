use std::path::PathBuf;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::s3::S3Event;

fn events_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../events")
}

/// Every file in events/, parsed as what its function receives.
#[test]
fn every_event_file_parses_as_its_event_type() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir())
        .expect("events/")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if value["Records"][0]["eventSource"] == "aws:sqs" {
            // An SQS batch of EventBridge events (churn-crm-push's queue).
            for record in value["Records"].as_array().expect("records") {
                let body = record["body"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: no body"));
                let event: EventBridgeEvent<serde_json::Value> =
                    serde_json::from_str(body).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert!(!event.detail_type.is_empty(), "{name}");
                assert!(record["messageId"].as_str().is_some(), "{name}");
            }
        } else if value.get("Records").is_some() {
            let event: S3Event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!event.records.is_empty(), "{name}");
        } else if value.get("detail-type").is_some() {
            let event: EventBridgeEvent<serde_json::Value> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!event.detail_type.is_empty(), "{name}");
        } else if value.get("requestContext").is_some() {
            let request =
                lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!request.uri().path().is_empty(), "{name}");
        } else if let Some(merge) = value.get("merge") {
            // The Distributed Map's last step: the snapshot it scored.
            let snapshot: churn_io::events::SnapshotReady =
                serde_json::from_value(merge.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(snapshot.prefix.starts_with("features/as_of="), "{name}");
        } else if let Some(key) = value.get("Key") {
            // A Distributed Map item: one S3 object of a feature snapshot.
            assert!(
                key.as_str()
                    .is_some_and(|k| k.starts_with("features/as_of=")),
                "{name}"
            );
        } else {
            panic!("{name}: not an S3, SQS, EventBridge, function-URL, shard or merge event");
        }
    }
}
