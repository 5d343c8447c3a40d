//! HubSpot: contacts upserted in batches of 100 (`POST
//! /crm/v3/objects/contacts/batch/upsert`, by a unique property, `email` by default),
//! call tasks created in batches of 100 (`POST /crm/v3/objects/tasks/batch/create`,
//! associated with the contact), with a private-app token. A `207 Multi-Status` answer
//! carries per-record errors; every input carries an `objectWriteTraceId` so results and
//! errors are matched to it. A private app's token does not expire; a 401 means it was
//! revoked or rotated, which is [`IoError::Unauthorized`].

use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    ContactUpdate, ContactUpsert, FieldNames, Fields, RecordResult, TaskCreate, TaskRequest,
    pad_results, risk_text,
};
use crate::IoError;
use crate::http::{HttpClient, Reply, default_verdict};
use crate::secrets::{Secret, SecretRef};

/// `[crm]` with `provider = "hubspot"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotConfig {
    #[serde(default = "base_url")]
    pub base_url: String,
    /// A private app's access token.
    pub token: SecretRef,
    /// The unique contact property to upsert by: `email`, or a custom unique property
    /// holding the customer id (e.g. `churn_customer_id`).
    #[serde(default = "id_property")]
    pub id_property: String,
    /// Owner of the call tasks (a HubSpot user id); empty leaves them unassigned.
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub properties: FieldNames,
    /// HubSpot's burst limit for private apps: this many requests per 10 seconds.
    #[serde(default = "requests_per_10s")]
    pub requests_per_10s: u32,
}

fn base_url() -> String {
    "https://api.hubapi.com".into()
}

fn id_property() -> String {
    "email".into()
}

fn requests_per_10s() -> u32 {
    100
}

/// HubSpot's batch limit.
pub const BATCH: usize = 100;
/// HubSpot's association type of a task to a contact.
const TASK_TO_CONTACT: u32 = 204;

/// The HubSpot adapter.
#[derive(Debug)]
pub struct HubSpot {
    http: HttpClient,
    base_url: String,
    token: Secret,
    /// Where the token came from, for the message when it is refused.
    token_source: String,
    id_property: String,
    owner_id: Option<String>,
    fields: Fields,
}

#[derive(Deserialize)]
struct BatchResponse {
    #[serde(default)]
    results: Vec<BatchResult>,
    #[serde(default)]
    errors: Vec<BatchError>,
}

#[derive(Deserialize)]
struct BatchResult {
    id: String,
    #[serde(default, rename = "objectWriteTraceId")]
    trace: Option<String>,
    #[serde(default)]
    properties: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct BatchError {
    #[serde(default)]
    category: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    context: serde_json::Map<String, Value>,
}

impl BatchError {
    fn mentions(&self, value: &str) -> bool {
        self.context.values().any(|v| match v {
            Value::Array(items) => items.iter().any(|i| i.as_str() == Some(value)),
            Value::String(s) => s == value,
            _ => false,
        })
    }

    fn result(&self) -> RecordResult {
        let retryable = matches!(
            self.category.as_str(),
            "RATE_LIMITS" | "INTERNAL_ERROR" | "SERVICE_UNAVAILABLE" | "LOCKED" | "TIMEOUT"
        );
        RecordResult::failed(self.category.clone(), self.message.clone(), retryable)
    }
}

impl HubSpot {
    pub fn new(http: HttpClient, config: &HubSpotConfig, token: Secret) -> Self {
        Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            token,
            token_source: format!("crm.token ({})", config.token),
            id_property: config.id_property.clone(),
            owner_id: config.owner_id.clone().filter(|o| !o.is_empty()),
            fields: config.properties.resolve([
                "churn_customer_id",
                "churn_risk",
                "churn_tier",
                "churn_reasons",
                "churn_scored_at",
                "churn_support_priority",
            ]),
        }
    }

    async fn post(
        &self,
        operation: &'static str,
        path: &str,
        body: &Value,
    ) -> Result<Reply, IoError> {
        let url = format!("{}{path}", self.base_url);
        let body = body.to_string();
        self.http
            .send(
                operation,
                |client| {
                    client
                        .post(&url)
                        .bearer_auth(self.token.expose())
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                default_verdict,
            )
            .await
            .map_err(|error| match error {
                IoError::Http {
                    status: Some(401),
                    message,
                    ..
                } => IoError::unauthorized(
                    "hubspot",
                    format!(
                        "the private app's token in {} was refused (HTTP 401: {message}): the \
                         app was removed or its token rotated; put its current token there",
                        self.token_source
                    ),
                ),
                other => other,
            })
    }

    /// The value of the unique property for a contact.
    fn id_of<'a>(&self, contact: &'a ContactUpdate) -> Option<&'a str> {
        if self.id_property == "email" {
            contact.email.as_deref().filter(|e| !e.is_empty())
        } else {
            Some(contact.customer_id.as_str())
        }
    }

    /// Results in input order, matched by trace id (or the record's key).
    fn match_results(
        &self,
        response: BatchResponse,
        keys: &[(String, Option<String>)],
    ) -> Vec<RecordResult> {
        keys.iter()
            .map(|(trace, id)| {
                let found = response.results.iter().find(|r| {
                    r.trace.as_deref() == Some(trace.as_str())
                        || id.as_deref().is_some_and(|id| {
                            r.properties
                                .get(&self.id_property)
                                .and_then(Value::as_str)
                                .is_some_and(|v| v.eq_ignore_ascii_case(id))
                        })
                });
                if let Some(result) = found {
                    return RecordResult::Done {
                        id: result.id.clone(),
                    };
                }
                let error = response
                    .errors
                    .iter()
                    .find(|e| e.mentions(trace) || id.as_deref().is_some_and(|id| e.mentions(id)));
                match error {
                    Some(error) => error.result(),
                    None => RecordResult::failed(
                        "MISSING_RESULT",
                        "HubSpot did not report on this record",
                        true,
                    ),
                }
            })
            .collect()
    }
}

