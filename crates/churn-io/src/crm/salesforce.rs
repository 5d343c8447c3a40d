//! Salesforce: contacts upserted by an external-id field through sObject Collections
//! (`PATCH /services/data/vXX.X/composite/sobjects/Contact/<field>`, at most 200 records,
//! `allOrNone: false` so each record succeeds or fails alone); call tasks created the
//! same way, upserted by an external-id field on Task when one is configured (then a
//! task sent twice is still one task). `403 REQUEST_LIMIT_EXCEEDED` is throttling.
//!
//! Records the upsert would have to create fail with `REQUIRED_FIELD_MISSING` (no last
//! name): the adapter updates contacts that exist and never invents people.
//!
//! The access token is fixed (`token`) or issued by the login host (refresh-token or
//! JWT bearer flow, [`super::oauth`]); `401 INVALID_SESSION_ID` renews an issued one.

use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::{CredentialFields, Credentials, Session, TokenSource};
use super::{
    ContactUpdate, ContactUpsert, FieldNames, Fields, RecordResult, TaskCreate, TaskRequest,
    pad_results, priority_name,
};
use crate::IoError;
use crate::http::{HttpClient, Reply, Verdict, default_verdict};
use crate::secrets::SecretRef;

/// `[crm]` with `provider = "salesforce"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "SalesforceFields")]
pub struct SalesforceConfig {
    /// `https://<your-domain>.my.salesforce.com`; the `instance_url` the token endpoint
    /// answers, when it does, wins.
    pub instance_url: String,
    pub api_version: String,
    /// A fixed access token, or how one is issued.
    pub credentials: Credentials,
    /// The Contact's external-id field holding the customer id.
    pub contact_external_id: String,
    /// An external-id field on Task to upsert tasks by the action's key (recommended:
    /// a crashed run's tasks can then be resent safely).
    pub task_external_id: Option<String>,
    /// Owner of the call tasks (a User id).
    pub owner_id: Option<String>,
    pub fields: FieldNames,
    pub requests_per_second: f64,
}

/// `[crm]` as written: the credential fields are checked together, into
/// [`Credentials`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SalesforceFields {
    instance_url: String,
    #[serde(default = "api_version")]
    api_version: String,
    /// A fixed access token.
    #[serde(default)]
    token: Option<SecretRef>,
    /// The connected app's consumer key (both flows).
    #[serde(default)]
    client_id: Option<SecretRef>,
    /// The consumer secret (refresh-token flow).
    #[serde(default)]
    client_secret: Option<SecretRef>,
    #[serde(default)]
    refresh_token: Option<SecretRef>,
    /// The user tokens are issued for (JWT bearer flow).
    #[serde(default)]
    username: Option<String>,
    /// The RSA private key whose certificate the connected app holds (JWT bearer flow).
    #[serde(default)]
    private_key: Option<SecretRef>,
    /// Where tokens are issued: `https://login.salesforce.com` (default),
    /// `https://test.salesforce.com` (sandboxes) or your My Domain.
    #[serde(default)]
    login_url: Option<String>,
    /// The JWT's `aud`: test.salesforce.com when `login_url` is, else
    /// login.salesforce.com.
    #[serde(default)]
    audience: Option<String>,
    #[serde(default = "contact_external_id")]
    contact_external_id: String,
    #[serde(default)]
    task_external_id: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    fields: FieldNames,
    #[serde(default = "requests_per_second")]
    requests_per_second: f64,
}

/// The production login host, and the default audience.
const LOGIN_URL: &str = "https://login.salesforce.com";
/// Sandboxes' login host.
const TEST_LOGIN_URL: &str = "https://test.salesforce.com";

impl TryFrom<SalesforceFields> for SalesforceConfig {
    type Error = String;

    fn try_from(raw: SalesforceFields) -> Result<Self, String> {
        if raw.token.is_some() {
            for (name, given) in [
                ("login_url", raw.login_url.is_some()),
                ("audience", raw.audience.is_some()),
            ] {
                if given {
                    return Err(format!(
                        "[crm] `{name}` is for issuing access tokens: a fixed `token` needs none"
                    ));
                }
            }
        }
        if raw.audience.is_some() && raw.private_key.is_none() {
            return Err("[crm] `audience` belongs to the JWT bearer flow (`private_key`)".into());
        }
        let login_url = raw
            .login_url
            .unwrap_or_else(|| LOGIN_URL.into())
            .trim_end_matches('/')
            .to_owned();
        let audience = raw.audience.unwrap_or_else(|| {
            if login_url == TEST_LOGIN_URL {
                TEST_LOGIN_URL.into()
            } else {
                LOGIN_URL.into()
            }
        });
        let credentials = CredentialFields {
            token: raw.token,
            client_id: raw.client_id,
            client_secret: raw.client_secret,
            refresh_token: raw.refresh_token,
            username: raw.username,
            private_key: raw.private_key,
        }
        .check(format!("{login_url}/services/oauth2/token"), Some(audience))?;
        Ok(Self {
            instance_url: raw.instance_url,
            api_version: raw.api_version,
            credentials,
            contact_external_id: raw.contact_external_id,
            task_external_id: raw.task_external_id,
            owner_id: raw.owner_id,
            fields: raw.fields,
            requests_per_second: raw.requests_per_second,
        })
    }
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
    /// The configured instance, used until a token answer names one.
    instance_url: String,
    api_version: String,
    tokens: TokenSource,
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

/// Whether a 401's body says the session expired (`INVALID_SESSION_ID`), which a new
/// access token cures.
pub fn session_expired(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct ApiError {
        #[serde(default, rename = "errorCode")]
        error_code: String,
    }
    serde_json::from_slice::<Vec<ApiError>>(body)
        .is_ok_and(|errors| errors.iter().any(|e| e.error_code == "INVALID_SESSION_ID"))
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
    /// `tokens` comes from `config.credentials` ([`TokenSource::connect`]).
    pub fn new(http: HttpClient, config: &SalesforceConfig, tokens: TokenSource) -> Self {
        Self {
            http,
            instance_url: config.instance_url.trim_end_matches('/').to_owned(),
            api_version: config.api_version.clone(),
            tokens,
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
        let url = |session: &Session| {
            let instance = session.api_domain.as_deref().unwrap_or(&self.instance_url);
            format!("{instance}/services/data/{}{path}", self.api_version)
        };
        let body = json!({ "allOrNone": false, "records": records }).to_string();
        let reply: Reply = self
            .tokens
            .send(
                &self.http,
                operation,
                |client, session| {
                    client
                        .request(method.clone(), url(session))
                        .bearer_auth(session.token.expose())
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                verdict,
                session_expired,
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
