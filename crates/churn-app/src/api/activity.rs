//! What a data directory says beyond the day's scores, for the dashboard: the actions
//! planned for each customer over the action days (`actions/dt=<day>/plan.jsonl`, with
//! what sending made of them from `outcomes.jsonl`), the latest monitoring report, and the
//! champion's evaluation report. Read from files on demand, with the action index
//! rebuilt only when the set of finished action days changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use churn_core::playbook::{ActionKind, PlannedAction};
use churn_pipeline::layout;
use serde_json::Value as Json;

use super::backend::{ActionDay, CustomerAction, Report};

/// Action days kept in a customer's history (the newest ones).
pub const HISTORY_DAYS: usize = 180;

/// Every planned action of the kept days, by customer, newest day first.
#[derive(Debug, Default)]
pub struct ActionIndex {
    /// The day folders it was built from: a change means a rebuild.
    pub days: Vec<PathBuf>,
    by_customer: HashMap<String, Vec<CustomerAction>>,
    /// Each day's totals, newest first.
    pub totals: Vec<ActionDay>,
}

impl ActionIndex {
    pub fn of(&self, customer_id: &str) -> Vec<CustomerAction> {
        self.by_customer
            .get(customer_id)
            .cloned()
            .unwrap_or_default()
    }
}

/// The action days whose plan is complete (its header, written last, is there), oldest
/// first, at most [`HISTORY_DAYS`].
pub fn action_days(root: &Path) -> churn_pipeline::Result<Vec<PathBuf>> {
    let mut days: Vec<PathBuf> =
        churn_pipeline::store::subfolders(&root.join(layout::ACTIONS), layout::DAY_PREFIX)?
            .into_iter()
            .filter(|folder| folder.join(layout::PLAN_FILE).exists())
            .collect();
    let excess = days.len().saturating_sub(HISTORY_DAYS);
    days.drain(..excess);
    Ok(days)
}

/// Reads the plans of `days` (from [`action_days`]). A line that does not parse is an
/// error naming the file and line: a history with holes would mislead.
pub fn index_actions(days: Vec<PathBuf>) -> churn_pipeline::Result<ActionIndex> {
    let mut by_customer: HashMap<String, Vec<CustomerAction>> = HashMap::new();
    let mut totals = Vec::with_capacity(days.len());
    for folder in days.iter().rev() {
        let day = layout::parse_day_folder(folder).unwrap_or_default();
        let mut total = ActionDay {
            day: day.clone(),
            ..ActionDay::default()
        };
        let statuses = outcome_statuses(&folder.join(layout::OUTCOMES_FILE))?;
        let plan = folder.join(layout::ACTIONS_FILE);
        let text = read_optional(&plan)?.unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let planned: PlannedAction = serde_json::from_str(line).map_err(|e| {
                churn_pipeline::PipelineError::bad_file(
                    &plan,
                    format!("line {}: not a planned action ({e})", number + 1),
                )
            })?;
            let status = statuses
                .get(&planned.key)
                .cloned()
                .unwrap_or_else(|| "planned (not sent)".to_owned());
            if planned.kind == ActionKind::CrmSync {
                total.crm_syncs += 1;
            } else {
                total.actions += 1;
                *total.statuses.entry(status.clone()).or_default() += 1;
                total.expected_gain += planned.expected_gain;
                total.cost += planned.cost;
            }
            by_customer
                .entry(planned.customer_id.clone())
                .or_default()
                .push(CustomerAction {
                    day: day.clone(),
                    action: planned.action,
                    kind: serde_plain(&planned.kind),
                    channel: serde_plain(&planned.channel),
                    rule: planned.rule,
                    probability: planned.probability,
                    tier: planned.tier.as_str().to_owned(),
                    cost: planned.cost,
                    expected_gain: planned.expected_gain,
                    why: planned.why,
                    status,
                });
        }
        totals.push(total);
    }
    Ok(ActionIndex {
        days,
        by_customer,
        totals,
    })
}

/// An enum's serde name (`"call"`, `"email"`).
fn serde_plain(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Json::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// `key -> status` of a sending run's outcomes (none for a dry run).
fn outcome_statuses(path: &Path) -> churn_pipeline::Result<HashMap<String, String>> {
    let mut statuses = HashMap::new();
    let Some(text) = read_optional(path)? else {
        return Ok(statuses);
    };
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let outcome: Json = serde_json::from_str(line).map_err(|e| {
            churn_pipeline::PipelineError::bad_file(
                path,
                format!("line {}: not JSON ({e})", number + 1),
            )
        })?;
        if let (Some(key), Some(status)) = (outcome["key"].as_str(), outcome["status"].as_str()) {
            statuses.insert(key.to_owned(), status.replace('_', " "));
        }
    }
    Ok(statuses)
}

fn read_optional(path: &Path) -> churn_pipeline::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(churn_pipeline::PipelineError::io(path, e)),
    }
}

/// The newest monitoring day with a finished report (`report.html` is written last).
fn latest_monitoring(root: &Path) -> churn_pipeline::Result<Option<PathBuf>> {
    let folders =
        churn_pipeline::store::subfolders(&root.join(layout::MONITORING), layout::DAY_PREFIX)?;
    Ok(folders
        .into_iter()
        .rev()
        .find(|folder| folder.join(churn_pipeline::monitor::REPORT_FILE).exists()))
}

/// The latest `monitor.json`, as written.
pub fn monitoring(root: &Path) -> churn_pipeline::Result<Option<Json>> {
    let Some(folder) = latest_monitoring(root)? else {
        return Ok(None);
    };
    let path = folder.join(churn_pipeline::monitor::MONITOR_FILE);
    let Some(text) = read_optional(&path)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| churn_pipeline::PipelineError::bad_file(&path, format!("not JSON: {e}")))
}

/// A report's HTML: the champion's evaluation (`models/<champion>/report.html`) or the
/// latest monitoring day's.
pub fn report(
    root: &Path,
    which: Report,
    champion: &str,
) -> churn_pipeline::Result<Option<String>> {
    let path = match which {
        Report::Model => root
            .join(layout::MODELS)
            .join(champion)
            .join(churn_pipeline::evaluate::REPORT_FILE),
        Report::Monitoring => match latest_monitoring(root)? {
            Some(folder) => folder.join(churn_pipeline::monitor::REPORT_FILE),
            None => return Ok(None),
        },
    };
    read_optional(&path)
}
