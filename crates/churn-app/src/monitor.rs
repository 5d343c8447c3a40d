//! Monitoring on a cloud store: a day's `PredictionsReady` (or new labels: the latest
//! prediction day) → the pipeline's monitor (as `churn monitor`) on that day's feature
//! snapshot and scores, the earlier prediction days that matured since the last report,
//! and the action days of the window → `monitoring/dt=<day>/` (`monitor.json` last) →
//! `DriftDetected` when features or scores drift to the alert level, and
//! `PerformanceDegraded` when realised or estimated ROC-AUC falls below the floor.
//!
//! A daily run reads little: the previous report's figures of days that cannot change
//! (matured, or estimated and not yet matured) are carried over, and only today's scores
//! and those of days whose labels matured since are downloaded. Once per (day, model,
//! dataset version): new labels monitor the same day again.

use std::collections::{BTreeMap, BTreeSet};

use churn_core::drift::Level;
use churn_core::estimate::Degradation;
use churn_core::layout;
use churn_io::IoError;
use churn_io::events::{DriftDetected, PerformanceDegraded, domain_event};
use churn_io::store::{ObjectGet, ObjectList};
use churn_io::sync::upload_dir;
use churn_pipeline::monitor::{
    self, DayAccuracy, MonitorReport, MonitorRequest, ShadowDay, Thresholds,
};
use churn_pipeline::predict::{PREDICTIONS_FILE, PredictSummary, SUMMARY_FILE};
use serde::Serialize;

use crate::ingest::curated_data_end;
use crate::once::{Once, once};
use crate::work::{WorkDir, blocking, published};
use crate::{AppError, Platform};

/// Prediction and action days looked at, before the day monitored: the horizon and a
/// month, so that the first run measures the days that have matured.
pub const DEFAULT_LOOKBACK_DAYS: u32 = 120;

/// How the monitor judges.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorConfig {
    /// Prediction and action days within this many days before the day monitored are in
    /// its report.
    pub lookback_days: u32,
    /// ROC-AUC below which accuracy is degraded (default: the test split's at training
    /// minus [`monitor::DEFAULT_AUC_DROP`]).
    pub auc_floor: Option<f64>,
    /// The PSI at which features and scores warn and alert.
    pub thresholds: Thresholds,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            lookback_days: DEFAULT_LOOKBACK_DAYS,
            auc_floor: None,
            thresholds: Thresholds::default(),
        }
    }
}

/// What one monitoring run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonitorSummary {
    /// The prediction day monitored.
    pub date: String,
    pub model: String,
    /// The worst drift, of the features and the scores.
    pub drift: Option<Level>,
    /// Features at alert, most urgent first.
    pub drifted_features: Vec<String>,
    pub degraded: Vec<Degradation>,
    /// Prediction days whose scores were read, and those carried over.
    pub days_read: usize,
    pub days_carried: usize,
    pub action_days: usize,
    /// The events published.
    pub published: Vec<String>,
    /// Already monitored on this data by an earlier delivery.
    pub duplicate: bool,
    /// No prediction day exists yet: nothing to monitor.
    pub nothing: bool,
}

/// Monitors `date`'s predictions (`None`: the latest prediction day in the bucket).
pub async fn run(
    platform: &Platform,
    config: &MonitorConfig,
    date: Option<&str>,
) -> Result<MonitorSummary, AppError> {
    let days = prediction_days(&platform.store).await?;
    let date = match date {
        Some(date) => date.to_owned(),
        None => match days.keys().next_back() {
            Some(latest) => latest.clone(),
            None => {
                tracing::info!("no predictions in the bucket yet: nothing to monitor");
                return Ok(MonitorSummary {
                    nothing: true,
                    ..MonitorSummary::default()
                });
            }
        },
    };
    let day = churn_pipeline::dates::parse_date(&date, "the day to monitor")?;
    let summary_key = layout::predictions(&day).join(SUMMARY_FILE);
    if !days.contains_key(&date) {
        return Err(AppError::permanent(format!(
            "{}: no finished predictions of {date} to monitor",
            platform.url(summary_key.as_str())
        )));
    }
    let scored: PredictSummary =
        serde_json::from_slice(&platform.store.get(summary_key.as_str()).await?).map_err(|e| {
            AppError::from(IoError::Corrupt {
                target: summary_key.to_string(),
                message: e.to_string(),
            })
        })?;
    let model = scored.model_id;
    let dataset = published(&platform.store)
        .await?
        .ok_or_else(|| AppError::permanent("no published dataset: no labels to monitor with"))?;
    let base = MonitorSummary {
        date: date.clone(),
        model: model.clone(),
        ..MonitorSummary::default()
    };
    let done = once(
        platform,
        "monitor",
        format!("monitor:{date}:{model}:data={}", dataset.version),
        || monitor_day(platform, config, day, &model, &days, base.clone()),
        |s: &MonitorSummary| {
            format!(
                "drift {:?}, {} degraded, published {:?}",
                s.drift,
                s.degraded.len(),
                s.published
            )
        },
    )
    .await?;
    Ok(match done {
        Once::Done(summary) => summary,
        Once::Earlier(_) => MonitorSummary {
            duplicate: true,
            ..base
        },
    })
}

