use churn_core::playbook::{Day, TaskPriority};
use churn_io::crm::{ContactUpsert, RecordResult, TaskCreate, TaskRequest};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::hubspot::contact;
use crate::{json_body, sinks};

fn salesforce_at(url: &str, task_key: bool) -> String {
    format!(
        "[crm]\nprovider = \"salesforce\"\ninstance_url = \"{url}\"\ntoken = {{ env = \"CRM_TOKEN\" }}\nowner_id = \"005OWNER\"\n{}",
        if task_key {
            "task_external_id = \"Churn_Action_Key__c\"\n"
        } else {
            ""
        }
    )
}

/// sObject Collections as documented: one SaveResult per record, in order; a contact
/// that does not exist yet cannot be created without a last name.
pub fn collections_like_salesforce(request: &Request) -> ResponseTemplate {
    let body = json_body(request);
    assert_eq!(body["allOrNone"], json!(false));
    let results: Vec<Value> = body["records"]
        .as_array()
        .expect("records")
        .iter()
        .enumerate()
        .map(|(i, record)| {
            if record["Churn_Customer_Id__c"] == json!("C0002") {
                json!({ "success": false, "errors": [{
                    "statusCode": "REQUIRED_FIELD_MISSING",
                    "message": "Required fields are missing: [LastName]",
                    "fields": ["LastName"],
                }]})
            } else {
                json!({ "id": format!("003{i:015}"), "success": true, "errors": [], "created": false })
            }
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(results)
}

#[tokio::test]
async fn contacts_are_upserted_by_external_id_and_request_limits_are_throttling() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(
            "/services/data/v62.0/composite/sobjects/Contact/Churn_Customer_Id__c",
        ))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!([{
            "message": "TotalRequests Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(
            "/services/data/v62.0/composite/sobjects/Contact/Churn_Customer_Id__c",
        ))
        .and(header("authorization", "Bearer tok-crm-5ecret"))
        .respond_with(collections_like_salesforce)
        .mount(&server)
        .await;
    let crm = sinks(&salesforce_at(&server.uri(), false))
        .await
        .crm
        .expect("crm");
    let contacts = [contact(1, None), contact(2, None)];
    let results = crm
        .upsert(&contacts)
        .await
        .expect("upsert after the throttle");
    assert!(matches!(&results[0], RecordResult::Done { id } if id.starts_with("003")));
    let RecordResult::Failed(error) = &results[1] else {
        panic!("{results:?}");
    };
    assert_eq!(error.code, "REQUIRED_FIELD_MISSING");
    assert!(!error.retryable);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(
        requests.len(),
        2,
        "the 403 REQUEST_LIMIT_EXCEEDED was retried"
    );
    assert_eq!(
        json_body(&requests[1])["records"][0],
        json!({
            "attributes": { "type": "Contact" },
            "Churn_Customer_Id__c": "C0001",
            "Churn_Risk__c": 0.8123,
            "Churn_Tier__c": "high",
            "Churn_Reasons__c": "contract type = month-to-month; tenure days = 40",
            "Churn_Scored_At__c": "2026-12-01",
            "Churn_Support_Priority__c": true,
        })
    );
}

#[tokio::test]
async fn tasks_are_upserted_by_the_action_key_when_a_field_is_configured() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(
            "/services/data/v62.0/composite/sobjects/Task/Churn_Action_Key__c",
        ))
        .respond_with(collections_like_salesforce)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/data/v62.0/composite/sobjects"))
        .respond_with(collections_like_salesforce)
        .mount(&server)
        .await;
    let task = TaskRequest {
        key: "2026-12-01/call-owner/C0001".into(),
        customer_id: "C0001".into(),
        contact_id: "003000000000000001".into(),
        subject: "Call C0001".into(),
        body: "Why: tenure days = 40".into(),
        priority: TaskPriority::Medium,
        due: Day::parse("2026-12-02").expect("day"),
    };
    let keyed = sinks(&salesforce_at(&server.uri(), true))
        .await
        .crm
        .expect("crm");
    assert!(keyed.idempotent());
    keyed
        .create(std::slice::from_ref(&task))
        .await
        .expect("upsert task");
    let plain = sinks(&salesforce_at(&server.uri(), false))
        .await
        .crm
        .expect("crm");
    assert!(!plain.idempotent());
    plain
        .create(std::slice::from_ref(&task))
        .await
        .expect("create task");
    let requests = server.received_requests().await.expect("recorded");
    let record = &json_body(&requests[0])["records"][0];
    assert_eq!(
        record,
        &json!({
            "attributes": { "type": "Task" },
            "Churn_Action_Key__c": "2026-12-01/call-owner/C0001",
            "Subject": "Call C0001",
            "Description": "Why: tenure days = 40",
            "WhoId": "003000000000000001",
            "ActivityDate": "2026-12-02",
            "Priority": "Normal",
            "Status": "Not Started",
            "TaskSubtype": "Call",
            "OwnerId": "005OWNER",
        })
    );
    assert_eq!(requests[1].method.as_str(), "POST");
    assert!(
        json_body(&requests[1])["records"][0]
            .get("Churn_Action_Key__c")
            .is_none()
    );
}

/// A fixed token cannot be renewed: its expiry stops the run (see `oauth` for renewal).
#[tokio::test]
async fn an_expired_fixed_token_is_unauthorized() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!([{
            "message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID",
        }])))
        .mount(&server)
        .await;
    let crm = sinks(&salesforce_at(&server.uri(), false))
        .await
        .crm
        .expect("crm");
    let error = crm.upsert(&[contact(1, None)]).await.expect_err("401");
    assert!(
        error.is_unauthorized() && !error.is_retryable(),
        "{error:?}"
    );
    assert!(error.to_string().contains("INVALID_SESSION_ID"), "{error}");
    assert_eq!(server.received_requests().await.expect("recorded").len(), 1);
}
