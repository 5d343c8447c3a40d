//! Adapters of the churn platform: where bytes and records live outside the process.
//!
//! - [`store`]: object stores with the same keys on a local directory and on S3
//!   (`raw/`, `curated/`, `models/<version>/`, ...), whole-object writes only.
//! - [`registry`]: the model registry in DynamoDB; the champion pointer moves only by a
//!   conditional write.
//! - [`ledger`]: the idempotency ledger in DynamoDB: an event delivered twice is
//!   processed once.
//! - [`online`]: the online feature table (latest feature row per customer).
//! - [`events`]: the EventBridge publisher of domain events.
//! - [`sync`]: whole folders between a store and a local work directory.
//! - [`action_ledger`]: every retention action claimed before it is sent (DynamoDB, or
//!   files locally), and the day each customer last got one, for cool-downs.
//! - [`crm`] (HubSpot, Salesforce, Zoho) and [`messaging`] (Twilio, SES, a signed
//!   webhook): the providers, over [`http`] (rate limits, retries honouring
//!   `Retry-After`); [`connections`] reads their configuration and the playbook, and
//!   [`secrets`] their tokens from the environment or Secrets Manager.
//! - `dynamo`: reading and writing DynamoDB items, shared by the tables above.
//!
//! Clients are built once, from the standard AWS configuration chain ([`AwsClients`]), so
//! `AWS_ENDPOINT_URL` points every one of them at an emulator with no code change. This
//! crate holds no business rules: it moves data and says, for every failure, whether a
//! retry can help ([`IoError::is_retryable`]).

pub mod action_ledger;
mod clients;
pub mod connections;
pub mod crm;
mod dynamo;
mod error;
pub mod events;
pub mod http;
pub mod ledger;
pub mod messaging;
pub mod online;
pub mod registry;
pub mod secrets;
pub mod store;
pub mod sync;

pub use clients::AwsClients;
pub use error::IoError;

/// Seconds since the epoch. Adapters read the clock for leases, signatures and token
/// expiry; the pipeline and core never do.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
