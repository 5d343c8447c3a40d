//! `churn monitor`: how a model is doing. Against the model's reference (`profile.json`,
//! [`crate::reference`]) it measures
//! - [`data`] drift of a feature table: per feature effect sizes, missing rates, values
//!   outside the training range, new categories, ranked by drift × importance;
//! - prediction drift of a day's [`scores`]: the probability distribution and tier shares;
//! - [`accuracy`] over time: realised on every prediction day whose labels have matured,
//!   estimated from the calibrated probabilities before that;
//! - the [`effect`] of the retention actions: treated against control retention, once
//!   the outcomes of a sent day have matured;
//! - challengers scored in shadow beside a day ([`ShadowDay`]): their accuracy on the
//!   same customers as the champion's;
//!
//! and says what needs attention ([`Findings`]: drift at alert, accuracy below a floor,
//! actions that do less than the playbook assumes, challengers ahead of the champion).
//! Everything goes into `monitor.json` (versioned by [`SCHEMA_VERSION`]) and a
//! self-contained [`html`] report, under `monitoring/dt=<day>/`.

pub mod accuracy;
pub mod data;
pub mod effect;
pub mod html;
pub mod scores;

use std::path::{Path, PathBuf};

use churn_core::drift::Level;
use serde::{Deserialize, Serialize};

pub use accuracy::DayAccuracy;
pub use churn_core::estimate::Degradation;
pub use data::{Band, DriftReport, FeatureDrift, Thresholds, data_drift};
pub use effect::{ActionEffect, ActionEffects, action_effects};
pub use scores::{DayScores, PredictionDrift, prediction_drift};

use crate::error::{PipelineError, Result};
use crate::features::data as feature_data;
use crate::features::profile::profile;
use crate::reference::Reference;
use crate::store::Store;

/// The version of `monitor.json`'s layout; bumped when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;
/// The figures, for programs.
pub const MONITOR_FILE: &str = churn_core::layout::MONITOR_FILE;
/// The report, for people.
pub const REPORT_FILE: &str = churn_core::layout::MONITOR_REPORT_FILE;
/// Without a configured floor, accuracy is degraded this far below the ROC-AUC the test
/// split measured at training.
pub const DEFAULT_AUC_DROP: f64 = 0.05;

/// What to monitor.
#[derive(Debug, Clone, Default)]
pub struct MonitorRequest {
    /// The model folder (its `profile.json` is the reference).
    pub model_dir: PathBuf,
    /// A feature table to compare with the training table.
    pub features: Option<PathBuf>,
    /// Prediction folders (`predictions/dt=<day>/`): the latest is compared with the
    /// reference's scores; each is measured on matured labels or estimated.
    pub predictions: Vec<PathBuf>,
    /// Days of actions (`actions/dt=<day>/` of `churn actions --send`): treated against
    /// control once their outcomes mature.
    pub actions: Vec<PathBuf>,
    /// The data directory whose curated churn labels measure matured predictions.
    pub data: Option<PathBuf>,
    /// ROC-AUC below which accuracy is degraded (default: the test split's minus
    /// [`DEFAULT_AUC_DROP`]).
    pub auc_floor: Option<f64>,
    /// The PSI at which features (and the scores, by the default band) warn and alert.
    pub thresholds: Thresholds,
    /// Figures of earlier prediction days carried over from a previous report, so that a
    /// daily run reads only the days that changed (today's, and those matured since): a
    /// day also given in `predictions` is measured again instead.
    pub earlier: Vec<DayAccuracy>,
    /// The same for the challengers scored in shadow on those days.
    pub earlier_shadow: Vec<ShadowDay>,
}

/// A challenger scored in shadow on a prediction day (`challenger=<model>/` in its
/// folder), beside the champion that drove the day's actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShadowDay {
    /// The prediction day.
    pub date: String,
    /// The model of the day's own predictions.
    pub champion: String,
    /// The challenger's accuracy on the same customers (its `model_id` names it).
    pub challenger: DayAccuracy,
    /// Once matured: the challenger's realised ROC-AUC minus the champion's.
    pub roc_auc_gain: Option<f64>,
    /// The same for the Brier score (negative: the challenger's probabilities are closer).
    pub brier_change: Option<f64>,
}

/// What needs attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// The worst drift: of the features (a missing feature or one whose kind changed
    /// is an alert) and of the scores.
    pub drift: Level,
    /// Features at alert, most urgent first, then those missing or changed in kind.
    pub drifted_features: Vec<String>,
    /// Features at alert that the model barely uses (importance below
    /// [`Thresholds::min_importance`]) and whose data did not break (no new categories,
    /// not all missing now): reported, counted as a warning, paging nobody.
    #[serde(default)]
    pub quiet_alerts: Vec<String>,
    /// ROC-AUC below the floor: the latest matured day's realised figure, the latest
    /// day's estimate.
    pub degraded: Vec<Degradation>,
    /// Actions whose realised save rate is below the playbook's assumed one with 95 %
    /// confidence.
    #[serde(default)]
    pub overrated_actions: Vec<String>,
    /// Challengers whose realised ROC-AUC beat the champion's on the latest matured day
    /// they were scored in shadow (a case for `churn models promote`).
    #[serde(default)]
    pub challengers_ahead: Vec<String>,
}

