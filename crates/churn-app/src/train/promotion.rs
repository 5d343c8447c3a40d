//! The promotion policy, the one rule that decides whether a newly trained model replaces
//! the champion: on the challenger's own holdout, with the champion scored on the same
//! rows (the challenger's metric alone was measured on rows the champion may have trained
//! on), its ROC-AUC must beat the champion's by more than [`PromotionPolicy::min_auc_gain`],
//! and its calibration error may exceed the champion's by at most
//! [`PromotionPolicy::calibration_tolerance`] (the playbook spends money on the
//! probabilities, not only on the ranking). A champion that cannot be scored on those
//! rows (trained on other features) is not comparable, and the model trained on the
//! current data wins. The verdict says which numbers decided.

use churn_io::events::{ModelPromoted, domain_event};
use churn_io::registry::{ModelVersion, Move, Registry};
use churn_io::{IoError, now_epoch};

use crate::{AppError, Platform};

/// The policy's settings (the stack's `PromotionMinAucGain` and
/// `PromotionCalibrationTolerance`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromotionPolicy {
    /// The challenger's ROC-AUC must exceed the champion's by more than this.
    pub min_auc_gain: f64,
    /// Its calibration error may exceed the champion's by at most this.
    pub calibration_tolerance: f64,
}

/// Any gain in ROC-AUC promotes, by default.
pub const DEFAULT_MIN_AUC_GAIN: f64 = 0.0;
/// Two points of calibration error (mean gap between predicted and observed churn over
/// ten bins), by default.
pub const DEFAULT_CALIBRATION_TOLERANCE: f64 = 0.02;

impl Default for PromotionPolicy {
    fn default() -> Self {
        Self {
            min_auc_gain: DEFAULT_MIN_AUC_GAIN,
            calibration_tolerance: DEFAULT_CALIBRATION_TOLERANCE,
        }
    }
}

/// A model's figures on the challenger's holdout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figures {
    pub roc_auc: f64,
    pub calibration_error: Option<f64>,
}

impl Figures {
    /// The figures of a measured holdout (`None` without a ROC-AUC: a single class).
    pub fn of(holdout: &churn_pipeline::reference::Holdout) -> Option<Self> {
        Some(Self {
            roc_auc: holdout.roc_auc?,
            calibration_error: holdout.calibration_error,
        })
    }
}

/// What the policy decided, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Promote(String),
    Keep(String),
}

/// The champion as the challenger sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incumbent<'a> {
    pub version: &'a str,
    /// Its figures on the challenger's holdout; `None`: not comparable.
    pub on_holdout: Option<Figures>,
}

fn error(value: Option<f64>) -> String {
    value.map_or_else(|| "unknown".to_owned(), |v| format!("{v:.4}"))
}

/// Decides on a challenger with `ours` on its holdout.
pub fn decide(
    challenger: &str,
    ours: Figures,
    champion: Option<&Incumbent<'_>>,
    policy: &PromotionPolicy,
) -> Verdict {
    let champion = match champion {
        None => return Verdict::Promote("the first model".into()),
        Some(champion) if champion.version == challenger => {
            return Verdict::Keep("it is the champion already (the same data and seed)".into());
        }
        Some(champion) => champion,
    };
    let Some(theirs) = champion.on_holdout else {
        return Verdict::Promote(
            "the champion was trained on other features and cannot be compared: the model of the current data wins"
                .into(),
        );
    };
    let version = champion.version;
    let gain = ours.roc_auc - theirs.roc_auc;
    let auc = format!(
        "ROC-AUC {:.4} against {version}'s {:.4} on the same holdout (gain {gain:+.4}, needed above {:.4})",
        ours.roc_auc, theirs.roc_auc, policy.min_auc_gain
    );
    let calibration = format!(
        "calibration error {} against {} (tolerance {:.4})",
        error(ours.calibration_error),
        error(theirs.calibration_error),
        policy.calibration_tolerance
    );
    // A NaN gain (a ROC-AUC that could not be measured) is not enough either.
    if gain.is_nan() || gain <= policy.min_auc_gain {
        return Verdict::Keep(format!("not enough: {auc}"));
    }
    if let (Some(mine), Some(champions)) = (ours.calibration_error, theirs.calibration_error)
        && mine > champions + policy.calibration_tolerance
    {
        return Verdict::Keep(format!("calibrated worse: {calibration}, though {auc}"));
    }
    Verdict::Promote(format!("better: {auc}; {calibration}"))
}