/// The keys to read of each finished prediction day (its `summary.json` exists): the
/// scores and summaries, the day's and its shards'.
async fn prediction_days(
    store: &(impl ObjectList + Sync),
) -> Result<BTreeMap<String, Vec<String>>, AppError> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut finished = BTreeSet::new();
    for object in store
        .list(&layout::root(layout::PREDICTIONS).prefix())
        .await?
    {
        let Some((date, rest)) = layout::parse_predictions(&object.key) else {
            continue;
        };
        let name = rest.rsplit('/').next().unwrap_or(rest);
        if rest == SUMMARY_FILE {
            finished.insert(date.to_owned());
        }
        if name == SUMMARY_FILE || name == PREDICTIONS_FILE {
            keys.entry(date.to_owned())
                .or_default()
                .push(object.key.clone());
        }
    }
    keys.retain(|date, _| finished.contains(date));
    Ok(keys)
}

async fn monitor_day(
    platform: &Platform,
    config: &MonitorConfig,
    day: chrono::NaiveDate,
    model: &str,
    days: &BTreeMap<String, Vec<String>>,
    mut summary: MonitorSummary,
) -> Result<MonitorSummary, AppError> {
    let work = WorkDir::new()?;
    let model_key = layout::model(model);
    if work.download(&platform.store, &model_key).await? == 0 {
        return Err(AppError::permanent(format!(
            "{}: the model that scored {day} is not in the bucket",
            platform.url(&model_key.prefix())
        )));
    }
    work.download_dataset(&platform.store).await?;
    let data_end = curated_data_end(&work).await?.map(|end| end.to_string());
    let since = (day - chrono::Days::new(u64::from(config.lookback_days))).to_string();
    let date = day.to_string();
    let in_window = |d: &str| d >= since.as_str() && d <= date.as_str();

    // What the last report measured, and which of its days cannot have changed.
    let (previous, previous_shadow) = previous_report(&platform.store, &date)
        .await?
        .map(|report| (report.accuracy, report.shadow))
        .unwrap_or_default();
    let earlier: Vec<DayAccuracy> = previous
        .into_iter()
        .filter(|day| in_window(&day.date) && day.date != date)
        .filter(|day| {
            let matured_since = day.realised.is_none()
                && data_end
                    .as_deref()
                    .is_some_and(|end| end >= day.matures_on.as_str());
            !matured_since
        })
        .collect();
    let carried: BTreeSet<&str> = earlier.iter().map(|d| d.date.as_str()).collect();
    let earlier_shadow: Vec<ShadowDay> = previous_shadow
        .into_iter()
        .filter(|day| carried.contains(day.date.as_str()))
        .collect();
    let mut predictions = Vec::new();
    for (d, keys) in days.iter().filter(|(d, _)| in_window(d)) {
        if carried.contains(d.as_str()) {
            continue;
        }
        for key in keys {
            platform.store.download(key, &work.root().join(key)).await?;
        }
        let d = churn_pipeline::dates::parse_date(d, "a prediction day")?;
        predictions.push(work.at(&layout::predictions(&d)));
    }
    summary.days_read = predictions.len();
    summary.days_carried = earlier.len();

    let snapshot = layout::features_as_of(&day);
    let features =
        (work.download(&platform.store, &snapshot).await? > 0).then(|| work.at(&snapshot));
    if features.is_none() {
        tracing::warn!(snapshot = %snapshot, "no feature snapshot of the day: no data drift");
    }
    let actions = action_days(platform, &work, &in_window).await?;
    summary.action_days = actions.len();

    let out = layout::monitoring(&day);
    let request = MonitorRequest {
        model_dir: work.at(&model_key),
        features,
        predictions,
        actions,
        data: Some(work.root().to_path_buf()),
        auc_floor: config.auc_floor,
        thresholds: config.thresholds.clone(),
        earlier,
        earlier_shadow,
    };
    let report = {
        let out = work.at(&out);
        blocking("monitoring", move || {
            let report = monitor::monitor(&request)?;
            monitor::write(&out, &report)?;
            Ok(report)
        })
        .await?
    };
    for warning in &report.warnings {
        tracing::warn!(warning, "monitor");
    }
    upload_dir(
        &platform.store,
        work.root(),
        out.as_str(),
        &[monitor::MONITOR_FILE],
    )
    .await?;

    let findings = &report.findings;
    summary.drift = Some(findings.drift);
    summary.drifted_features = findings.drifted_features.clone();
    summary.degraded = findings.degraded.clone();
    let mut events = Vec::new();
    let bucket = platform.settings.bucket.clone();
    if findings.drift == Level::Alert {
        events.push(domain_event(
            "DriftDetected",
            &DriftDetected {
                bucket: bucket.clone(),
                date: date.clone(),
                model: model.to_owned(),
                level: findings.drift,
                features: findings.drifted_features.clone(),
                report_prefix: out.prefix(),
            },
        )?);
    }
    if !findings.degraded.is_empty() {
        events.push(domain_event(
            "PerformanceDegraded",
            &PerformanceDegraded {
                bucket,
                date: date.clone(),
                model: model.to_owned(),
                degraded: findings.degraded.clone(),
                report_prefix: out.prefix(),
            },
        )?);
    }
    if !events.is_empty() {
        platform.events.publish(&events).await?;
    }
    summary.published = events.into_iter().map(|e| e.detail_type).collect();
    Ok(summary)
}

