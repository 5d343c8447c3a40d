//! `churn-batch-predict`: the daily schedule or `ModelPromoted` → the daily run; an item
//! of the Step Functions Distributed Map (`{"Key": <part of the snapshot>}`) → its shard;
//! `{"merge": <SnapshotReady>}` → the merge of the day's shards. The use cases are
//! `churn_app::predict`'s.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use churn_app::config::{ConfigError, Env};
use churn_app::predict::{PredictConfig, Summary};
use churn_app::{AppError, Platform, Settings};
use churn_io::events::SnapshotReady;
use serde::Deserialize;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub predict: PredictConfig,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = PredictConfig::default();
        Ok(Self {
            settings: Settings::read(env)?,
            predict: PredictConfig {
                // Memory grows with it: 100,000 keeps a million customers within 2 GB.
                rows_per_part: env.checked(
                    "CHURN_SNAPSHOT_ROWS_PER_PART",
                    defaults.rows_per_part,
                    "a positive whole number of customers",
                    |n| *n > 0,
                )?,
                fan_out_above: env.optional(
                    "CHURN_FANOUT_ABOVE",
                    "never: one invocation scores every customer",
                    "a whole number of customers",
                )?,
            },
        })
    }
}

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// The Distributed Map's last step.
    Merge { merge: SnapshotReady },
    /// One item of the Distributed Map: an object of the snapshot.
    Shard {
        #[serde(rename = "Key")]
        key: String,
    },
    /// The daily schedule, `ModelPromoted`.
    Daily(EventBridgeEvent<serde_json::Value>),
}

/// Handles one invocation.
pub async fn handle(
    platform: &Platform,
    config: &Config,
    event: Event,
) -> Result<Summary, AppError> {
    match event {
        Event::Merge { merge } => churn_app::predict::merge::day(platform, &merge).await,
        Event::Shard { key } => churn_app::predict::shard(platform, &key).await,
        Event::Daily(_) => churn_app::predict::daily(platform, &config.predict).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(&str, &str)> = vars
            .iter()
            .copied()
            .chain([("CHURN_BUCKET", "b")])
            .collect();
        Config::read(&Env::from_pairs(&vars))
    }

    #[test]
    fn parts_and_the_fan_out_threshold_are_read() {
        let config = read(&[]).expect("defaults");
        assert_eq!(config.predict, PredictConfig::default());
        // The template passes an empty value for "never".
        let config = read(&[("CHURN_FANOUT_ABOVE", "")]).expect("empty");
        assert_eq!(config.predict.fan_out_above, None);
        let config = read(&[
            ("CHURN_FANOUT_ABOVE", "2000000"),
            ("CHURN_SNAPSHOT_ROWS_PER_PART", "50000"),
        ])
        .expect("set");
        assert_eq!(config.predict.fan_out_above, Some(2_000_000));
        assert_eq!(config.predict.rows_per_part, 50_000);
        let error = read(&[("CHURN_SNAPSHOT_ROWS_PER_PART", "0")]).expect_err("zero");
        assert_eq!(error.name, "CHURN_SNAPSHOT_ROWS_PER_PART");
        let error = read(&[("CHURN_FANOUT_ABOVE", "lots")]).expect_err("not a number");
        assert_eq!(error.name, "CHURN_FANOUT_ABOVE");
    }
}
