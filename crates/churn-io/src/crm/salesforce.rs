//! Salesforce: contacts upserted by an external-id field through sObject Collections
//! (`PATCH /services/data/vXX.X/composite/sobjects/Contact/<field>`, at most 200 records,
//! `allOrNone: false` so each record succeeds or fails alone); call tasks created the
//! same way, upserted by an external-id field on Task when one is configured (then a
//! task sent twice is still one task). `403 REQUEST_LIMIT_EXCEEDED` is throttling.
//!
//! Records the upsert would have to create fail with `REQUIRED_FIELD_MISSING` (no last
//! name): the adapter updates contacts that exist and never invents people.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ContactUpdate, ContactUpsert, FieldNames, Fields, RecordResult, TaskCreate, TaskRequest,
    pad_results, priority_name,
};
use crate::IoError;
use crate::http::{HttpClient, Reply, Verdict, default_verdict};
use crate::secrets::{Secret, SecretRef};

/// `[crm]` with `provider = "salesforce"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesforceConfig {
    /// `https://<your-domain>.my.salesforce.com`.
    pub instance_url: String,
    #[serde(default = "api_version")]
    pub api_version: String,
    /// An OAuth access token (e.g. from a connected app's client-credentials flow).
    pub token: SecretRef,
    /// The Contact's external-id field holding the customer id.
    #[serde(default = "contact_external_id")]
    pub contact_external_id: String,
    /// An external-id field on Task to upsert tasks by the action's key (recommended:
    /// a crashed run's tasks can then be resent safely).
    #[serde(default)]
    pub task_external_id: Option<String>,
    /// Owner of the call tasks (a User id).
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub fields: FieldNames,
    #[serde(default = "requests_per_second")]
    pub requests_per_second: f64,
}

fn api_version() -> String {
    "v62.0".into()
}

fn contact_external_id() -> String {
    "Churn_Customer_Id__c".into()
}

fn requests_per_second() -> f64 {
    10.0
}

/// sObject Collections' limit.
pub const BATCH: usize = 200;

/// The Salesforce adapter.
#[derive(Debug)]
pub struct Salesforce {
    http: HttpClient,
    base: String,
    token: Secret,
    contact_external_id: String,
    task_external_id: Option<String>,
    owner_id: Option<String>,
    fields: Fields,
}

#[derive(Deserialize)]
struct SaveResult {
    #[serde(default)]
    id: Option<String>,
    success: bool,
    #[serde(default)]
    errors: Vec<SaveError>,
}

#[derive(Deserialize)]
struct SaveError {
    #[serde(default, rename = "statusCode")]
    status_code: String,
    #[serde(default)]
    message: String,
}

/// Salesforce's "slow down": a 403 with `REQUEST_LIMIT_EXCEEDED` in the body.
pub fn verdict(status: reqwest::StatusCode, body: &[u8]) -> Verdict {
    if status == reqwest::StatusCode::FORBIDDEN
        && String::from_utf8_lossy(body).contains("REQUEST_LIMIT_EXCEEDED")
    {
        return Verdict::Throttled;
    }
    default_verdict(status, body)
}

fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "UNABLE_TO_LOCK_ROW"
            | "SERVER_UNAVAILABLE"
            | "REQUEST_LIMIT_EXCEEDED"
            | "UNKNOWN_EXCEPTION"
    )
}

impl Salesforce {
    pub fn new(http: HttpClient, config: &SalesforceConfig, token: Secret) -> Self {
        Self {
            http,
            base: format!(
                "{}/services/data/{}",
                config.instance_url.trim_end_matches('/'),
                config.api_version
            ),
            token,
            contact_external_id: config.contact_external_id.clone(),
            task_external_id: config.task_external_id.clone().filter(|f| !f.is_empty()),
            owner_id: config.owner_id.clone().filter(|o| !o.is_empty()),
            fields: config.fields.resolve([
                "Churn_Customer_Id__c",
                "Churn_Risk__c",
                "Churn_Tier__c",
                "Churn_Reasons__c",
                "Churn_Scored_At__c",
                "Churn_Support_Priority__c",
            ]),
        }
    }

    async fn collection(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        path: &str,
        records: Vec<Value>,
    ) -> Result<Vec<RecordResult>, IoError> {
        let count = records.len();
        let url = format!("{}{path}", self.base);
        let body = json!({ "allOrNone": false, "records": records }).to_string();
        let reply: Reply = self
            .http
            .send(
                operation,
                |client| {
                    client
                        .request(method.clone(), &url)
                        .bearer_auth(self.token.expose())
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                verdict,
            )
            .await?;
        let results: Vec<SaveResult> = reply.json("salesforce", operation)?;
        let results = results
            .into_iter()
            .map(|r| match (r.success, r.id) {
                (true, Some(id)) => RecordResult::Done { id },
                _ => {
                    let first = r.errors.first();
                    let code = first.map_or("UNKNOWN", |e| e.status_code.as_str());
                    let message = r
                        .errors
                        .iter()
                        .map(|e| e.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ");
                    RecordResult::failed(code, message, retryable_code(code))
                }
            })
            .collect();
        Ok(pad_results(results, count, "Salesforce"))
    }
}

impl ContactUpsert for Salesforce {
    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn upsert(&self, contacts: &[ContactUpdate]) -> Result<Vec<RecordResult>, IoError> {
        let f = &self.fields;
        let records = contacts
            .iter()
            .map(|contact| {
                let mut record = serde_json::Map::new();
                record.insert("attributes".into(), json!({ "type": "Contact" }));
                record.insert(self.contact_external_id.clone(), json!(contact.customer_id));
                // Rounded as CRMs show it; a JSON number, as the field is a number.
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
        self.collection(
            "upsert contacts",
            reqwest::Method::PATCH,
            &format!("/composite/sobjects/Contact/{}", self.contact_external_id),
            records,
        )
        .await
    }
}

impl TaskCreate for Salesforce {
    fn batch_size(&self) -> usize {
        BATCH
    }

    fn idempotent(&self) -> bool {
        self.task_external_id.is_some()
    }

    async fn create(&self, tasks: &[TaskRequest]) -> Result<Vec<RecordResult>, IoError> {
        let records = tasks
            .iter()
            .map(|task| {
                let mut record = serde_json::Map::new();
                record.insert("attributes".into(), json!({ "type": "Task" }));
                if let Some(field) = &self.task_external_id {
                    record.insert(field.clone(), json!(task.key));
                }
                record.insert("Subject".into(), json!(task.subject));
                record.insert("Description".into(), json!(task.body));
                record.insert("WhoId".into(), json!(task.contact_id));
                record.insert("ActivityDate".into(), json!(task.due.to_string()));
                record.insert("Priority".into(), json!(priority_name(task.priority)));
                record.insert("Status".into(), json!("Not Started"));
                record.insert("TaskSubtype".into(), json!("Call"));
                if let Some(owner) = &self.owner_id {
                    record.insert("OwnerId".into(), json!(owner));
                }
                Value::Object(record)
            })
            .collect();
        match &self.task_external_id {
            Some(field) => {
                self.collection(
                    "upsert tasks",
                    reqwest::Method::PATCH,
                    &format!("/composite/sobjects/Task/{field}"),
                    records,
                )
                .await
            }
            None => {
                self.collection(
                    "create tasks",
                    reqwest::Method::POST,
                    "/composite/sobjects",
                    records,
                )
                .await
            }
        }
    }
}
