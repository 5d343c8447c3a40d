//! Zoho CRM: contacts upserted by a duplicate-check field (`POST
//! /crm/v8/Contacts/upsert`, at most 100 records, one result per record in order), call
//! tasks created in the Tasks module (`POST /crm/v8/Tasks`), with an OAuth token
//! (`Authorization: Zoho-oauthtoken ...`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ContactUpdate, ContactUpsert, FieldNames, Fields, RecordResult, TaskCreate, TaskRequest,
    pad_results, priority_name,
};
use crate::IoError;
use crate::http::{HttpClient, default_verdict};
use crate::secrets::{Secret, SecretRef};

/// `[crm]` with `provider = "zoho"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZohoConfig {
    /// The API domain of your data centre (`https://www.zohoapis.eu`, ...).
    #[serde(default = "base_url")]
    pub base_url: String,
    #[serde(default = "api_version")]
    pub api_version: String,
    /// An OAuth access token.
    pub token: SecretRef,
    /// The unique field of Contacts holding the customer id, used as the duplicate check.
    #[serde(default = "duplicate_check_field")]
    pub duplicate_check_field: String,
    /// Owner of the call tasks (a user id).
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub fields: FieldNames,
    #[serde(default = "requests_per_minute")]
    pub requests_per_minute: u32,
}

fn base_url() -> String {
    "https://www.zohoapis.com".into()
}

fn api_version() -> String {
    "v8".into()
}

fn duplicate_check_field() -> String {
    "Churn_Customer_Id".into()
}

fn requests_per_minute() -> u32 {
    100
}

/// Zoho's limit of records per insert, update or upsert.
pub const BATCH: usize = 100;

/// The Zoho adapter.
#[derive(Debug)]
pub struct Zoho {
    http: HttpClient,
    base: String,
    token: Secret,
    duplicate_check_field: String,
    owner_id: Option<String>,
    fields: Fields,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    data: Vec<RecordReply>,
}

#[derive(Deserialize)]
struct RecordReply {
    #[serde(default)]
    code: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: serde_json::Map<String, Value>,
}

impl Zoho {
    pub fn new(http: HttpClient, config: &ZohoConfig, token: Secret) -> Self {
        Self {
            http,
            base: format!(
                "{}/crm/{}",
                config.base_url.trim_end_matches('/'),
                config.api_version
            ),
            token,
            duplicate_check_field: config.duplicate_check_field.clone(),
            owner_id: config.owner_id.clone().filter(|o| !o.is_empty()),
            fields: config.fields.resolve([
                "Churn_Customer_Id",
                "Churn_Risk",
                "Churn_Tier",
                "Churn_Reasons",
                "Churn_Scored_At",
                "Churn_Support_Priority",
            ]),
        }
    }

    async fn post(
        &self,
        operation: &'static str,
        path: &str,
        body: Value,
        count: usize,
    ) -> Result<Vec<RecordResult>, IoError> {
        let url = format!("{}{path}", self.base);
        let body = body.to_string();
        let reply = self
            .http
            .send(
                operation,
                |client| {
                    client
                        .post(&url)
                        .header(
                            "authorization",
                            format!("Zoho-oauthtoken {}", self.token.expose()),
                        )
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                default_verdict,
            )
            .await?;
        let response: Response = reply.json("zoho", operation)?;
        let results = response
            .data
            .into_iter()
            .map(|record| {
                let id = record.details.get("id").and_then(Value::as_str);
                match id {
                    Some(id) if record.status == "success" => {
                        RecordResult::Done { id: id.to_owned() }
                    }
                    _ => {
                        let detail = if record.details.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", Value::Object(record.details.clone()))
                        };
                        let retryable =
                            matches!(record.code.as_str(), "INTERNAL_ERROR" | "TOO_MANY_REQUESTS");
                        RecordResult::failed(
                            record.code,
                            format!("{}{detail}", record.message),
                            retryable,
                        )
                    }
                }
            })
            .collect();
        Ok(pad_results(results, count, "Zoho"))
    }
}

impl ContactUpsert for Zoho {
    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn upsert(&self, contacts: &[ContactUpdate]) -> Result<Vec<RecordResult>, IoError> {
        let f = &self.fields;
        let data: Vec<Value> = contacts
            .iter()
            .map(|contact| {
                let mut record = serde_json::Map::new();
                record.insert(
                    self.duplicate_check_field.clone(),
                    json!(contact.customer_id),
                );
                record.insert(
                    f.churn_risk.clone(),
                    json!((contact.churn_risk * 10_000.0).round() / 10_000.0),
                );
                record.insert(f.churn_tier.clone(), json!(contact.churn_tier.as_str()));
                record.insert(f.churn_reasons.clone(), json!(contact.churn_reasons));
                record.insert(f.scored_at.clone(), json!(contact.scored_at.to_string()));
                if contact.support_priority {
                    record.insert(f.support_priority.clone(), json!(true));
                }
                Value::Object(record)
            })
            .collect();
        let body = json!({
            "data": data,
            "duplicate_check_fields": [self.duplicate_check_field],
        });
        self.post("upsert contacts", "/Contacts/upsert", body, contacts.len())
            .await
    }
}

impl TaskCreate for Zoho {
    fn batch_size(&self) -> usize {
        BATCH
    }

    fn idempotent(&self) -> bool {
        false
    }

    async fn create(&self, tasks: &[TaskRequest]) -> Result<Vec<RecordResult>, IoError> {
        let data: Vec<Value> = tasks
            .iter()
            .map(|task| {
                let mut record = json!({
                    "Subject": task.subject,
                    "Description": task.body,
                    "Due_Date": task.due.to_string(),
                    "Priority": priority_name(task.priority),
                    "Status": "Not Started",
                    "Who_Id": { "id": task.contact_id },
                });
                if let Some(owner) = &self.owner_id {
                    record["Owner"] = json!({ "id": owner });
                }
                record
            })
            .collect();
        self.post(
            "create tasks",
            "/Tasks",
            json!({ "data": data }),
            tasks.len(),
        )
        .await
    }
}
