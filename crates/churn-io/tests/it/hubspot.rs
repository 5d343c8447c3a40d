use std::time::{Duration, Instant};

use churn_core::Tier;
use churn_core::playbook::{Day, TaskPriority};
use churn_io::crm::{ContactUpdate, ContactUpsert, RecordResult, TaskCreate, TaskRequest};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::providers::upsert_like_hubspot;
use crate::{hubspot_at, json_body, sinks};

pub fn contact(i: usize, email: Option<&str>) -> ContactUpdate {
    ContactUpdate {
        customer_id: format!("C{i:04}"),
        email: email.map(str::to_owned),
        phone: None,
        churn_risk: 0.812_345,
        churn_tier: Tier::High,
        churn_reasons: "contract type = month-to-month; tenure days = 40".into(),
        scored_at: Day::parse("2026-12-01").expect("day"),
        support_priority: i == 1,
    }
}

#[tokio::test]
async fn contacts_are_upserted_by_email_with_per_record_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .and(header("authorization", "Bearer tok-crm-5ecret"))
        .and(header("content-type", "application/json"))
        .respond_with(upsert_like_hubspot)
        .expect(1)
        .mount(&server)
        .await;
    let sinks = sinks(&hubspot_at(&server.uri())).await;
    let crm = sinks.crm.expect("crm");
    let contacts = [
        contact(0, Some("A@Example.com")),
        contact(1, Some("bad@example.com")),
        contact(2, None),
    ];
    let results = crm.upsert(&contacts).await.expect("upsert");
    assert_eq!(
        results[0],
        RecordResult::Done {
            id: "hs-A@Example.com".into()
        }
    );
    let RecordResult::Failed(error) = &results[1] else {
        panic!("the bad record fails: {results:?}");
    };
    assert_eq!(error.code, "VALIDATION_ERROR");
    assert!(!error.retryable);
    let RecordResult::Failed(error) = &results[2] else {
        panic!("no e-mail, no upsert by e-mail: {results:?}");
    };
    assert_eq!((error.code.as_str(), error.retryable), ("NO_EMAIL", false));

    // The exact body: two inputs (the third had no key), HubSpot's string values.
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(
        json_body(&requests[0]),
        json!({ "inputs": [
            { "idProperty": "email", "id": "A@Example.com", "objectWriteTraceId": "0", "properties": {
                "churn_risk": "0.8123", "churn_tier": "high",
                "churn_reasons": "contract type = month-to-month; tenure days = 40",
                "churn_scored_at": "2026-12-01", "churn_customer_id": "C0000" } },
            { "idProperty": "email", "id": "bad@example.com", "objectWriteTraceId": "1", "properties": {
                "churn_risk": "0.8123", "churn_tier": "high",
                "churn_reasons": "contract type = month-to-month; tenure days = 40",
                "churn_scored_at": "2026-12-01", "churn_customer_id": "C0001",
                "churn_support_priority": "true" } },
        ]})
    );
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .set_body_json(json!({
                    "status": "error",
                    "message": "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "TEN_SECONDLY_ROLLING",
                })),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(upsert_like_hubspot)
        .mount(&server)
        .await;
    let crm = sinks(&hubspot_at(&server.uri())).await.crm.expect("crm");
    let started = Instant::now();
    let results = crm
        .upsert(&[contact(0, Some("a@example.com"))])
        .await
        .expect("upsert");
    assert!(
        matches!(results[0], RecordResult::Done { .. }),
        "{results:?}"
    );
    // A lower bound only: the retry waited the second HubSpot asked for.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
}

#[tokio::test]
async fn a_malformed_or_failing_answer_is_an_error_that_says_whether_to_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>gateway</html>"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": "error", "category": "INVALID_AUTHENTICATION",
            "message": "Authentication credentials not found: tok-crm-5ecret",
        })))
        .mount(&server)
        .await;
    let crm = sinks(&hubspot_at(&server.uri())).await.crm.expect("crm");
    let error = crm
        .upsert(&[contact(0, Some("a@example.com"))])
        .await
        .expect_err("malformed");
    assert!(error.is_retryable(), "{error}");
    assert!(
        error.to_string().contains("not what the API documents"),
        "{error}"
    );
    let task = TaskRequest {
        key: "k".into(),
        customer_id: "C1".into(),
        contact_id: "501".into(),
        subject: "s".into(),
        body: "b".into(),
        priority: TaskPriority::High,
        due: Day::parse("2026-12-02").expect("day"),
    };
    let error = crm.create(&[task]).await.expect_err("unauthorised");
    assert!(error.is_unauthorized() && !error.is_retryable(), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("HTTP 401") && !text.contains("tok-crm-5ecret"),
        "{text}"
    );
    // A 401 is not retried.
    let tasks = server
        .received_requests()
        .await
        .expect("recorded")
        .iter()
        .filter(|r| r.url.path().ends_with("/tasks/batch/create"))
        .count();
    assert_eq!(tasks, 1);
}

#[tokio::test]
async fn call_tasks_are_created_on_the_contact_for_the_owner() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .and(header("authorization", "Bearer tok-crm-5ecret"))
        .respond_with(|request: &Request| {
            let body = json_body(request);
            let results: Vec<Value> = body["inputs"]
                .as_array()
                .expect("inputs")
                .iter()
                .map(|i| json!({ "id": format!("task-{}", i["objectWriteTraceId"].as_str().unwrap_or("")), "objectWriteTraceId": i["objectWriteTraceId"] }))
                .collect();
            ResponseTemplate::new(201).set_body_json(json!({ "status": "COMPLETE", "results": results }))
        })
        .mount(&server)
        .await;
    let crm = sinks(&hubspot_at(&server.uri())).await.crm.expect("crm");
    assert!(!crm.idempotent(), "HubSpot tasks have no idempotency key");
    let task = TaskRequest {
        key: "2026-12-01/call-owner/C0001".into(),
        customer_id: "C0001".into(),
        contact_id: "hs-501".into(),
        subject: "Call C0001: 81% churn risk".into(),
        body: "Top reasons: tenure days = 40".into(),
        priority: TaskPriority::High,
        due: Day::parse("2026-12-02").expect("day"),
    };
    let results = crm
        .create(std::slice::from_ref(&task))
        .await
        .expect("create");
    assert_eq!(
        results,
        vec![RecordResult::Done {
            id: "task-0".into()
        }]
    );
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(
        json_body(&requests[0]),
        json!({ "inputs": [{
            "objectWriteTraceId": "0",
            "properties": {
                "hs_timestamp": "2026-12-02T00:00:00Z",
                "hs_task_subject": "Call C0001: 81% churn risk",
                "hs_task_body": "Top reasons: tenure days = 40",
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
                "hs_task_type": "CALL",
                "hubspot_owner_id": "77",
            },
            "associations": [{
                "to": { "id": "hs-501" },
                "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 204 }],
            }],
        }]})
    );
}
