//! CRM adapters: HubSpot, Salesforce and Zoho behind two narrow ports, one per
//! capability: [`ContactUpsert`] (a contact's churn properties, by the customer's key)
//! and [`TaskCreate`] (a call task for the account owner, on that contact).
//!
//! Every call answers per record ([`RecordResult`]): a batch with one bad record is a
//! batch of good records and one failure, never one failed batch. Whole-request failures
//! (throttling, timeouts, 5xx) are retried in [`crate::http`]; what is left is an
//! [`IoError`] that says whether a later try can help. Credentials the provider refuses
//! fail the whole call with [`IoError::Unauthorized`]: no record can be written with
//! them, so the run should stop rather than record every action as failed.

pub mod hubspot;
pub mod oauth;
pub mod salesforce;
pub mod zoho;

use std::future::Future;

use churn_core::Tier;
use churn_core::playbook::{Day, TaskPriority};

use crate::IoError;

/// A contact's churn properties in our terms; each adapter maps them to its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactUpdate {
    pub customer_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub churn_risk: f64,
    pub churn_tier: Tier,
    /// The top reasons, `; `-separated.
    pub churn_reasons: String,
    /// The day of the scores.
    pub scored_at: Day,
    /// Set the support-priority flag (never cleared here: support clears it).
    pub support_priority: bool,
}

/// A call task on a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The action's idempotency key.
    pub key: String,
    pub customer_id: String,
    /// The CRM's id of the contact (from the upsert).
    pub contact_id: String,
    pub subject: String,
    pub body: String,
    pub priority: TaskPriority,
    pub due: Day,
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordResult {
    /// Written; the CRM's id of the record.
    Done { id: String },
    /// Not written.
    Failed(RecordError),
}

/// Why one record was not written.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    /// The provider's error code (`VALIDATION_ERROR`, `REQUIRED_FIELD_MISSING`, ...).
    pub code: String,
    pub message: String,
    /// Whether sending the record again later can succeed.
    pub retryable: bool,
}

impl RecordResult {
    /// A record that failed with the provider's `code` and `message`.
    pub fn failed(code: impl Into<String>, message: impl Into<String>, retryable: bool) -> Self {
        RecordResult::Failed(RecordError {
            code: code.into(),
            message: message.into(),
            retryable,
        })
    }
}

/// Writes contacts' churn properties, creating or updating by the customer's key.
pub trait ContactUpsert {
    /// Records per call, at most.
    fn batch_size(&self) -> usize;
    /// One result per contact, in order.
    fn upsert(
        &self,
        contacts: &[ContactUpdate],
    ) -> impl Future<Output = Result<Vec<RecordResult>, IoError>> + Send;
}

/// Creates call tasks.
pub trait TaskCreate {
    /// Records per call, at most.
    fn batch_size(&self) -> usize;
    /// Whether sending a task twice leaves one task (an upsert by the action's key), so a
    /// task a crashed run may have sent can safely be sent again.
    fn idempotent(&self) -> bool;
    /// One result per task, in order.
    fn create(
        &self,
        tasks: &[TaskRequest],
    ) -> impl Future<Output = Result<Vec<RecordResult>, IoError>> + Send;
}

/// The configured CRM.
#[derive(Debug)]
pub enum Crm {
    HubSpot(hubspot::HubSpot),
    Salesforce(salesforce::Salesforce),
    Zoho(zoho::Zoho),
}

impl Crm {
    pub fn name(&self) -> &'static str {
        match self {
            Crm::HubSpot(_) => "hubspot",
            Crm::Salesforce(_) => "salesforce",
            Crm::Zoho(_) => "zoho",
        }
    }
}

impl ContactUpsert for Crm {
    fn batch_size(&self) -> usize {
        match self {
            Crm::HubSpot(c) => ContactUpsert::batch_size(c),
            Crm::Salesforce(c) => ContactUpsert::batch_size(c),
            Crm::Zoho(c) => ContactUpsert::batch_size(c),
        }
    }

    async fn upsert(&self, contacts: &[ContactUpdate]) -> Result<Vec<RecordResult>, IoError> {
        match self {
            Crm::HubSpot(c) => c.upsert(contacts).await,
            Crm::Salesforce(c) => c.upsert(contacts).await,
            Crm::Zoho(c) => c.upsert(contacts).await,
        }
    }
}

impl TaskCreate for Crm {
    fn batch_size(&self) -> usize {
        match self {
            Crm::HubSpot(c) => TaskCreate::batch_size(c),
            Crm::Salesforce(c) => TaskCreate::batch_size(c),
            Crm::Zoho(c) => TaskCreate::batch_size(c),
        }
    }

    fn idempotent(&self) -> bool {
        match self {
            Crm::HubSpot(c) => c.idempotent(),
            Crm::Salesforce(c) => c.idempotent(),
            Crm::Zoho(c) => c.idempotent(),
        }
    }

    async fn create(&self, tasks: &[TaskRequest]) -> Result<Vec<RecordResult>, IoError> {
        match self {
            Crm::HubSpot(c) => c.create(tasks).await,
            Crm::Salesforce(c) => c.create(tasks).await,
            Crm::Zoho(c) => c.create(tasks).await,
        }
    }
}

/// A task priority as Salesforce and Zoho spell it.
pub(crate) fn priority_name(priority: TaskPriority) -> &'static str {
    match priority {
        TaskPriority::High => "High",
        TaskPriority::Medium => "Normal",
        TaskPriority::Low => "Low",
    }
}

/// A probability as CRMs store it: a decimal with four places.
pub(crate) fn risk_text(probability: f64) -> String {
    format!("{probability:.4}")
}

/// Results for `count` records when the response lists fewer: the missing ones failed,
/// retryably (the provider did not say what became of them).
pub(crate) fn pad_results(
    mut results: Vec<RecordResult>,
    count: usize,
    provider: &str,
) -> Vec<RecordResult> {
    while results.len() < count {
        results.push(RecordResult::failed(
            "MISSING_RESULT",
            format!("{provider} did not report on this record"),
            true,
        ));
    }
    results.truncate(count);
    results
}

/// The CRM field (property) names of the churn values; any left out keep the
/// provider's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldNames {
    pub customer_id: Option<String>,
    pub churn_risk: Option<String>,
    pub churn_tier: Option<String>,
    pub churn_reasons: Option<String>,
    pub scored_at: Option<String>,
    pub support_priority: Option<String>,
}

/// Field names with the provider's defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub customer_id: String,
    pub churn_risk: String,
    pub churn_tier: String,
    pub churn_reasons: String,
    pub scored_at: String,
    pub support_priority: String,
}

impl FieldNames {
    /// Defaults in the order customer_id, churn_risk, churn_tier, churn_reasons,
    /// scored_at, support_priority.
    pub fn resolve(&self, defaults: [&str; 6]) -> Fields {
        let pick = |value: &Option<String>, default: &str| {
            value.clone().unwrap_or_else(|| default.to_owned())
        };
        Fields {
            customer_id: pick(&self.customer_id, defaults[0]),
            churn_risk: pick(&self.churn_risk, defaults[1]),
            churn_tier: pick(&self.churn_tier, defaults[2]),
            churn_reasons: pick(&self.churn_reasons, defaults[3]),
            scored_at: pick(&self.scored_at, defaults[4]),
            support_priority: pick(&self.support_priority, defaults[5]),
        }
    }
}
