//! `churn-monitor`: `PredictionsReady` (that day) or `DatasetIngested` (new labels: the
//! latest prediction day) → the monitoring use case (`churn_app::monitor`: drift of the
//! day's features and scores against the model's reference, realised and estimated
//! accuracy, the actions' effect, as `churn monitor` measures them) →
//! `monitoring/dt=<day>/`, and `DriftDetected` / `PerformanceDegraded`, which a rule
//! sends to `churn-train`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use churn_app::config::{ConfigError, Env};
use churn_app::monitor::{MonitorConfig, MonitorSummary};
use churn_app::{AppError, Platform, Settings};
use churn_io::events::PredictionsReady;
use churn_pipeline::monitor::Band;

/// The events that start a run (`detail-type` tells them apart).
pub type MonitorEvent = EventBridgeEvent<serde_json::Value>;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// `CHURN_MONITOR_LOOKBACK_DAYS`, `CHURN_MONITOR_AUC_FLOOR`, `CHURN_MONITOR_PSI_WARN`,
    /// `CHURN_MONITOR_PSI_ALERT`, `CHURN_MONITOR_MIN_IMPORTANCE` and
    /// `CHURN_MONITOR_FEATURE_PSI` (`NAME=WARN,ALERT;NAME=WARN,ALERT`).
    pub monitor: MonitorConfig,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let mut monitor = MonitorConfig {
            lookback_days: env.checked(
                "CHURN_MONITOR_LOOKBACK_DAYS",
                churn_app::monitor::DEFAULT_LOOKBACK_DAYS,
                "a number of days from 1 to 3650",
                |days| (1..=3650).contains(days),
            )?,
            ..MonitorConfig::default()
        };
        monitor.auc_floor = env.optional(
            "CHURN_MONITOR_AUC_FLOOR",
            "the test split's ROC-AUC at training minus 0.05",
            "a ROC-AUC from 0 to 1",
        )?;
        if let Some(floor) = monitor.auc_floor
            && !(0.0..=1.0).contains(&floor)
        {
            return Err(ConfigError {
                name: "CHURN_MONITOR_AUC_FLOOR",
                value: Some(floor.to_string()),
                message: "use a ROC-AUC from 0 to 1".into(),
            });
        }
        let band = &mut monitor.thresholds.default;
        band.warn = env.checked(
            "CHURN_MONITOR_PSI_WARN",
            band.warn,
            "a PSI above 0",
            |psi| *psi > 0.0,
        )?;
        let warn = band.warn;
        band.alert = env.checked(
            "CHURN_MONITOR_PSI_ALERT",
            band.alert,
            "a PSI at or above CHURN_MONITOR_PSI_WARN",
            |psi| *psi >= warn,
        )?;
        monitor.thresholds.min_importance = env.checked(
            "CHURN_MONITOR_MIN_IMPORTANCE",
            monitor.thresholds.min_importance,
            "a share of the most important feature's importance, from 0 to 1",
            |share| (0.0..=1.0).contains(share),
        )?;
        let named = env.text("CHURN_MONITOR_FEATURE_PSI", "");
        for part in named.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, band) = Band::parse_named(part).map_err(|message| ConfigError {
                name: "CHURN_MONITOR_FEATURE_PSI",
                value: Some(named.clone()),
                message: format!("{message}, separated by ';'"),
            })?;
            if !(band.warn > 0.0 && band.warn <= band.alert) {
                return Err(ConfigError {
                    name: "CHURN_MONITOR_FEATURE_PSI",
                    value: Some(named.clone()),
                    message: format!("{name}: use 0 < WARN <= ALERT"),
                });
            }
            monitor.thresholds.features.insert(name, band);
        }
        Ok(Self {
            settings: Settings::read(env)?,
            monitor,
        })
    }
}

