//! The online feature table: the latest feature row of each customer, written by batch
//! prediction and read by the scoring API to score a customer by id.
//!
//! Table: partition key `pk` (the customer id); attributes `as_of` (the feature date)
//! and `values` (the row as a JSON object, feature name to value).

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};

use crate::IoError;
use crate::dynamo::Item;

/// One customer's latest features.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRow {
    pub customer_id: String,
    pub as_of: String,
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// The online feature table.
#[derive(Debug, Clone)]
pub struct OnlineFeatures {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

/// DynamoDB's limit of items per BatchWriteItem.
const BATCH: usize = 25;
/// BatchWriteItem calls in flight at once (a million rows are 40,000 calls).
const CONCURRENT_CALLS: usize = 8;
/// Attempts at the items DynamoDB leaves unprocessed (throttling) before giving up.
const ATTEMPTS: u32 = 8;

impl OnlineFeatures {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Writes rows, 25 per call and a few calls at once, retrying unprocessed items with
    /// exponential backoff. Returns the number written.
    pub async fn put(&self, rows: &[OnlineRow]) -> Result<usize, IoError> {
        use futures_util::StreamExt;
        let results: Vec<Result<(), IoError>> = futures_util::stream::iter(rows.chunks(BATCH))
            .map(|chunk| self.put_batch(chunk))
            .buffer_unordered(CONCURRENT_CALLS)
            .collect()
            .await;
        results.into_iter().collect::<Result<(), IoError>>()?;
        Ok(rows.len())
    }

    async fn put_batch(&self, chunk: &[OnlineRow]) -> Result<(), IoError> {
        {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|row| {
                    let put = PutRequest::builder()
                        .item("pk", AttributeValue::S(row.customer_id.clone()))
                        .item("as_of", AttributeValue::S(row.as_of.clone()))
                        .item(
                            "values",
                            AttributeValue::S(
                                serde_json::Value::Object(row.values.clone()).to_string(),
                            ),
                        )
                        .build()
                        .map_err(|e| IoError::Corrupt {
                            target: format!("online row '{}'", row.customer_id),
                            message: e.to_string(),
                        })?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<_, IoError>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                if attempt == ATTEMPTS {
                    return Err(IoError::Service {
                        operation: "BatchWriteItem",
                        target: format!("table {}", self.table),
                        message: format!(
                            "{} items still unprocessed after {ATTEMPTS} attempts",
                            pending.len()
                        ),
                        retryable: true,
                    });
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
                }
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| {
                        IoError::sdk("BatchWriteItem", format!("table {}", self.table), e)
                    })?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                attempt += 1;
            }
        }
        Ok(())
    }

    /// A customer's latest row, if any.
    pub async fn get(&self, customer_id: &str) -> Result<Option<OnlineRow>, IoError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(customer_id.to_owned()))
            .send()
            .await
            .map_err(|e| {
                IoError::sdk(
                    "GetItem",
                    format!("table {} item '{customer_id}'", self.table),
                    e,
                )
            })?;
        let Some(attributes) = output.item else {
            return Ok(None);
        };
        let item = Item {
            table: &self.table,
            key: customer_id,
            attributes: &attributes,
        };
        let values = match serde_json::from_str(&item.string("values")?) {
            Ok(serde_json::Value::Object(values)) => values,
            _ => {
                return Err(IoError::Corrupt {
                    target: format!("{} item '{customer_id}'", self.table),
                    message: "attribute 'values' is not a JSON object".into(),
                });
            }
        };
        Ok(Some(OnlineRow {
            customer_id: customer_id.to_owned(),
            as_of: item.string("as_of")?,
            values,
        }))
    }
}
