//! What a store says for the dashboard: the latest prediction day's ranked list
//! (`predictions/dt=<day>/[shard=<part>/]customers.jsonl`), the actions planned for each
//! customer over the action days (`actions/dt=<day>/plan.jsonl`, with what sending made
//! of them from `outcomes.jsonl`), the latest monitoring report, and the champion's
//! evaluation report. The same code reads a data directory (`churn serve`) and the
//! stack's bucket (`churn-score-api`), through the store ports; the list and the action
//! index are read again only when their files change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::layout;
use churn_core::playbook::{ActionKind, Day, PlannedAction};
use churn_io::IoError;
use churn_io::store::{ObjectGet, ObjectInfo, ObjectList};
use serde_json::Value as Json;
use tokio::sync::Mutex;

use super::backend::{ActionDay, CustomerAction, Report};
use super::list::{Listed, RankedList};
use crate::AppError;

/// Action days kept in a customer's history (the newest ones).
pub const HISTORY_DAYS: usize = 180;

/// The activity of one store, with the ranked list and the action index cached for
/// `refresh`.
#[derive(Debug)]
pub struct Activity<S> {
    store: S,
    refresh: Duration,
    index: Mutex<Option<(Arc<ActionIndex>, Instant)>>,
    ranked: Mutex<Option<ListRead>>,
}

/// The ranked list as last read, the files it was read from (with their sizes: a change
/// means a new read) and when they were last listed.
#[derive(Debug)]
struct ListRead {
    list: Option<Arc<RankedList>>,
    files: Vec<ObjectInfo>,
    checked: Instant,
}

impl<S: ObjectGet + ObjectList + Send + Sync> Activity<S> {
    pub fn new(store: S, refresh: Duration) -> Self {
        Self {
            store,
            refresh,
            index: Mutex::new(None),
            ranked: Mutex::new(None),
        }
    }

    /// The newest prediction day whose run finished (its `summary.json`, written last,
    /// is there), ranked; `None` before the first. A day scored in shards is read from
    /// every shard's list; challengers' folders are left out.
    pub async fn ranked(&self) -> Result<Option<Arc<RankedList>>, AppError> {
        let mut cached = self.ranked.lock().await;
        if let Some(read) = cached.as_ref()
            && read.checked.elapsed() < self.refresh
        {
            return Ok(read.list.clone());
        }
        let latest = self.latest_prediction_day().await?;
        let (list, files) = match (latest, cached.as_ref()) {
            (None, _) => (None, Vec::new()),
            (Some((_, files)), Some(read)) if read.files == files => (read.list.clone(), files),
            (Some((day, files)), _) => {
                let started = Instant::now();
                let list = self.read_list(&day, &files).await?;
                tracing::info!(
                    day = list.day,
                    customers = list.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "prediction day loaded"
                );
                (Some(Arc::new(list)), files)
            }
        };
        *cached = Some(ListRead {
            list: list.clone(),
            files,
            checked: Instant::now(),
        });
        Ok(list)
    }

    /// The newest finished prediction day and its customer lists (the day's own, or
    /// else every shard's), with their sizes.
    async fn latest_prediction_day(&self) -> Result<Option<(Day, Vec<ObjectInfo>)>, AppError> {
        let prefix = format!("{}/{}", layout::PREDICTIONS, layout::DAY_PREFIX);
        let mut days: BTreeMap<Day, (bool, Vec<ObjectInfo>, Vec<ObjectInfo>)> = BTreeMap::new();
        for object in self.store.list(&prefix).await? {
            let Some((day, rest)) = layout::parse_predictions(&object.key) else {
                continue;
            };
            let Some(day) = Day::parse(day) else {
                continue;
            };
            let (finished, whole, shards) = days.entry(day).or_default();
            match rest.split_once('/') {
                None if rest == layout::PREDICTIONS_SUMMARY_FILE => *finished = true,
                None if rest == layout::CUSTOMER_LIST_FILE => whole.push(object),
                Some((folder, file))
                    if folder.starts_with(layout::SHARD_PREFIX)
                        && file == layout::CUSTOMER_LIST_FILE =>
                {
                    shards.push(object)
                }
                _ => {}
            }
        }
        let Some((day, (_, whole, shards))) =
            days.into_iter().rev().find(|(_, (finished, ..))| *finished)
        else {
            return Ok(None);
        };
        let files = if whole.is_empty() { shards } else { whole };
        if files.is_empty() {
            return Err(AppError::permanent(format!(
                "{}: no {} (nor in its shards): the day was scored by a churn that did not write it; run `churn predict` for the day again",
                layout::predictions(&day),
                layout::CUSTOMER_LIST_FILE
            )));
        }
        Ok(Some((day, files)))
    }