/// The day an event asks to monitor: `PredictionsReady`'s, or (new labels, a schedule)
/// the latest prediction day.
pub fn day(event: &MonitorEvent) -> Result<Option<String>, AppError> {
    Ok(match event.detail_type.as_str() {
        "PredictionsReady" => {
            let ready: PredictionsReady =
                serde_json::from_value(event.detail.clone()).map_err(|e| {
                    AppError::permanent(format!("a PredictionsReady event's detail: {e}"))
                })?;
            churn_pipeline::dates::parse_date(&ready.date, "the event's date")?;
            Some(ready.date)
        }
        _ => None,
    })
}

/// Handles one event.
pub async fn handle(
    platform: &Platform,
    config: &Config,
    event: MonitorEvent,
) -> Result<MonitorSummary, AppError> {
    churn_app::monitor::run(platform, &config.monitor, day(&event)?.as_deref()).await
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
    fn the_settings_are_read_and_checked() {
        let config = read(&[]).expect("defaults");
        assert_eq!(config.monitor, MonitorConfig::default());
        // The template passes an empty floor for "the training figure minus 0.05".
        let config = read(&[
            ("CHURN_MONITOR_AUC_FLOOR", ""),
            ("CHURN_MONITOR_LOOKBACK_DAYS", "200"),
            ("CHURN_MONITOR_PSI_WARN", "0.2"),
            ("CHURN_MONITOR_PSI_ALERT", "0.5"),
            ("CHURN_MONITOR_MIN_IMPORTANCE", "0.05"),
            (
                "CHURN_MONITOR_FEATURE_PSI",
                "days_since_last_churn=0.5,1.0; monthly_charge = 0.05,0.1",
            ),
        ])
        .expect("set");
        let monitor = &config.monitor;
        assert_eq!((monitor.auc_floor, monitor.lookback_days), (None, 200));
        assert_eq!(
            monitor.thresholds.default,
            Band {
                warn: 0.2,
                alert: 0.5
            }
        );
        assert_eq!(
            monitor.thresholds.of("days_since_last_churn"),
            Band {
                warn: 0.5,
                alert: 1.0
            }
        );
        assert_eq!(monitor.thresholds.of("monthly_charge").alert, 0.1);
        assert_eq!(monitor.thresholds.min_importance, 0.05);
        let config = read(&[("CHURN_MONITOR_AUC_FLOOR", "0.7")]).expect("floor");
        assert_eq!(config.monitor.auc_floor, Some(0.7));
        for (name, bad) in [
            ("CHURN_MONITOR_AUC_FLOOR", "1.5"),
            ("CHURN_MONITOR_LOOKBACK_DAYS", "0"),
            ("CHURN_MONITOR_PSI_WARN", "0"),
            ("CHURN_MONITOR_PSI_ALERT", "0.01"),
            ("CHURN_MONITOR_MIN_IMPORTANCE", "2"),
            ("CHURN_MONITOR_FEATURE_PSI", "monthly_charge"),
            ("CHURN_MONITOR_FEATURE_PSI", "monthly_charge=0.4,0.2"),
        ] {
            let error = read(&[(name, bad)]).expect_err(bad);
            assert_eq!(error.name, name, "{bad}");
        }
    }

    #[test]
    fn events_name_the_day_or_the_latest() {
        let event = |detail_type: &str, detail: serde_json::Value| -> MonitorEvent {
            serde_json::from_value(serde_json::json!({
                "detail-type": detail_type, "source": "churn.platform", "detail": detail
            }))
            .expect("event")
        };
        let ready = serde_json::json!({"bucket": "b", "date": "2026-11-01", "model": "m",
            "prefix": "predictions/dt=2026-11-01/", "high_risk_key": "k", "rows": 1,
            "high_risk": 0});
        assert_eq!(
            day(&event("PredictionsReady", ready.clone())).expect("ready"),
            Some("2026-11-01".into())
        );
        assert_eq!(
            day(&event("DatasetIngested", serde_json::json!({}))).expect("labels"),
            None
        );
        let mut bad = ready;
        bad["date"] = "01/11/2026".into();
        assert!(
            !day(&event("PredictionsReady", bad))
                .expect_err("a bad date")
                .is_retryable()
        );
    }
}
