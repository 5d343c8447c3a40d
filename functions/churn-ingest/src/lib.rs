//! `churn-ingest`: an S3 `ObjectCreated` notification under `raw/` → the ingest use case
//! (`churn_app::ingest`, the same as `churn ingest`) → `curated/`, `quarantine/`, the
//! report → `DatasetIngested`.

use aws_lambda_events::event::s3::S3Event;
use churn_app::config::{ConfigError, Env};
use churn_app::ingest::{IngestSummary, Upload, on_uploads};
use churn_app::{AppError, Platform, Settings};
use churn_io::store::decode_event_key;
use churn_pipeline::ingest::IngestOptions;
use churn_pipeline::ingest::events::DEFAULT_SESSION_GAP_MINUTES;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// `CHURN_SESSION_GAP_MINUTES`: minutes without app events that end a session (the
    /// CLI's `--session-gap-minutes`).
    pub session_gap_minutes: u32,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::read(env)?,
            session_gap_minutes: env.checked(
                "CHURN_SESSION_GAP_MINUTES",
                DEFAULT_SESSION_GAP_MINUTES,
                "a whole number of minutes from 1 to 1440",
                |minutes| (1..=1440).contains(minutes),
            )?,
        })
    }

    /// `settings` with every other setting at its default.
    pub fn new(settings: Settings) -> Self {
        Self {
            settings,
            session_gap_minutes: DEFAULT_SESSION_GAP_MINUTES,
        }
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

/// Handles one notification. The run date is the reference date: an event after it
/// cannot have happened (the pipeline takes it as a parameter and reads no clock).
pub async fn handle(
    platform: &Platform,
    config: &Config,
    event: S3Event,
) -> Result<IngestSummary, AppError> {
    let today = churn_pipeline::dates::from_days(churn_io::now_epoch().div_euclid(86_400) as i32);
    let options = IngestOptions {
        session_gap_minutes: config.session_gap_minutes,
        ..IngestOptions::new(today)
    };
    on_uploads(platform, &uploads(&event)?, &options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_decoded_as_s3_encodes_keys() {
        let mut event: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/s3-put-raw.json")).expect("json");
        event["Records"][0]["s3"]["bucket"]["name"] = "b".into();
        event["Records"][0]["s3"]["object"]["key"] = "raw/customers/export+2026+%C3%A9.csv".into();
        event["Records"][0]["s3"]["object"]["sequencer"] = "01".into();
        let event: S3Event = serde_json::from_value(event).expect("event");
        assert_eq!(
            uploads(&event).expect("uploads"),
            [Upload {
                bucket: "b".into(),
                key: "raw/customers/export 2026 é.csv".into(),
                version: "01".into(),
            }]
        );
        let env = Env::new(|_| None);
        assert_eq!(
            Config::read(&env).expect_err("no bucket").name,
            "CHURN_BUCKET"
        );
    }

    #[test]
    fn the_session_gap_is_read_and_checked() {
        let read = |gap: &'static str| {
            let pairs = [("CHURN_BUCKET", "b"), ("CHURN_SESSION_GAP_MINUTES", gap)];
            let env = Env::new(move |name| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            });
            Config::read(&env).map(|config| config.session_gap_minutes)
        };
        assert_eq!(read("45").expect("45 minutes"), 45);
        for bad in ["0", "1441", "half an hour"] {
            let error = read(bad).expect_err(bad);
            assert_eq!(error.name, "CHURN_SESSION_GAP_MINUTES", "{bad}");
        }
        let env = Env::new(|name| (name == "CHURN_BUCKET").then(|| "b".to_owned()));
        assert_eq!(
            Config::read(&env).expect("defaults").session_gap_minutes,
            DEFAULT_SESSION_GAP_MINUTES
        );
    }
}
