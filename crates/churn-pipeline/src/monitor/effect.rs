//! Did the actions work? For every day of actions that was sent (`actions/dt=<day>/` of
//! `churn actions --send`), once its outcomes have matured (the data covers the model's
//! horizon from that day), the customers an action went to (treated) and those held back
//! from it at random (control, [`churn_core::playbook::HeldBack`]) are joined to what
//! happened, by the features' own label rule: churned within the horizon or not.
//!
//! Pooled over the matured days, per action and per action and tier: retention of the
//! treated against the control, the difference with its 95 % interval, the realised save
//! rate (the share of would-be churners kept) against the playbook's assumed one, and the
//! revenue the action saved (the difference times the treated customers' value) against
//! what the plan expected.
//!
//! Treated means planned on a sent day (intent to treat): an action that failed to send
//! still counts, so a broken channel shows as a weaker effect instead of vanishing from
//! the comparison. A dry-run day sent nothing and is not measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use churn_core::Tier;
use churn_core::playbook::{ActionKind, PlanHeader, PlannedAction, Skip};
use churn_core::uplift::{Arm, Uplift, uplift};
use serde::{Deserialize, Serialize};

use crate::dates::{from_days, to_days};
use crate::error::{PipelineError, Result};
use crate::features::asof::{Cutoff, Sources};
use crate::features::horizon_end;
use churn_core::layout::{ACTIONS_FILE, PLAN_FILE, SKIPPED_FILE};

/// One day of actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionDay {
    pub date: String,
    /// The playbook revision of its plan.
    pub revision: String,
    /// Whether its actions were sent (a dry run is not measured).
    pub sent: bool,
    /// Customers with a retention action (CRM syncs aside).
    pub treated: u64,
    /// Customers held back as control.
    pub controls: u64,
    /// The last day of the outcomes' horizon.
    pub matures_on: String,
    /// Whether its outcomes are in the figures.
    pub measured: bool,
}

/// Treated against control for one action (and one tier, or all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionEffect {
    pub action: String,
    /// `None`: every tier.
    pub tier: Option<Tier>,
    pub treated: Arm,
    pub control: Arm,
    /// Treated minus control retention, with its interval and the realised save rate
    /// (`None` while an arm is empty).
    pub uplift: Option<Uplift>,
    /// The save rate the playbook assumed: the plan's expected revenue saved over the
    /// treated's `probability × value` (the action's `save_rate` when it is one action).
    pub assumed_save_rate: Option<f64>,
    /// Revenue the plan expected the treated to save (`p × save_rate × value`, summed).
    pub expected_saved: f64,
    /// Revenue saved as measured: the uplift times the treated customers' value, with
    /// the interval of the uplift.
    pub realised_saved: Option<f64>,
    pub realised_saved_low: Option<f64>,
    pub realised_saved_high: Option<f64>,
}

/// The actions' effects: the days read, and the effects pooled over the matured ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionEffects {
    pub currency: String,
    /// Oldest first.
    pub days: Vec<ActionDay>,
    /// Per action over every tier, then per action and tier; actions by name.
    pub effects: Vec<ActionEffect>,
}

impl ActionEffects {
    /// Actions whose realised save rate is below the assumed one with 95 % confidence
    /// (the interval's top under the assumption): the playbook overrates them.
    pub fn overrated(&self) -> Vec<String> {
        self.effects
            .iter()
            .filter(|e| e.tier.is_none())
            .filter(|e| {
                e.uplift
                    .and_then(|u| u.save_rate_high)
                    .zip(e.assumed_save_rate)
                    .is_some_and(|(high, assumed)| high < assumed)
            })
            .map(|e| e.action.clone())
            .collect()
    }
}

/// A day's plan as written by `churn actions`.
struct DayPlan {
    header: PlanHeader,
    treated: Vec<PlannedAction>,
    controls: Vec<Skip>,
}

fn json_lines<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        PipelineError::Missing(format!(
            "{}: cannot read the plan's file ({error})",
            path.display()
        ))
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line)
                .map_err(|error| PipelineError::bad_file(path, format!("line {}: {error}", n + 1)))
        })
        .collect()
}

fn read_day(dir: &Path) -> Result<DayPlan> {
    let header_path = dir.join(PLAN_FILE);
    let text = std::fs::read_to_string(&header_path).map_err(|_| {
        PipelineError::Missing(format!(
            "{}: no {PLAN_FILE}, so not a day of `churn actions` (or its plan was not finished)",
            dir.display()
        ))
    })?;
    let header: PlanHeader = serde_json::from_str(&text)
        .map_err(|error| PipelineError::bad_file(&header_path, error.to_string()))?;
    let treated: Vec<PlannedAction> = json_lines(&dir.join(ACTIONS_FILE))?;
    let skipped: Vec<Skip> = json_lines(&dir.join(SKIPPED_FILE))?;
    Ok(DayPlan {
        header,
        treated: treated
            .into_iter()
            .filter(|a| a.kind != ActionKind::CrmSync)
            .collect(),
        controls: skipped
            .into_iter()
            .filter(|s| s.held_back.is_some())
            .collect(),
    })
}

