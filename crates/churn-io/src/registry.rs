//! The model registry: one DynamoDB item per trained version (metrics and lineage) and
//! one champion pointer. The pointer moves only by a conditional write that names the
//! champion the caller compared against, so of two trainings finishing together at most
//! one wins; the other gets [`IoError::Conflict`] and can compare again.
//!
//! Table: partition key `pk` (string). Items `version#<id>` and `champion`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::IoError;
use crate::dynamo::{Item, n, s};

/// A trained model version as the registry keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// The artifact's model id (content-derived, so the same training gives the same id).
    pub version: String,
    /// When it was trained (RFC 3339, from the caller: the registry reads no clock).
    pub trained_at: String,
    /// Where its artifact lives in the object store (`models/<version>/model.bin`).
    pub artifact_key: String,
    /// The selection metric (e.g. `roc_auc`) and its value on `holdout`.
    pub metric_name: String,
    pub metric: f64,
    /// Which holdout the metric was measured on: challengers are compared with the
    /// champion only on the same one.
    pub holdout: String,
    /// Hash of the training data, and the seed: the lineage.
    pub data_hash: String,
    pub seed: u64,
}

/// The current champion.
#[derive(Debug, Clone, PartialEq)]
pub struct Champion {
    pub version: String,
    pub metric: f64,
    pub holdout: String,
    pub promoted_at: String,
}

/// The registry table.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

const CHAMPION: &str = "champion";

impl ModelRegistry {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Records a version. Registering the same version again (a retried event) is a
    /// no-op; it never overwrites what was recorded first.
    pub async fn register(&self, model: &ModelVersion) -> Result<(), IoError> {
        let key = format!("version#{}", model.version);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&key))
            .item("version", s(&model.version))
            .item("trained_at", s(&model.trained_at))
            .item("artifact_key", s(&model.artifact_key))
            .item("metric_name", s(&model.metric_name))
            .item("metric", n(model.metric))
            .item("holdout", s(&model.holdout))
            .item("data_hash", s(&model.data_hash))
            .item("seed", n(model.seed))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if crate::error::condition_failed(&error) => Ok(()),
            Err(error) => Err(IoError::sdk("PutItem", self.target(&key), error)),
        }
    }

    /// A recorded version, if any.
    pub async fn version(&self, version: &str) -> Result<Option<ModelVersion>, IoError> {
        let key = format!("version#{version}");
        let Some(attributes) = self.get(&key).await? else {
            return Ok(None);
        };
        let item = Item {
            table: &self.table,
            key: &key,
            attributes: &attributes,
        };
        Ok(Some(ModelVersion {
            version: item.string("version")?,
            trained_at: item.string("trained_at")?,
            artifact_key: item.string("artifact_key")?,
            metric_name: item.string("metric_name")?,
            metric: item.number("metric")?,
            holdout: item.string("holdout")?,
            data_hash: item.string("data_hash")?,
            seed: item.number("seed")?,
        }))
    }

    /// The champion, if one was ever promoted.
    pub async fn champion(&self) -> Result<Option<Champion>, IoError> {
        let Some(attributes) = self.get(CHAMPION).await? else {
            return Ok(None);
        };
        let item = Item {
            table: &self.table,
            key: CHAMPION,
            attributes: &attributes,
        };
        Ok(Some(Champion {
            version: item.string("version")?,
            metric: item.number("metric")?,
            holdout: item.string("holdout")?,
            promoted_at: item.string("promoted_at")?,
        }))
    }

    /// Makes `model` the champion, provided the champion is still `expected` (the one
    /// the caller compared against; `None`: there was none). Otherwise
    /// [`IoError::Conflict`]: another promotion happened in between.
    pub async fn promote(
        &self,
        model: &ModelVersion,
        expected: Option<&str>,
        promoted_at: &str,
    ) -> Result<(), IoError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(CHAMPION))
            .item("version", s(&model.version))
            .item("metric", n(model.metric))
            .item("holdout", s(&model.holdout))
            .item("promoted_at", s(promoted_at));
        request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(version) => request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", s(version)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) if crate::error::condition_failed(&error) => {
                Err(IoError::Conflict(format!(
                    "promoting {}: the champion is no longer {}; another promotion won",
                    model.version,
                    expected.unwrap_or("unset")
                )))
            }
            Err(error) => Err(IoError::sdk("PutItem", self.target(CHAMPION), error)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, IoError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| IoError::sdk("GetItem", self.target(key), e))?;
        Ok(output.item)
    }

    fn target(&self, key: &str) -> String {
        format!("table {} item '{key}'", self.table)
    }
}