    /// Reads a day's customer lists and the model from its summary. A line that does not
    /// parse is an error naming the object and line: a list with holes would mislead.
    async fn read_list(&self, day: &Day, files: &[ObjectInfo]) -> Result<RankedList, AppError> {
        let summary = layout::predictions(day).join(layout::PREDICTIONS_SUMMARY_FILE);
        let summary = summary.as_str();
        let model = match self.text(summary).await? {
            Some(text) => serde_json::from_str::<Json>(&text)
                .map_err(|e| corrupt(summary, format!("not JSON: {e}")))?["model_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            None => String::new(),
        };
        let mut entries = Vec::new();
        for file in files {
            let text = self.text(&file.key).await?.unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let listed: Listed = serde_json::from_str(line).map_err(|e| {
                    corrupt(
                        &file.key,
                        format!("line {}: not a listed customer ({e})", number + 1),
                    )
                })?;
                entries.push(listed);
            }
        }
        Ok(RankedList::new(day.to_string(), model, entries))
    }

    /// The actions planned for a customer, newest day first.
    pub async fn actions(&self, customer_id: &str) -> Result<Vec<CustomerAction>, AppError> {
        Ok(self.index().await?.of(customer_id))
    }

    /// Each kept action day's totals, newest first.
    pub async fn action_days(&self) -> Result<Vec<ActionDay>, AppError> {
        Ok(self.index().await?.totals.clone())
    }

    /// The action index, rebuilt when the files of the finished action days change.
    async fn index(&self) -> Result<Arc<ActionIndex>, AppError> {
        let mut cached = self.index.lock().await;
        if let Some((index, checked)) = cached.as_ref()
            && checked.elapsed() < self.refresh
        {
            return Ok(index.clone());
        }
        let days = self.action_days_listed().await?;
        let index = match cached.as_ref() {
            Some((index, _)) if index.days == days => index.clone(),
            _ => Arc::new(self.read_actions(days).await?),
        };
        *cached = Some((index.clone(), Instant::now()));
        Ok(index)
    }

    /// The action days whose plan is complete (its header, written last, is there), oldest
    /// first, at most [`HISTORY_DAYS`], with their files.
    async fn action_days_listed(&self) -> Result<Vec<DayFiles>, AppError> {
        let mut days = self.days_of(layout::ACTIONS).await?;
        days.retain(|day| day.has(layout::PLAN_FILE));
        let excess = days.len().saturating_sub(HISTORY_DAYS);
        days.drain(..excess);
        Ok(days)
    }

    /// The `<folder>/dt=<day>/` days of the store, oldest first, each with its files
    /// (shards' and challengers' folders left out).
    async fn days_of(&self, folder: &str) -> Result<Vec<DayFiles>, AppError> {
        // `dt=` in the prefix keeps other folders (the local action ledger) unlisted.
        let prefix = format!("{folder}/{}", layout::DAY_PREFIX);
        let mut days: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
        for object in self.store.list(&prefix).await? {
            if let Some((day, file)) = layout::parse_day(folder, &object.key)
                && !day.is_empty()
                && !file.is_empty()
                && !file.contains('/')
            {
                days.entry(day.to_owned()).or_default().push(object);
            }
        }
        Ok(days
            .into_iter()
            .map(|(day, files)| DayFiles { day, files })
            .collect())
    }