impl ContactUpsert for HubSpot {
    fn batch_size(&self) -> usize {
        BATCH
    }

    async fn upsert(&self, contacts: &[ContactUpdate]) -> Result<Vec<RecordResult>, IoError> {
        let mut inputs = Vec::new();
        let mut keys = Vec::new();
        let mut results: Vec<Option<RecordResult>> = vec![None; contacts.len()];
        for (index, contact) in contacts.iter().enumerate() {
            let Some(id) = self.id_of(contact) else {
                results[index] = Some(RecordResult::failed(
                    "NO_EMAIL",
                    format!(
                        "contacts are upserted by {} and this customer has none",
                        self.id_property
                    ),
                    false,
                ));
                continue;
            };
            let f = &self.fields;
            let mut properties = serde_json::Map::new();
            properties.insert(f.churn_risk.clone(), json!(risk_text(contact.churn_risk)));
            properties.insert(f.churn_tier.clone(), json!(contact.churn_tier.as_str()));
            properties.insert(f.churn_reasons.clone(), json!(contact.churn_reasons));
            properties.insert(f.scored_at.clone(), json!(contact.scored_at.to_string()));
            if self.id_property != f.customer_id {
                properties.insert(f.customer_id.clone(), json!(contact.customer_id));
            }
            if contact.support_priority {
                properties.insert(f.support_priority.clone(), json!("true"));
            }
            let trace = index.to_string();
            inputs.push(json!({
                "idProperty": self.id_property,
                "id": id,
                "objectWriteTraceId": trace,
                "properties": properties,
            }));
            keys.push((index, (trace, Some(id.to_owned()))));
        }
        if !inputs.is_empty() {
            let reply = self
                .post(
                    "batch upsert contacts",
                    "/crm/v3/objects/contacts/batch/upsert",
                    &json!({ "inputs": inputs }),
                )
                .await?;
            let response: BatchResponse = reply.json("hubspot", "batch upsert contacts")?;
            let (indexes, keys): (Vec<usize>, Vec<(String, Option<String>)>) =
                keys.into_iter().unzip();
            for (index, result) in indexes.into_iter().zip(self.match_results(response, &keys)) {
                results[index] = Some(result);
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| RecordResult::failed("MISSING_RESULT", "not sent", true)))
            .collect())
    }
}

impl TaskCreate for HubSpot {
    fn batch_size(&self) -> usize {
        BATCH
    }

    fn idempotent(&self) -> bool {
        false
    }

    async fn create(&self, tasks: &[TaskRequest]) -> Result<Vec<RecordResult>, IoError> {
        let inputs: Vec<Value> = tasks
            .iter()
            .enumerate()
            .map(|(index, task)| {
                let mut properties = serde_json::Map::new();
                properties.insert(
                    "hs_timestamp".into(),
                    json!(format!("{}T00:00:00Z", task.due)),
                );
                properties.insert("hs_task_subject".into(), json!(task.subject));
                properties.insert("hs_task_body".into(), json!(task.body));
                properties.insert("hs_task_status".into(), json!("NOT_STARTED"));
                properties.insert(
                    "hs_task_priority".into(),
                    json!(task.priority.as_str().to_ascii_uppercase()),
                );
                properties.insert("hs_task_type".into(), json!("CALL"));
                if let Some(owner) = &self.owner_id {
                    properties.insert("hubspot_owner_id".into(), json!(owner));
                }
                json!({
                    "objectWriteTraceId": index.to_string(),
                    "properties": properties,
                    "associations": [{
                        "to": { "id": task.contact_id },
                        "types": [{
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": TASK_TO_CONTACT,
                        }],
                    }],
                })
            })
            .collect();
        let reply = self
            .post(
                "batch create tasks",
                "/crm/v3/objects/tasks/batch/create",
                &json!({ "inputs": inputs }),
            )
            .await?;
        let response: BatchResponse = reply.json("hubspot", "batch create tasks")?;
        let keys: Vec<(String, Option<String>)> =
            (0..tasks.len()).map(|i| (i.to_string(), None)).collect();
        Ok(pad_results(
            self.match_results(response, &keys),
            tasks.len(),
            "HubSpot",
        ))
    }
}
