//! The promotion policy, the one rule that decides whether a newly trained model replaces
//! the champion: it must beat the champion on the challenger's own holdout, with the
//! champion scored on the same rows (the challenger's metric alone was measured on rows
//! the champion may have trained on). A champion that cannot be scored on those rows
//! (trained on other features) is not comparable, and the model trained on the current
//! data wins.

use churn_io::events::{ModelPromoted, domain_event};
use churn_io::registry::{ModelVersion, Move, Registry};
use churn_io::{IoError, now_epoch};

use crate::{AppError, Platform};

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
    /// Its metric on the challenger's holdout; `None`: not comparable.
    pub on_holdout: Option<f64>,
}

/// Decides on a challenger with `metric` on its holdout.
pub fn decide(challenger: &str, metric: f64, champion: Option<&Incumbent<'_>>) -> Verdict {
    match champion {
        None => Verdict::Promote("the first model".into()),
        Some(champion) if champion.version == challenger => {
            Verdict::Keep("it is the champion already (the same data and seed)".into())
        }
        Some(Incumbent {
            on_holdout: None, ..
        }) => Verdict::Promote(
            "the champion was trained on other features and cannot be compared: the model of the current data wins"
                .into(),
        ),
        Some(Incumbent {
            version,
            on_holdout: Some(theirs),
        }) if metric > *theirs => Verdict::Promote(format!(
            "{metric:.4} beats {version}'s {theirs:.4} on the same holdout"
        )),
        Some(Incumbent {
            version,
            on_holdout: Some(theirs),
        }) => Verdict::Keep(format!(
            "{metric:.4} does not beat {version}'s {theirs:.4} on the same holdout"
        )),
    }
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

    fn champion(on_holdout: Option<f64>) -> Incumbent<'static> {
        Incumbent {
            version: "gbdt-old",
            on_holdout,
        }
    }

    #[test]
    fn a_challenger_must_beat_the_champion_on_its_own_holdout() {
        assert!(matches!(decide("new", 0.7, None), Verdict::Promote(_)));
        assert!(matches!(
            decide("new", 0.80, Some(&champion(Some(0.79)))),
            Verdict::Promote(_)
        ));
        assert!(matches!(
            decide("new", 0.79, Some(&champion(Some(0.79)))),
            Verdict::Keep(_)
        ));
        assert!(matches!(
            decide("new", 0.60, Some(&champion(None))),
            Verdict::Promote(_)
        ));
        assert!(matches!(
            decide("gbdt-old", 0.99, Some(&champion(Some(0.5)))),
            Verdict::Keep(_)
        ));
    }
}
