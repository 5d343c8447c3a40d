//! The idempotency ledger: before processing an event (an S3 object, a day's push), a
//! handler claims its key with a conditional write; after success it marks it done. A
//! second delivery of the same event finds it done and does nothing; a delivery while
//! the first is still running finds it busy; a claim whose holder died (its lease ran
//! out) can be taken over.
//!
//! Table: partition key `pk` (string); attributes `status`, `lease_until` (epoch
//! seconds), `finished_at`, `outcome`. Times come from the caller.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::IoError;
use crate::dynamo::Item;

/// What [`Ledger::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller holds the key now: process, then [`Ledger::finish`] or
    /// [`Ledger::release`].
    Acquired,
    /// This caller holds the key now, taken over from a holder whose lease ran out (it
    /// died mid-way): whatever it did may have happened.
    TakenOver,
    /// Processed before; the outcome recorded then.
    Done { outcome: String },
    /// Someone else holds it until `lease_until` (epoch seconds).
    Busy { lease_until: i64 },
}

/// The ledger table.
#[derive(Debug, Clone)]
pub struct Ledger {
    client: aws_sdk_dynamodb::Client,
    table: String,
    lease_seconds: i64,
}

const IN_PROGRESS: &str = "in_progress";
const DONE: &str = "done";

impl Ledger {
    /// A ledger whose claims last `lease_seconds` (longer than the handler's timeout).
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        lease_seconds: i64,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            lease_seconds,
        }
    }

    /// Claims `key` at `now` (epoch seconds).
    pub async fn claim(&self, key: &str, now: i64) -> Result<Claim, IoError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S(IN_PROGRESS.into()))
            .item(
                "lease_until",
                AttributeValue::N((now + self.lease_seconds).to_string()),
            )
            .condition_expression(
                "attribute_not_exists(pk) OR (#status = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) if output.attributes().is_some_and(|old| !old.is_empty()) => {
                Ok(Claim::TakenOver)
            }
            Ok(_) => Ok(Claim::Acquired),
            Err(error) if crate::error::condition_failed(&error) => self.current(key).await,
            Err(error) => Err(IoError::sdk("PutItem", self.target(key), error)),
        }
    }

    /// Marks a claimed key done, with a short outcome (e.g. a summary of what was
    /// written) that later deliveries get back.
    pub async fn finish(&self, key: &str, now: i64, outcome: &str) -> Result<(), IoError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .update_expression(
                "SET #status = :done, finished_at = :now, outcome = :outcome REMOVE lease_until",
            )
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", AttributeValue::S(DONE.into()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(":outcome", AttributeValue::S(outcome.to_owned()))
            .send()
            .await
            .map_err(|error| {
                if crate::error::condition_failed(&error) {
                    IoError::Conflict(format!("{}: not claimed, cannot finish", self.target(key)))
                } else {
                    IoError::sdk("UpdateItem", self.target(key), error)
                }
            })?;
        Ok(())
    }

    /// Gives a claim up after a failure, so the retry can claim it at once.
    pub async fn release(&self, key: &str) -> Result<(), IoError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already done or gone: nothing to give up.
            Err(error) if crate::error::condition_failed(&error) => Ok(()),
            Err(error) => Err(IoError::sdk("DeleteItem", self.target(key), error)),
        }
    }

    async fn current(&self, key: &str) -> Result<Claim, IoError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| IoError::sdk("GetItem", self.target(key), e))?;
        let Some(attributes) = output.item else {
            // Released between our write and this read: the caller may simply retry.
            return Ok(Claim::Busy { lease_until: 0 });
        };
        let item = Item {
            table: &self.table,
            key,
            attributes: &attributes,
        };
        if item.string("status")? == DONE {
            Ok(Claim::Done {
                outcome: item.string("outcome")?,
            })
        } else {
            Ok(Claim::Busy {
                lease_until: item.number("lease_until")?,
            })
        }
    }

    /// The table's client and name (the action ledger keeps its cool-down days there).
    pub(crate) fn table(&self) -> (&aws_sdk_dynamodb::Client, &str) {
        (&self.client, &self.table)
    }

    fn target(&self, key: &str) -> String {
        format!("table {} item '{key}'", self.table)
    }
}
