use churn_io::crm::{ContactUpsert, RecordResult};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::hubspot::contact;
use crate::{json_body, sinks};

/// Zoho's upsert as documented: one result per record in order, `status` success or
/// error; a new contact needs a last name.
pub fn upsert_like_zoho(request: &Request) -> ResponseTemplate {
    let body = json_body(request);
    assert_eq!(body["duplicate_check_fields"], json!(["Churn_Customer_Id"]));
    let data: Vec<Value> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|record| {
            if record["Churn_Customer_Id"] == json!("C0002") {
                json!({ "code": "MANDATORY_NOT_FOUND", "details": { "api_name": "Last_Name" },
                        "message": "required field not found", "status": "error" })
            } else {
                json!({ "code": "SUCCESS", "duplicate_field": "Churn_Customer_Id", "action": "update",
                        "details": { "id": "4876876000000624001" }, "message": "record updated", "status": "success" })
            }
        })
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
}

#[tokio::test]
async fn contacts_are_upserted_with_the_duplicate_check_and_5xx_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v8/Contacts/upsert"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v8/Contacts/upsert"))
        .and(header("authorization", "Zoho-oauthtoken tok-crm-5ecret"))
        .respond_with(upsert_like_zoho)
        .mount(&server)
        .await;
    let connections = format!(
        "[crm]\nprovider = \"zoho\"\nbase_url = \"{}\"\ntoken = {{ env = \"CRM_TOKEN\" }}\nrequests_per_minute = 6000\n",
        server.uri()
    );
    let crm = sinks(&connections).await.crm.expect("crm");
    let results = crm
        .upsert(&[contact(1, None), contact(2, None)])
        .await
        .expect("upsert");
    assert_eq!(
        results[0],
        RecordResult::Done {
            id: "4876876000000624001".into()
        }
    );
    let RecordResult::Failed(error) = &results[1] else {
        panic!("{results:?}");
    };
    assert_eq!(error.code, "MANDATORY_NOT_FOUND");
    assert!(error.message.contains("Last_Name"), "{}", error.message);
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 2, "the 503 was retried");
    assert_eq!(
        json_body(&requests[1])["data"][0],
        json!({
            "Churn_Customer_Id": "C0001",
            "Churn_Risk": 0.8123,
            "Churn_Tier": "high",
            "Churn_Reasons": "contract type = month-to-month; tenure days = 40",
            "Churn_Scored_At": "2026-12-01",
            "Churn_Support_Priority": true,
        })
    );
}
