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
            let event: churn_crm_push::Event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(matches!(event, churn_crm_push::Event::Queue(_)), "{name}");
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
            // Whichever function a rule sends it to takes it as an EventBridge event.
            let predict: churn_batch_predict::Event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                matches!(predict, churn_batch_predict::Event::Daily(_)),
                "{name}"
            );
            let push: churn_crm_push::Event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(matches!(push, churn_crm_push::Event::Direct(_)), "{name}");
            churn_train::trigger(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
            churn_monitor::day(&event).unwrap_or_else(|e| panic!("{name}: {e}"));
            // The monitor's findings parse as what it publishes.
            match event.detail_type.as_str() {
                "DriftDetected" => drop(
                    serde_json::from_value::<churn_io::events::DriftDetected>(event.detail.clone())
                        .unwrap_or_else(|e| panic!("{name}: {e}")),
                ),
                "PerformanceDegraded" => drop(
                    serde_json::from_value::<churn_io::events::PerformanceDegraded>(
                        event.detail.clone(),
                    )
                    .unwrap_or_else(|e| panic!("{name}: {e}")),
                ),
                _ => {}
            }
        } else if value.get("requestContext").is_some() {
            let request =
                lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!request.uri().path().is_empty(), "{name}");
        } else if value.get("merge").is_some() {
            // The Distributed Map's last step: the snapshot it scored.
            let event: churn_batch_predict::Event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let churn_batch_predict::Event::Merge { merge } = event else {
                panic!("{name}: not taken as a merge");
            };
            assert!(merge.prefix.starts_with("features/as_of="), "{name}");
        } else if value.get("Key").is_some() {
            // A Distributed Map item: one S3 object of a feature snapshot.
            let event: churn_batch_predict::Event =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let churn_batch_predict::Event::Shard { key } = event else {
                panic!("{name}: not taken as a shard");
            };
            assert!(key.starts_with("features/as_of="), "{name}");
        } else {
            panic!("{name}: not an S3, SQS, EventBridge, function-URL, shard or merge event");
        }
    }
}
