//! `churn-ingest`: an S3 `ObjectCreated` notification under `raw/` → the ingest use case
//! (`churn_app::ingest`, the same as `churn ingest`) → `curated/`, `quarantine/`, the
//! report → `DatasetIngested`.

use aws_lambda_events::event::s3::S3Event;
use churn_app::config::{ConfigError, Env};
use churn_app::ingest::{IngestSummary, Upload, on_uploads};
use churn_app::{AppError, Platform, Settings};
use churn_io::store::decode_event_key;
use churn_pipeline::ingest::IngestOptions;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::read(env)?,
        })
    }
}

/// The objects a notification names (keys URL-decoded, as S3 encodes them).
pub fn uploads(event: &S3Event) -> Result<Vec<Upload>, AppError> {
    event
        .records
        .iter()
        .map(|record| {
            let object = &record.s3.object;
            Ok(Upload {
                bucket: record.s3.bucket.name.clone().unwrap_or_default(),
                key: decode_event_key(object.key.as_deref().unwrap_or_default())?,
                version: object
                    .sequencer
                    .clone()
                    .or_else(|| object.e_tag.clone())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Handles one notification.
pub async fn handle(platform: &Platform, event: S3Event) -> Result<IngestSummary, AppError> {
    on_uploads(platform, &uploads(&event)?, &IngestOptions::default()).await
}