/// The latest report of a day up to `date` (a run on new labels finds the day's own).
async fn previous_report(
    store: &(impl ObjectGet + ObjectList + Sync),
    date: &str,
) -> Result<Option<MonitorReport>, AppError> {
    let latest = store
        .list(&layout::root(layout::MONITORING).prefix())
        .await?
        .into_iter()
        .filter_map(|object| {
            let (day, rest) = layout::parse_day(layout::MONITORING, &object.key)?;
            (rest == monitor::MONITOR_FILE && day <= date).then(|| object.key.clone())
        })
        .max();
    let Some(key) = latest else {
        return Ok(None);
    };
    let bytes = store.get(&key).await?;
    match serde_json::from_slice::<MonitorReport>(&bytes) {
        Ok(report) if report.schema_version == monitor::SCHEMA_VERSION => Ok(Some(report)),
        // Another layout: everything in the window is measured again.
        Ok(_) | Err(_) => {
            tracing::warn!(
                key,
                "the previous report is not readable: every day is read again"
            );
            Ok(None)
        }
    }
}

/// Downloads the action days of the window whose plan is written; their folders.
async fn action_days(
    platform: &Platform,
    work: &WorkDir,
    in_window: &impl Fn(&str) -> bool,
) -> Result<Vec<std::path::PathBuf>, AppError> {
    let objects = platform
        .store
        .list(&layout::root(layout::ACTIONS).prefix())
        .await?;
    let planned: BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| layout::parse_day(layout::ACTIONS, &o.key))
        .filter(|(day, rest)| *rest == layout::PLAN_FILE && in_window(day))
        .map(|(day, _)| day)
        .collect();
    for object in &objects {
        if layout::parse_day(layout::ACTIONS, &object.key)
            .is_some_and(|(day, _)| planned.contains(day))
        {
            platform
                .store
                .download(&object.key, &work.root().join(&object.key))
                .await?;
        }
    }
    planned
        .iter()
        .map(|day| {
            let day = churn_pipeline::dates::parse_date(day, "an action day")?;
            Ok(work.at(&layout::actions(&day)))
        })
        .collect()
}