/// `monitor.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorReport {
    pub schema_version: u32,
    pub generated_by: String,
    /// The model monitored.
    pub model_id: String,
    /// The day monitored: the latest prediction day, else the features' `as_of`, else
    /// the latest day of actions.
    pub date: Option<String>,
    /// The last day the curated data covers (what matures predictions).
    pub data_end: Option<String>,
    /// The test split's ROC-AUC at training, and the floor applied.
    pub reference_roc_auc: Option<f64>,
    pub auc_floor: Option<f64>,
    pub findings: Findings,
    pub data_drift: Option<DriftReport>,
    pub prediction_drift: Option<PredictionDrift>,
    /// Per prediction day, oldest first.
    pub accuracy: Vec<DayAccuracy>,
    /// The actions' effects, when action days were given.
    #[serde(default)]
    pub actions: Option<ActionEffects>,
    /// Challengers scored in shadow, per prediction day, oldest first.
    #[serde(default)]
    pub shadow: Vec<ShadowDay>,
    /// What could not be measured, and why.
    pub warnings: Vec<String>,
}

/// Monitors the model of `request` (see the module's documentation).
pub fn monitor(request: &MonitorRequest) -> Result<MonitorReport> {
    if request.features.is_none() && request.predictions.is_empty() && request.actions.is_empty() {
        return Err(PipelineError::InvalidInput(
            "nothing to monitor: pass a feature folder (data drift), prediction folders (prediction drift and accuracy), action folders (treated against control), or several".into(),
        ));
    }
    let reference = reference_of(&request.model_dir)?;
    let artifact = crate::models::read_artifact(&request.model_dir)?;
    let mut warnings = Vec::new();

    let data_drift = match &request.features {
        Some(features) => {
            let data = feature_data::load_dir(features, false)?;
            let importance = read_importance(&request.model_dir)?;
            Some(data_drift(
                &reference.table,
                &data,
                &importance,
                &request.thresholds,
            )?)
        }
        None => None,
    };

    let mut read = request
        .predictions
        .iter()
        .map(|dir| Ok((DayScores::read(dir)?, dir.as_path())))
        .collect::<Result<Vec<_>>>()?;
    read.sort_by(|a, b| a.0.date.cmp(&b.0.date));
    let (days, day_dirs): (Vec<DayScores>, Vec<&Path>) = read.into_iter().unzip();
    if let Some(pair) = days.windows(2).find(|w| w[0].date == w[1].date) {
        return Err(PipelineError::InvalidInput(format!(
            "two prediction folders are of {}: pass each day once",
            pair[0].date
        )));
    }

    let prediction_drift = match (days.last(), &reference.scores) {
        (None, _) => None,
        (Some(_), None) => {
            warnings.push(format!(
                "{}'s profile.json has no score reference (trained before prediction drift): no prediction drift; train again to get one",
                request.model_dir.display()
            ));
            None
        }
        (Some(day), Some(scores)) if day.summary.model_id != scores.model_id => {
            warnings.push(format!(
                "the predictions of {} are by model {}, the reference is of {}: no prediction drift (monitor them with their own model)",
                day.date, day.summary.model_id, scores.model_id
            ));
            None
        }
        (Some(day), Some(scores)) => {
            Some(prediction_drift(scores, day, request.thresholds.default))
        }
    };

    let (sources, data_end) = match &request.data {
        Some(dir) if !days.is_empty() || !request.actions.is_empty() => {
            let store = Store::new(dir);
            match crate::features::load_sources(&store) {
                Ok(sources) => {
                    let end = crate::features::data_end(&sources)?;
                    (Some(sources), end)
                }
                Err(error) => {
                    warnings.push(format!(
                        "no curated data to read the churn labels from ({error}): accuracy is estimated only, and the actions are not measured"
                    ));
                    (None, None)
                }
            }
        }
        _ => (None, None),
    };
    let mut horizon_of = |recorded: Option<u32>, what: String| {
        recorded
            .or(artifact.lineage.horizon_days)
            .unwrap_or_else(|| {
                warnings.push(format!(
                    "{what} do not record their horizon, nor does the model: taken as {} days",
                    crate::features::DEFAULT_HORIZON_DAYS
                ));
                crate::features::DEFAULT_HORIZON_DAYS
            })
    };
    let mut horizons = Vec::new();
    for day in &days {
        horizons.push(horizon_of(
            day.summary.horizon_days,
            format!("the predictions of {}", day.date),
        ));
    }
    let actions_horizon =
        (!request.actions.is_empty()).then(|| horizon_of(None, "the actions".into()));
    let mut accuracy = Vec::new();
    for (day, &horizon) in days.iter().zip(&horizons) {
        accuracy.push(accuracy::day_accuracy(
            day,
            horizon,
            sources.as_ref(),
            data_end,
        )?);
    }
    let mut shadow = Vec::new();
    for ((day, dir), (accuracy, &horizon)) in days
        .iter()
        .zip(&day_dirs)
        .zip(accuracy.iter().zip(&horizons))
    {
        for folder in scores::challengers(dir)? {
            if !folder.join(crate::predict::SUMMARY_FILE).exists() {
                warnings.push(format!(
                    "{}: a challenger's scores without their summary (unfinished, or missing from a shard of the day): left out",
                    folder.display()
                ));
                continue;
            }
            let scored = DayScores::read(&folder)?;
            let horizon = scored.summary.horizon_days.unwrap_or(horizon);
            let challenger = accuracy::day_accuracy(&scored, horizon, sources.as_ref(), data_end)?;
            let realised = |a: &DayAccuracy| a.realised.as_ref().map(|r| (r.roc_auc, r.brier));
            let (ours, theirs) = (realised(accuracy), realised(&challenger));
            shadow.push(ShadowDay {
                date: day.date.clone(),
                champion: accuracy.model_id.clone(),
                roc_auc_gain: match (ours, theirs) {
                    (Some((Some(a), _)), Some((Some(b), _))) => Some(b - a),
                    _ => None,
                },
                brier_change: match (ours, theirs) {
                    (Some((_, a)), Some((_, b))) => Some(b - a),
                    _ => None,
                },
                challenger,
            });
        }
    }
    shadow.extend(
        request
            .earlier_shadow
            .iter()
            .filter(|earlier| !days.iter().any(|day| day.date == earlier.date))
            .cloned(),
    );
    shadow.sort_by(|a, b| {
        a.date
            .cmp(&b.date)
            .then_with(|| a.challenger.model_id.cmp(&b.challenger.model_id))
    });
    accuracy.extend(
        request
            .earlier
            .iter()
            .filter(|earlier| !days.iter().any(|day| day.date == earlier.date))
            .cloned(),
    );
    accuracy.sort_by(|a, b| a.date.cmp(&b.date));
    if sources.is_some()
        && let Some(first) = accuracy.first()
        && accuracy.iter().all(|day| day.realised.is_none())
    {
        warnings.push(format!(
            "no prediction day has matured yet (the earliest, {}, matures when the data reaches {}): accuracy is estimated only",
            first.date, first.matures_on
        ));
    }

    let actions = match actions_horizon {
        Some(horizon) => Some(action_effects(
            &request.actions,
            horizon,
            sources.as_ref(),
            data_end,
            &mut warnings,
        )?),
        None => None,
    };

    let reference_roc_auc = reference
        .scores
        .as_ref()
        .and_then(|s| s.holdout.as_ref())
        .and_then(|h| h.roc_auc);
    let auc_floor = request
        .auc_floor
        .or(reference_roc_auc.map(|auc| auc - DEFAULT_AUC_DROP));
    let mut findings = findings(
        request.thresholds.min_importance,
        data_drift.as_ref(),
        prediction_drift.as_ref(),
        &accuracy,
        auc_floor,
    );
    findings.overrated_actions = actions
        .as_ref()
        .map(ActionEffects::overrated)
        .unwrap_or_default();
    if let Some(latest) = shadow
        .iter()
        .filter(|s| s.roc_auc_gain.is_some())
        .map(|s| s.date.as_str())
        .max()
    {
        findings.challengers_ahead = shadow
            .iter()
            .filter(|s| s.date == latest && s.roc_auc_gain.is_some_and(|gain| gain > 0.0))
            .map(|s| s.challenger.model_id.clone())
            .collect();
    }
    let date = days.last().map(|d| d.date.clone()).or_else(|| {
        request
            .features
            .as_ref()
            .and_then(|f| {
                churn_core::layout::parse_as_of(&f.display().to_string()).map(str::to_owned)
            })
            .or_else(|| Some(actions.as_ref()?.days.last()?.date.clone()))
    });
    Ok(MonitorReport {
        schema_version: SCHEMA_VERSION,
        generated_by: format!("churn-pipeline {}", env!("CARGO_PKG_VERSION")),
        model_id: artifact.model_id.clone(),
        date,
        data_end: data_end.map(|end| crate::dates::from_days(end).to_string()),
        reference_roc_auc,
        auc_floor,
        findings,
        data_drift,
        prediction_drift,
        accuracy,
        actions,
        shadow,
        warnings,
    })
}

