//! Zoho CRM: contacts upserted by a duplicate-check field (`POST
//! /crm/v8/Contacts/upsert`, at most 100 records, one result per record in order), call
//! tasks created in the Tasks module (`POST /crm/v8/Tasks`), with an OAuth token
//! (`Authorization: Zoho-oauthtoken ...`): fixed (`token`), or issued by the data
//! centre's accounts server from a refresh token ([`super::oauth`]) and renewed when the
//! API answers `401 INVALID_TOKEN`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::oauth::{CredentialFields, Credentials, Session, TokenSource};
use super::{
    ContactUpdate, ContactUpsert, FieldNames, Fields, RecordResult, TaskCreate, TaskRequest,
    pad_results, priority_name,
};
use crate::IoError;
use crate::http::{HttpClient, default_verdict};
use crate::secrets::SecretRef;

/// `[crm]` with `provider = "zoho"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "ZohoFields")]
pub struct ZohoConfig {
    /// The API domain of your data centre (`https://www.zohoapis.eu`, ...); the
    /// `api_domain` the token endpoint answers, when it does, wins.
    pub base_url: String,
    pub api_version: String,
    /// A fixed access token, or how one is issued.
    pub credentials: Credentials,
    /// The unique field of Contacts holding the customer id, used as the duplicate check.
    pub duplicate_check_field: String,
    /// Owner of the call tasks (a user id).
    pub owner_id: Option<String>,
    pub fields: FieldNames,
    pub requests_per_minute: u32,
}

/// `[crm]` as written: the credential fields are checked together, into
/// [`Credentials`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZohoFields {
    #[serde(default = "base_url")]
    base_url: String,
    #[serde(default = "api_version")]
    api_version: String,
    /// A fixed access token.
    #[serde(default)]
    token: Option<SecretRef>,
    #[serde(default)]
    client_id: Option<SecretRef>,
    #[serde(default)]
    client_secret: Option<SecretRef>,
    #[serde(default)]
    refresh_token: Option<SecretRef>,
    /// The accounts server of your data centre (`https://accounts.zoho.eu`, ...).
    #[serde(default)]
    accounts_url: Option<String>,
    #[serde(default = "duplicate_check_field")]
    duplicate_check_field: String,
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    fields: FieldNames,
    #[serde(default = "requests_per_minute")]
    requests_per_minute: u32,
}

impl TryFrom<ZohoFields> for ZohoConfig {
    type Error = String;

    fn try_from(raw: ZohoFields) -> Result<Self, String> {
        if raw.token.is_some() && raw.accounts_url.is_some() {
            return Err(
                "[crm] `accounts_url` is for issuing access tokens: a fixed `token` needs none"
                    .into(),
            );
        }
        let accounts_url = raw
            .accounts_url
            .unwrap_or_else(|| "https://accounts.zoho.com".into());
        let credentials = CredentialFields {
            token: raw.token,
            client_id: raw.client_id,
            client_secret: raw.client_secret,
            refresh_token: raw.refresh_token,
            username: None,
            private_key: None,
        }
        .check(
            format!("{}/oauth/v2/token", accounts_url.trim_end_matches('/')),
            None,
        )?;
        Ok(Self {
            base_url: raw.base_url,
            api_version: raw.api_version,
            credentials,
            duplicate_check_field: raw.duplicate_check_field,
            owner_id: raw.owner_id,
            fields: raw.fields,
            requests_per_minute: raw.requests_per_minute,
        })
    }
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
    /// The configured API domain, used until a token answer names one.
    base_url: String,
    api_version: String,
    tokens: TokenSource,
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

/// Whether a 401's body says the token is no longer valid (`INVALID_TOKEN`: expired;
/// `AUTHENTICATION_FAILURE`), which a new access token cures. A missing scope
/// (`OAUTH_SCOPE_MISMATCH`) is not: a new token has the same scopes.
pub fn session_expired(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct ApiError {
        #[serde(default)]
        code: String,
    }
    serde_json::from_slice::<ApiError>(body)
        .is_ok_and(|e| matches!(e.code.as_str(), "INVALID_TOKEN" | "AUTHENTICATION_FAILURE"))
}

impl Zoho {
    /// `tokens` comes from `config.credentials` ([`TokenSource::connect`]).
    pub fn new(http: HttpClient, config: &ZohoConfig, tokens: TokenSource) -> Self {
        Self {
            http,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            api_version: config.api_version.clone(),
            tokens,
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
        let url = |session: &Session| {
            let domain = session.api_domain.as_deref().unwrap_or(&self.base_url);
            format!("{domain}/crm/{}{path}", self.api_version)
        };
        let body = body.to_string();
        let reply = self
            .tokens
            .send(
                &self.http,
                operation,
                |client, session| {
                    client
                        .post(url(session))
                        .header(
                            "authorization",
                            format!("Zoho-oauthtoken {}", session.token.expose()),
                        )
                        .header("content-type", "application/json")
                        .body(body.clone())
                },
                default_verdict,
                session_expired,
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
