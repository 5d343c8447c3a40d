//! A day of retention actions: the plan made from the scored candidates and the action
//! ledger's contact history, written to `actions/dt=<day>/`, and with a dispatcher sent.
//!
//! A plan is frozen when sending starts: every later run of the same day sends that
//! plan, so the budget and caps hold across re-runs and nothing planned is lost. The
//! actions are written before the plan's header, and the outcomes before the summary, so
//! a reader that finds the header (or the summary) finds the whole.

use std::collections::BTreeMap;
use std::time::Instant;

use churn_core::layout::{
    self, ACTIONS_FILE, OUTCOMES_FILE, PLAN_FILE, SKIPPED_FILE, SUMMARY_FILE,
};
use churn_core::playbook::{
    Candidate, Day, Plan, PlanHeader, PlanSummary, PlannedAction, Playbook, Skip,
};
use churn_io::IoError;
use churn_io::action_ledger::ActionLedger;
use churn_io::store::{ObjectGet, ObjectPut};
use serde::{Deserialize, Serialize};

use super::dispatch::{Dispatcher, Outcome};

/// Totals of one run of a day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    pub date: Day,
    /// The playbook revision of the plan.
    pub revision: String,
    /// Whether actions were sent (false: a dry run).
    pub sent: bool,
    /// Whether the plan was frozen by an earlier run that started sending.
    pub frozen: bool,
    /// The frozen plan was made with another playbook revision.
    #[serde(default)]
    pub warnings: Vec<String>,
    pub plan: PlanSummary,
    /// Actions by outcome (empty for a dry run).
    pub outcomes: BTreeMap<String, u64>,
    /// Actions by channel and outcome.
    pub by_channel: BTreeMap<String, BTreeMap<String, u64>>,
    pub seconds: f64,
}

impl DaySummary {
    /// Whether every action is settled or waits for quiet hours to end: nothing was left
    /// for a retry (busy or failed for now).
    pub fn settled(&self) -> bool {
        ["busy", "retry_later"]
            .iter()
            .all(|s| self.outcomes.get(*s).copied().unwrap_or(0) == 0)
    }
}

/// What a day's run wrote.
#[derive(Debug, Clone)]
pub struct DayReport {
    pub summary: DaySummary,
    pub plan: Plan,
    pub outcomes: Vec<Outcome>,
    /// Where the files are (`actions/dt=<date>`).
    pub folder: layout::Key,
}

/// One JSON object per line. An item that cannot be written fails the whole file: a
/// plan with an action silently left out would be sent without it.
fn json_lines<T: Serialize>(items: &[T], key: &str) -> Result<Vec<u8>, IoError> {
    let mut bytes = Vec::new();
    for (n, item) in items.iter().enumerate() {
        serde_json::to_writer(&mut bytes, item).map_err(|e| IoError::Corrupt {
            target: format!("{key} line {}", n + 1),
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
    }
    Ok(bytes)
}

fn json<T: Serialize>(value: &T, key: &str) -> Result<Vec<u8>, IoError> {
    serde_json::to_vec_pretty(value).map_err(|e| IoError::Corrupt {
        target: key.to_owned(),
        message: e.to_string(),
    })
}

fn parse_lines<T: serde::de::DeserializeOwned>(bytes: &[u8], key: &str) -> Result<Vec<T>, IoError> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(n, line)| {
            serde_json::from_slice(line).map_err(|e| IoError::Corrupt {
                target: format!("{key} line {}", n + 1),
                message: e.to_string(),
            })
        })
        .collect()
}

/// The cool-down pairs the planner needs looked up: every candidate with every group of
/// an action the playbook has.
pub fn history_pairs(playbook: &Playbook, candidates: &[Candidate]) -> Vec<(String, String)> {
    let mut groups: Vec<&str> = playbook
        .actions
        .iter()
        .filter(|a| a.cooldown_days > 0)
        .map(|a| a.group())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    let lowest = playbook
        .rules
        .iter()
        .filter(|rule| !rule.actions.is_empty())
        .flat_map(|rule| {
            if rule.tiers.is_empty() {
                vec![churn_core::Tier::Low]
            } else {
                rule.tiers.clone()
            }
        })
        .min();
    candidates
        .iter()
        .filter(|c| lowest.is_some_and(|lowest| c.tier >= lowest))
        .flat_map(|c| {
            groups
                .iter()
                .map(|g| (c.customer_id.clone(), (*g).to_owned()))
        })
        .collect()
}