fn findings(
    min_importance: f64,
    data: Option<&DriftReport>,
    scores: Option<&PredictionDrift>,
    accuracy: &[DayAccuracy],
    floor: Option<f64>,
) -> Findings {
    let mut drifted_features = Vec::new();
    let mut quiet_alerts = Vec::new();
    let mut drift = scores.map_or(Level::Stable, |s| s.level);
    if let Some(data) = data {
        for feature in data.features.iter().filter(|f| f.level == Level::Alert) {
            // Unknown importance (no evaluation): every alert counts. A break in the data
            // (categories never seen, every value gone) counts whatever this model makes
            // of the column: something upstream changed, and the next model will use it.
            let broken = !feature.new_categories.is_empty()
                || (feature.missing[1] >= 1.0 && feature.missing[0] < 1.0);
            if !broken
                && feature
                    .importance
                    .is_some_and(|share| share < min_importance)
            {
                quiet_alerts.push(feature.name.clone());
            } else {
                drifted_features.push(feature.name.clone());
            }
        }
        drifted_features.extend(data.missing_features.iter().cloned());
        drifted_features.extend(data.changed_kind.iter().cloned());
        let worst = if drifted_features.is_empty() {
            data.features
                .iter()
                // Only quiet alerts are left: they count as warnings.
                .map(|f| f.level.min(Level::Warn))
                .max()
                .unwrap_or(Level::Stable)
        } else {
            Level::Alert
        };
        drift = drift.max(worst);
    }
    let mut degraded = Vec::new();
    if let Some(floor) = floor {
        let latest_realised = accuracy
            .iter()
            .rev()
            .find_map(|day| Some((day, day.realised.as_ref()?.roc_auc?)));
        if let Some((day, auc)) = latest_realised
            && auc < floor
        {
            degraded.push(Degradation {
                date: day.date.clone(),
                figure: "realised".into(),
                roc_auc: auc,
                floor,
            });
        }
        if let Some(day) = accuracy.last()
            && let Some(auc) = day.estimated.roc_auc
            && auc < floor
        {
            degraded.push(Degradation {
                date: day.date.clone(),
                figure: "estimated".into(),
                roc_auc: auc,
                floor,
            });
        }
    }
    Findings {
        drift,
        drifted_features,
        quiet_alerts,
        degraded,
        overrated_actions: Vec::new(),
        challengers_ahead: Vec::new(),
    }
}