    /// Reads the plans of `days`. A line that does not parse is an error naming the
    /// object and line: a history with holes would mislead.
    async fn read_actions(&self, days: Vec<DayFiles>) -> Result<ActionIndex, AppError> {
        let mut by_customer: HashMap<String, Vec<CustomerAction>> = HashMap::new();
        let mut totals = Vec::with_capacity(days.len());
        for day in days.iter().rev() {
            let mut total = ActionDay {
                day: day.day.clone(),
                ..ActionDay::default()
            };
            let statuses = match day.key(layout::OUTCOMES_FILE) {
                Some(key) => outcome_statuses(key, &self.text(key).await?.unwrap_or_default())?,
                None => HashMap::new(),
            };
            let Some(plan) = day.key(layout::ACTIONS_FILE) else {
                totals.push(total);
                continue;
            };
            let text = self.text(plan).await?.unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let planned: PlannedAction = serde_json::from_str(line).map_err(|e| {
                    corrupt(
                        plan,
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
                        day: day.day.clone(),
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

    /// The latest `monitor.json`, as written, of the newest monitoring day whose report
    /// (written last) is there.
    pub async fn monitoring(&self) -> Result<Option<Json>, AppError> {
        let Some(key) = self
            .latest_monitoring()
            .await?
            .and_then(|day| day.key(layout::MONITOR_FILE).map(str::to_owned))
        else {
            return Ok(None);
        };
        let Some(text) = self.text(&key).await? else {
            return Ok(None);
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| corrupt(&key, format!("not JSON: {e}")))
    }

    /// A report's HTML: the champion's evaluation (`models/<champion>/report.html`) or
    /// the latest monitoring day's; `None` when it was not written.
    /// The model report is the champion's (`None` without one).
    pub async fn report(
        &self,
        which: Report,
        champion: Option<&str>,
    ) -> Result<Option<String>, AppError> {
        let key = match which {
            Report::Model => match champion {
                Some(version) => layout::model(version)
                    .join(layout::MODEL_REPORT_FILE)
                    .to_string(),
                None => return Ok(None),
            },
            Report::Monitoring => match self.latest_monitoring().await? {
                Some(day) => match day.key(layout::MONITOR_REPORT_FILE) {
                    Some(key) => key.to_owned(),
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        self.text(&key).await
    }

    async fn latest_monitoring(&self) -> Result<Option<DayFiles>, AppError> {
        let days = self.days_of(layout::MONITORING).await?;
        Ok(days
            .into_iter()
            .rev()
            .find(|day| day.has(layout::MONITOR_REPORT_FILE)))
    }

    /// An object as text; `None` when it is not there.
    async fn text(&self, key: &str) -> Result<Option<String>, AppError> {
        match self.store.get(key).await {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| corrupt(key, "not UTF-8 text".to_owned())),
            Err(IoError::NotFound(_)) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}

/// One `dt=<day>` folder and the files directly in it, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DayFiles {
    day: String,
    files: Vec<ObjectInfo>,
}

impl DayFiles {
    /// The key of the day's file `name`, if it is there.
    fn key(&self, name: &str) -> Option<&str> {
        self.files
            .iter()
            .map(|file| file.key.as_str())
            .find(|key| key.rsplit('/').next() == Some(name))
    }

    fn has(&self, name: &str) -> bool {
        self.key(name).is_some()
    }
}

/// Every planned action of the kept days, by customer, newest day first.
#[derive(Debug, Default)]
struct ActionIndex {
    /// The days and files it was built from (with their sizes): a change means a rebuild.
    days: Vec<DayFiles>,
    by_customer: HashMap<String, Vec<CustomerAction>>,
    /// Each day's totals, newest first.
    totals: Vec<ActionDay>,
}

impl ActionIndex {
    fn of(&self, customer_id: &str) -> Vec<CustomerAction> {
        self.by_customer
            .get(customer_id)
            .cloned()
            .unwrap_or_default()
    }
}

fn corrupt(key: &str, message: String) -> AppError {
    AppError::from(IoError::Corrupt {
        target: key.to_owned(),
        message,
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

/// `key -> status` of a sending run's outcomes.
fn outcome_statuses(object: &str, text: &str) -> Result<HashMap<String, String>, AppError> {
    let mut statuses = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let outcome: Json = serde_json::from_str(line)
            .map_err(|e| corrupt(object, format!("line {}: not JSON ({e})", number + 1)))?;
        if let (Some(key), Some(status)) = (outcome["key"].as_str(), outcome["status"].as_str()) {
            statuses.insert(key.to_owned(), status.replace('_', " "));
        }
    }
    Ok(statuses)
}