/// Who moves the champion when training decides to (recorded in the registry's history).
pub const TRAINING: &str = "churn-train";

/// Moves the champion pointer to `model`, provided it still is `expected`, records why
/// in the registry's history and publishes `ModelPromoted`. `Ok(false)`: another
/// promotion won the race (the model stays registered, unpromoted).
pub async fn promote(
    platform: &Platform,
    model: &ModelVersion,
    expected: Option<&str>,
    as_of: &str,
    reason: &str,
) -> Result<bool, AppError> {
    let promoted_at = churn_core::playbook::format_timestamp(now_epoch());
    let why = Move {
        at: &promoted_at,
        by: TRAINING,
        reason,
    };
    match platform.registry.promote(model, expected, why).await {
        Ok(_) => {}
        Err(IoError::Conflict(message)) => {
            tracing::warn!(message, "promotion lost");
            return Ok(false);
        }
        Err(error) => return Err(error.into()),
    }
    let event = ModelPromoted {
        bucket: platform.settings.bucket.clone(),
        version: model.version.clone(),
        artifact_key: model.artifact_key.clone(),
        metric_name: model.metric_name.clone(),
        metric: model.metric,
        previous: expected.map(str::to_owned),
        as_of: as_of.to_owned(),
    };
    platform
        .events
        .publish(&[domain_event("ModelPromoted", &event)?])
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(roc_auc: f64, calibration_error: f64) -> Figures {
        Figures {
            roc_auc,
            calibration_error: Some(calibration_error),
        }
    }

    fn champion(on_holdout: Option<Figures>) -> Incumbent<'static> {
        Incumbent {
            version: "gbdt-old",
            on_holdout,
        }
    }

    #[test]
    fn a_challenger_must_beat_the_champion_on_its_own_holdout() {
        let policy = PromotionPolicy::default();
        let decide =
            |ours, champion: Option<&Incumbent<'_>>| decide("new", ours, champion, &policy);
        let old = champion(Some(figures(0.79, 0.03)));
        assert!(matches!(
            decide(figures(0.7, 0.1), None),
            Verdict::Promote(_)
        ));
        assert!(matches!(
            decide(figures(0.80, 0.03), Some(&old)),
            Verdict::Promote(_)
        ));
        assert!(matches!(
            decide(figures(0.79, 0.03), Some(&old)),
            Verdict::Keep(_)
        ));
        assert!(matches!(
            decide(figures(0.60, 0.2), Some(&champion(None))),
            Verdict::Promote(_)
        ));
        assert!(matches!(
            super::decide("gbdt-old", figures(0.99, 0.0), Some(&old), &policy),
            Verdict::Keep(_)
        ));
    }

    #[test]
    fn the_minimum_gain_and_the_calibration_tolerance_hold_and_the_verdict_shows_the_numbers() {
        let policy = PromotionPolicy {
            min_auc_gain: 0.005,
            calibration_tolerance: 0.01,
        };
        let old = champion(Some(figures(0.800, 0.030)));
        let decide = |ours| decide("new", ours, Some(&old), &policy);
        // A gain of 0.004 is not enough.
        let Verdict::Keep(why) = decide(figures(0.804, 0.030)) else {
            panic!("promoted on a small gain");
        };
        assert!(why.contains("gain +0.0040, needed above 0.0050"), "{why}");
        // Enough gain, but calibrated worse than the tolerance allows.
        let Verdict::Keep(why) = decide(figures(0.820, 0.045)) else {
            panic!("promoted a worse calibration");
        };
        assert!(
            why.contains(
                "calibrated worse: calibration error 0.0450 against 0.0300 (tolerance 0.0100)"
            ),
            "{why}"
        );
        // Within the tolerance: promoted, with every number.
        let Verdict::Promote(why) = decide(figures(0.820, 0.039)) else {
            panic!("kept a better model");
        };
        assert!(
            why.contains("ROC-AUC 0.8200 against gbdt-old's 0.8000")
                && why.contains("calibration error 0.0390 against 0.0300"),
            "{why}"
        );
        // An unknown calibration error does not block.
        assert!(matches!(
            decide(Figures {
                roc_auc: 0.82,
                calibration_error: None
            }),
            Verdict::Promote(_)
        ));
    }
}
