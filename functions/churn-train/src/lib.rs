//! `churn-train`: `DatasetIngested`, the monthly schedule, a manual `TrainRequested`
//! event, or the monitor's `DriftDetected` and `PerformanceDegraded` (once per cool-down
//! window) → the training use case (`churn_app::train`: features as of a day, train and
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
    /// `CHURN_HORIZON_DAYS`, `CHURN_SEED`, the promotion policy
    /// (`CHURN_PROMOTION_MIN_AUC_GAIN`, `CHURN_PROMOTION_CALIBRATION_TOLERANCE`) and
    /// `CHURN_RETRAIN_COOLDOWN_DAYS`; the rest are the CLI's defaults.
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
        train.policy.min_auc_gain = env.checked(
            "CHURN_PROMOTION_MIN_AUC_GAIN",
            train.policy.min_auc_gain,
            "a ROC-AUC gain from 0 to 0.5",
            |gain| (0.0..=0.5).contains(gain),
        )?;
        train.policy.calibration_tolerance = env.checked(
            "CHURN_PROMOTION_CALIBRATION_TOLERANCE",
            train.policy.calibration_tolerance,
            "a calibration error from 0 to 1",
            |tolerance| (0.0..=1.0).contains(tolerance),
        )?;
        train.cooldown_days = env.checked(
            "CHURN_RETRAIN_COOLDOWN_DAYS",
            train.cooldown_days,
            "a number of days from 1 to 365",
            |days| (1..=365).contains(days),
        )?;
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
        what @ ("DriftDetected" | "PerformanceDegraded") => {
            // Both name the prediction day their evidence is about.
            #[derive(Deserialize)]
            struct Evidence {
                date: String,
            }
            let evidence: Evidence =
                serde_json::from_value(event.detail.clone()).map_err(detail("monitor"))?;
            Trigger::Evidence {
                what: what.to_owned(),
                date: date(&evidence.date)?,
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
    fn the_horizon_and_seed_come_from_the_environment_or_the_shared_defaults() {
        let config = read(&[]).expect("defaults");
        assert_eq!(config.train.horizon_days, DEFAULT_HORIZON_DAYS);
        assert_eq!(config.train.seed, 42);
        let config = read(&[("CHURN_HORIZON_DAYS", "30"), ("CHURN_SEED", "7")]).expect("set");
        assert_eq!((config.train.horizon_days, config.train.seed), (30, 7));
        let error = read(&[("CHURN_HORIZON_DAYS", "0")]).expect_err("zero days");
        assert_eq!(error.name, "CHURN_HORIZON_DAYS");
        let error = read(&[("CHURN_SEED", "-1")]).expect_err("negative seed");
        assert_eq!(error.to_string(), "CHURN_SEED=-1: use a whole number");
    }

    #[test]
    fn the_promotion_policy_comes_from_the_environment_or_the_code_defaults() {
        let config = read(&[]).expect("defaults");
        assert_eq!(
            config.train.policy,
            churn_app::train::PromotionPolicy::default()
        );
        let config = read(&[
            ("CHURN_PROMOTION_MIN_AUC_GAIN", "0.005"),
            ("CHURN_PROMOTION_CALIBRATION_TOLERANCE", "0.01"),
        ])
        .expect("set");
        assert_eq!(
            (
                config.train.policy.min_auc_gain,
                config.train.policy.calibration_tolerance
            ),
            (0.005, 0.01)
        );
        let error = read(&[("CHURN_PROMOTION_MIN_AUC_GAIN", "-0.1")]).expect_err("negative");
        assert_eq!(error.name, "CHURN_PROMOTION_MIN_AUC_GAIN");
        let error =
            read(&[("CHURN_PROMOTION_CALIBRATION_TOLERANCE", "lots")]).expect_err("not a number");
        assert_eq!(error.name, "CHURN_PROMOTION_CALIBRATION_TOLERANCE");
    }

    #[test]
    fn the_retraining_cool_down_comes_from_the_environment_or_the_shared_default() {
        let config = read(&[]).expect("defaults");
        assert_eq!(
            config.train.cooldown_days,
            churn_app::dates::DEFAULT_RETRAIN_COOLDOWN_DAYS
        );
        let config = read(&[("CHURN_RETRAIN_COOLDOWN_DAYS", "14")]).expect("set");
        assert_eq!(config.train.cooldown_days, 14);
        for bad in ["0", "400", "a week"] {
            let error = read(&[("CHURN_RETRAIN_COOLDOWN_DAYS", bad)]).expect_err(bad);
            assert_eq!(error.name, "CHURN_RETRAIN_COOLDOWN_DAYS");
        }
    }

    #[test]
    fn events_become_triggers() {
        let event = |detail_type: &str, detail: serde_json::Value| -> TrainEvent {
            serde_json::from_value(serde_json::json!({
                "detail-type": detail_type, "source": "churn.platform", "detail": detail
            }))
            .expect("event")
        };
        let day = chrono::NaiveDate::from_ymd_opt(2026, 10, 31);
        assert_eq!(
            trigger(&event(
                "DatasetIngested",
                serde_json::json!({"bucket": "b", "trigger": "raw/x", "data_end": "2026-10-31",
                    "curated_rows": 1, "quarantined_rows": 0, "duplicate_rows": 0})
            ))
            .expect("ingested"),
            Trigger::Ingested { data_end: day }
        );
        assert_eq!(
            trigger(&event("TrainRequested", serde_json::json!({"seed": 7}))).expect("requested"),
            Trigger::Requested {
                as_of: None,
                seed: Some(7)
            }
        );
        assert_eq!(
            trigger(&event("Scheduled Event", serde_json::json!({}))).expect("schedule"),
            Trigger::Scheduled
        );
        let drift = serde_json::json!({"bucket": "b", "date": "2026-11-01", "model": "m",
            "level": "alert", "features": ["monthly_charge"],
            "report_prefix": "monitoring/dt=2026-11-01/"});
        assert_eq!(
            trigger(&event("DriftDetected", drift)).expect("drift"),
            Trigger::Evidence {
                what: "DriftDetected".into(),
                date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
            }
        );
        let degraded = trigger(&event(
            "PerformanceDegraded",
            serde_json::json!({"date": "yesterday"}),
        ));
        assert!(!degraded.expect_err("a bad date").is_retryable());
        let bad = trigger(&event(
            "TrainRequested",
            serde_json::json!({"as_of": "31/10/2026"}),
        ));
        assert!(!bad.expect_err("a bad date").is_retryable());
    }
}