/// Plans `date` (or takes its frozen plan) and, with a dispatcher, sends it; writes the
/// plan, and after sending the outcomes and summary, under `actions/dt=<date>/`. An
/// error from sending means the ledger or a provider's credentials failed: what was
/// settled stays settled, and the next run carries on from there.
pub async fn run_day<S, L>(
    store: &S,
    ledger: &L,
    playbook: &Playbook,
    date: Day,
    candidates: &[Candidate],
    dispatcher: Option<&Dispatcher<'_, L>>,
) -> Result<DayReport, IoError>
where
    S: ObjectGet + ObjectPut + Sync,
    L: ActionLedger + Sync,
{
    let started = Instant::now();
    let folder = layout::actions(&date);
    let header_key = folder.join(PLAN_FILE).to_string();
    let actions_key = folder.join(ACTIONS_FILE).to_string();
    let skipped_key = folder.join(SKIPPED_FILE).to_string();
    let mut warnings = Vec::new();
    let existing: Option<PlanHeader> = match store.get(&header_key).await {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes).map_err(|e| IoError::Corrupt {
                target: header_key.clone(),
                message: e.to_string(),
            })?,
        ),
        Err(IoError::NotFound(_)) => None,
        Err(error) => return Err(error),
    };
    let frozen = existing.as_ref().is_some_and(|h| h.frozen);
    let plan = match existing.filter(|h| h.frozen) {
        Some(header) => {
            let actions: Vec<PlannedAction> =
                parse_lines(&store.get(&actions_key).await?, &actions_key)?;
            let skipped: Vec<Skip> = match store.get(&skipped_key).await {
                Ok(bytes) => parse_lines(&bytes, &skipped_key)?,
                Err(IoError::NotFound(_)) => Vec::new(),
                Err(error) => return Err(error),
            };
            if header.revision != playbook.revision {
                warnings.push(format!(
                    "the plan of {date} was frozen with playbook revision '{}'; the playbook is now '{}': the frozen plan stands",
                    header.revision, playbook.revision
                ));
            }
            tracing::info!(date = %date, actions = actions.len(), "using the frozen plan of the day");
            Plan {
                date: header.date,
                revision: header.revision,
                currency: header.currency,
                actions,
                skipped,
                summary: header.summary,
            }
        }
        None => {
            let history = ledger.history(&history_pairs(playbook, candidates)).await?;
            let plan = churn_core::playbook::plan(playbook, date, candidates, &history);
            // A plan that cannot be sent is refused before it is frozen.
            if let Some(dispatcher) = dispatcher {
                dispatcher.check(&plan)?;
            }
            // The actions first, the header last: a reader that finds the header finds
            // the whole plan.
            store
                .put(&actions_key, json_lines(&plan.actions, &actions_key)?)
                .await?;
            store
                .put(&skipped_key, json_lines(&plan.skipped, &skipped_key)?)
                .await?;
            let header = PlanHeader {
                date,
                revision: plan.revision.clone(),
                currency: plan.currency.clone(),
                frozen: dispatcher.is_some(),
                summary: plan.summary.clone(),
            };
            store.put(&header_key, json(&header, &header_key)?).await?;
            plan
        }
    };
    let mut summary = DaySummary {
        date,
        revision: plan.revision.clone(),
        sent: dispatcher.is_some(),
        frozen,
        warnings,
        plan: plan.summary.clone(),
        ..DaySummary::default()
    };
    let mut outcomes = Vec::new();
    if let Some(dispatcher) = dispatcher {
        // The controls are held back from their action's cool-down group as if they had
        // got it, so a later day does not treat them while their outcome is measured.
        // Recorded on every sending run of the day (a later day wins, so it is idempotent).
        for skip in &plan.skipped {
            if let Some(held) = &skip.held_back {
                ledger
                    .record_sent(&skip.customer_id, &held.cooldown_group, plan.date)
                    .await?;
            }
        }
        outcomes = dispatcher.run(&plan).await?;
        for outcome in &outcomes {
            *summary
                .outcomes
                .entry(outcome.status.as_str().to_owned())
                .or_default() += 1;
            *summary
                .by_channel
                .entry(outcome.channel.as_str().to_owned())
                .or_default()
                .entry(outcome.status.as_str().to_owned())
                .or_default() += 1;
        }
        let outcomes_key = folder.join(OUTCOMES_FILE).to_string();
        store
            .put(&outcomes_key, json_lines(&outcomes, &outcomes_key)?)
            .await?;
    }
    summary.seconds = started.elapsed().as_secs_f64();
    if dispatcher.is_some() {
        let summary_key = folder.join(SUMMARY_FILE).to_string();
        store
            .put(&summary_key, json(&summary, &summary_key)?)
            .await?;
    }
    Ok(DayReport {
        summary,
        plan,
        outcomes,
        folder,
    })
}