#[derive(Default)]
struct Tally {
    treated: Arm,
    control: Arm,
    expected_saved: f64,
    /// Σ p × value of the treated.
    at_stake: f64,
    /// Σ value of the treated.
    value: f64,
}

impl Tally {
    fn effect(&self, action: &str, tier: Option<Tier>) -> ActionEffect {
        let uplift = uplift(self.treated, self.control);
        let saved = |x: f64| x * self.value;
        ActionEffect {
            action: action.to_owned(),
            tier,
            treated: self.treated,
            control: self.control,
            uplift,
            assumed_save_rate: (self.at_stake > 0.0).then(|| self.expected_saved / self.at_stake),
            expected_saved: self.expected_saved,
            realised_saved: uplift.map(|u| saved(u.difference)),
            realised_saved_low: uplift.map(|u| saved(u.low)),
            realised_saved_high: uplift.map(|u| saved(u.high)),
        }
    }
}

/// The effects of the action days in `dirs`, horizon `horizon_days`, measured where
/// `data_end` (a day number) covers a day's horizon and `sources` hold the labels.
/// What cannot be measured is said in `warnings`.
pub fn action_effects(
    dirs: &[PathBuf],
    horizon_days: u32,
    sources: Option<&Sources>,
    data_end: Option<i32>,
    warnings: &mut Vec<String>,
) -> Result<ActionEffects> {
    let mut plans = dirs
        .iter()
        .map(|dir| read_day(dir))
        .collect::<Result<Vec<_>>>()?;
    plans.sort_by_key(|p| p.header.date);
    if let Some(pair) = plans
        .windows(2)
        .find(|w| w[0].header.date == w[1].header.date)
    {
        return Err(PipelineError::InvalidInput(format!(
            "two action folders are of {}: pass each day once",
            pair[0].header.date
        )));
    }
    let mut tallies: BTreeMap<(String, Option<Tier>), Tally> = BTreeMap::new();
    let mut days = Vec::new();
    let mut currency = String::new();
    for plan in &plans {
        let date = plan.header.date.to_string();
        let as_of = to_days(crate::dates::parse_date(&date, "the actions' day")?);
        let last = horizon_end(as_of, horizon_days);
        let sent = plan.header.frozen;
        let measured = sent && sources.is_some() && data_end.is_some_and(|end| end >= last);
        days.push(ActionDay {
            date: date.clone(),
            revision: plan.header.revision.clone(),
            sent,
            treated: plan.treated.len() as u64,
            controls: plan.controls.len() as u64,
            matures_on: from_days(last).to_string(),
            measured,
        });
        if !sent {
            warnings.push(format!(
                "the actions of {date} were a dry run (nothing sent): not measured"
            ));
            continue;
        }
        if plan.controls.is_empty() {
            warnings.push(format!(
                "the actions of {date} held nobody back (the playbook's control_share was 0): treated customers are counted, but without a control group their effect cannot be told from noise"
            ));
        }
        let Some(sources) = sources.filter(|_| measured) else {
            continue;
        };
        if currency.is_empty() {
            currency = plan.header.currency.clone();
        } else if currency != plan.header.currency {
            return Err(PipelineError::InvalidInput(format!(
                "the actions of {date} are in {}, earlier days in {currency}: measure one currency at a time",
                plan.header.currency
            )));
        }
        let churned = super::accuracy::churned(
            sources,
            Cutoff {
                as_of,
                horizon_days: horizon_days as i32,
                label_known: true,
            },
        )?;
        for action in &plan.treated {
            let lost = churned.contains(&action.customer_id);
            for tier in [None, Some(action.tier)] {
                let tally = tallies.entry((action.action.clone(), tier)).or_default();
                tally.treated.add(lost);
                tally.expected_saved += action.expected_saved;
                tally.at_stake += action.probability * action.customer_value;
                tally.value += action.customer_value;
            }
        }
        for control in &plan.controls {
            let Some(held) = &control.held_back else {
                continue;
            };
            let lost = churned.contains(&control.customer_id);
            for tier in [None, Some(control.tier)] {
                tallies
                    .entry((held.action.clone(), tier))
                    .or_default()
                    .control
                    .add(lost);
            }
        }
    }
    if currency.is_empty() {
        currency = plans
            .last()
            .map(|p| p.header.currency.clone())
            .unwrap_or_default();
    }
    if let Some(first) = days.iter().find(|d| d.sent && !d.measured)
        && sources.is_some()
    {
        warnings.push(format!(
            "the outcomes of the actions of {} mature when the data reaches {}: not measured yet",
            first.date, first.matures_on
        ));
    }
    // Every tier first, then tier by tier (high first), actions by name.
    let mut effects: Vec<ActionEffect> = tallies
        .iter()
        .map(|((action, tier), tally)| tally.effect(action, *tier))
        .collect();
    effects.sort_by(|a, b| {
        a.tier
            .is_some()
            .cmp(&b.tier.is_some())
            .then_with(|| b.tier.cmp(&a.tier))
            .then_with(|| a.action.cmp(&b.action))
    });
    Ok(ActionEffects {
        currency,
        days,
        effects,
    })
}
