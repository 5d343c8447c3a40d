//! `churn-train`: `DatasetIngested`, the monthly schedule or a manual `TrainRequested`
//! event → the training use case (`churn_app::train`: features as of a day, train and
//! tune as `churn train` does, evaluate, register, promote only a better model) →
//! `ModelPromoted`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use churn_app::config::{ConfigError, Env};
use churn_app::dates::DEFAULT_HORIZON_DAYS;
use churn_app::train::{TrainConfig, TrainSummary, Trigger};
use churn_app::{AppError, Platform, Settings};
use churn_io::events::DatasetIngested;
use serde::Deserialize;

/// The events that start a training (`detail-type` tells them apart).
pub type TrainEvent = EventBridgeEvent<serde_json::Value>;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// `CHURN_HORIZON_DAYS` and `CHURN_SEED`; the rest are the CLI's defaults.
    pub train: TrainConfig,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut train = TrainConfig {
            horizon_days: env.checked(
                "CHURN_HORIZON_DAYS",
                DEFAULT_HORIZON_DAYS,
                "a number of days from 1 to 3650",
                |days| (1..=3650).contains(days),
            )?,
            ..TrainConfig::default()
        };
        train.seed = env.parse("CHURN_SEED", train.seed, "a whole number")?;
        Ok(Self {
            settings: Settings::read(env)?,
            train,
        })
    }
}

/// A `TrainRequested` event's detail: both optional.
#[derive(Debug, Deserialize)]
struct Requested {
    #[serde(default)]
    as_of: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
}

/// What the event asks for.
pub fn trigger(event: &TrainEvent) -> Result<Trigger, AppError> {
    fn detail(what: &'static str) -> impl Fn(serde_json::Error) -> AppError {
        move |e| AppError::permanent(format!("a {what} event's detail: {e}"))
    }
    Ok(match event.detail_type.as_str() {
        "DatasetIngested" => {
            let ingested: DatasetIngested =
                serde_json::from_value(event.detail.clone()).map_err(detail("DatasetIngested"))?;
            Trigger::Ingested {
                data_end: ingested.data_end.as_deref().map(date).transpose()?,
            }
        }
        "TrainRequested" => {
            let requested: Requested =
                serde_json::from_value(event.detail.clone()).map_err(detail("TrainRequested"))?;
            Trigger::Requested {
                as_of: requested.as_of.as_deref().map(date).transpose()?,
                seed: requested.seed,
            }
        }
        // The monthly schedule (or any other rule that targets the function).
        _ => Trigger::Scheduled,
    })
}

fn date(text: &str) -> Result<chrono::NaiveDate, AppError> {
    Ok(churn_pipeline::dates::parse_date(text, "the event's date")?)
}

/// Handles one training event.
pub async fn handle(
    platform: &Platform,
    config: &Config,
    event: TrainEvent,
) -> Result<TrainSummary, AppError> {
    churn_app::train::run(platform, &config.train, &trigger(&event)?).await
}