/// Writes `monitor.json` and `report.html` into `out`; the report last.
pub fn write(out: &Path, report: &MonitorReport) -> Result<()> {
    crate::store::write_json(out.join(MONITOR_FILE), report)?;
    crate::store::write_atomic(out.join(REPORT_FILE), html::render(report).as_bytes())?;
    Ok(())
}

/// The importance ranking `churn evaluate` wrote into a model folder's `metrics.json`,
/// or nothing when it has not run.
pub fn read_importance(model_dir: &Path) -> Result<Vec<(String, f64)>> {
    let path = model_dir.join("metrics.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| PipelineError::Json {
            context: format!("reading {}", path.display()),
            source,
        })?;
    Ok(value
        .get("feature_importance")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default())
}

/// The reference of a model folder: its `profile.json`, or, for a model trained before
/// profiles were written, the profile of the feature folder its `training.json` names
/// when that folder is still there.
pub fn reference_of(model_dir: &Path) -> Result<Reference> {
    if !model_dir.join(crate::models::MODEL_FILE).exists() {
        return Err(PipelineError::Missing(format!(
            "{} is not a model folder (no {}): pass a folder written by `churn train`",
            model_dir.display(),
            crate::models::MODEL_FILE
        )));
    }
    if model_dir.join(crate::models::PROFILE_FILE).exists() {
        return crate::reference::read(model_dir);
    }
    let training = crate::models::read_training(model_dir).ok();
    let features = training
        .as_ref()
        .map(|t| std::path::PathBuf::from(&t.features))
        .filter(|dir| {
            !dir.as_os_str().is_empty() && dir.join(crate::features::TABLE_FILE).exists()
        });
    match features {
        Some(dir) => {
            tracing::info!(
                features = %dir.display(),
                "no profile.json in the model folder (trained before profiles): profiling the features it was trained on"
            );
            Ok(Reference {
                table: profile(&feature_data::load_dir(&dir, true)?),
                scores: None,
            })
        }
        None => Err(PipelineError::Missing(format!(
            "{} has no profile.json (trained before drift monitoring) and the features it was trained on{} are gone: train again to get one",
            model_dir.display(),
            training
                .map(|t| format!(" ({})", t.features))
                .unwrap_or_default()
        ))),
    }
}
