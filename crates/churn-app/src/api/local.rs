//! The API on a local data directory, for `churn serve`: the registry in `registry/`,
//! artifacts in `models/`, and the feature snapshot the latest prediction day scored
//! (`features/as_of=<day>/`), held in memory column by column (a million customers'
//! rows in a few hundred megabytes, a row turned into JSON only when asked for). The
//! ranked list and the dashboard's other files are read as in the stack (`Activity`).
//!
//! A newer day is picked up within the refresh interval, loaded beside the one being
//! served and swapped in whole: a request never sees half a day.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::layout;
use churn_io::online::OnlineRow;
use churn_io::registry::LocalRegistry;
use churn_io::store::LocalStore;
use churn_pipeline::features::data::{Dataset, load_file};
use tokio::sync::Mutex;

use super::activity::Activity;
use super::backend::{ActionDay, Backend, CustomerAction, Report};
use super::list::RankedList;
use crate::AppError;
use crate::champion::{ChampionCache, Loaded};
use crate::work::blocking;

/// A data directory served.
#[derive(Debug)]
pub struct LocalBackend {
    root: PathBuf,
    registry: LocalRegistry,
    store: LocalStore,
    champion: ChampionCache,
    refresh: Duration,
    day: Mutex<Option<(Option<Arc<Day>>, Instant)>>,
    activity: Activity<LocalStore>,
}

/// One prediction day in memory.
#[derive(Debug)]
struct Day {
    /// Where it was read from, to notice a newer one.
    folder: PathBuf,
    /// `as_of` of the snapshot.
    as_of: String,
    parts: Vec<Dataset>,
    /// Customer id to (part, row).
    index: HashMap<String, (u32, u32)>,
}

impl LocalBackend {
    /// The backend on `root`, looking for a new champion or day every `refresh`.
    pub fn new(root: impl Into<PathBuf>, refresh: Duration) -> Self {
        let root = root.into();
        Self {
            registry: LocalRegistry::new(root.join(layout::model_registry().as_str())),
            store: LocalStore::new(&root),
            activity: Activity::new(LocalStore::new(&root), refresh),
            champion: ChampionCache::new(refresh),
            refresh,
            root,
            day: Mutex::new(None),
        }
    }

    /// Loads what a request will need now, so the first one is fast and a broken
    /// directory is reported at start: the champion and the latest day.
    pub async fn warm(&self) -> Result<Option<String>, AppError> {
        self.champion().await?;
        let Some(day) = self.current_day().await? else {
            return Ok(None);
        };
        let ranked = self.ranked().await?;
        Ok(Some(format!(
            "{} customers of {} (features as of {})",
            ranked.as_deref().map_or(0, RankedList::len),
            ranked.as_deref().map_or("no day", |list| list.day.as_str()),
            day.as_of
        )))
    }

    async fn current_day(&self) -> Result<Option<Arc<Day>>, AppError> {
        let mut cached = self.day.lock().await;
        if let Some((day, checked)) = cached.as_ref()
            && checked.elapsed() < self.refresh
        {
            return Ok(day.clone());
        }
        let latest = latest_day(&self.root.join(layout::PREDICTIONS))?;
        let day = match (latest, cached.as_ref().and_then(|(day, _)| day.clone())) {
            (None, _) => None,
            (Some(folder), Some(day)) if day.folder == folder => Some(day),
            (Some(folder), _) => {
                let root = self.root.clone();
                let started = Instant::now();
                let day = blocking("loading the feature snapshot", move || {
                    load_day(&root, folder)
                })
                .await?;
                tracing::info!(
                    as_of = day.as_of,
                    customers = day.index.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "feature snapshot loaded"
                );
                Some(Arc::new(day))
            }
        };
        *cached = Some((day.clone(), Instant::now()));
        Ok(day)
    }
}

impl Backend for LocalBackend {
    async fn champion(&self) -> Result<Option<Arc<Loaded>>, AppError> {
        self.champion.get(&self.registry, &self.store).await
    }

    async fn customer(&self, customer_id: &str) -> Result<Option<OnlineRow>, AppError> {
        let Some(day) = self.current_day().await? else {
            return Ok(None);
        };
        Ok(day.index.get(customer_id).map(|&(part, row)| OnlineRow {
            customer_id: customer_id.to_owned(),
            as_of: day.as_of.clone(),
            values: churn_pipeline::features::row_as_json(&day.parts[part as usize], row as usize),
        }))
    }

    async fn ranked(&self) -> Result<Option<Arc<RankedList>>, AppError> {
        self.activity.ranked().await
    }

    async fn check_store(&self) -> Result<(), AppError> {
        let registry = self.root.join(layout::model_registry().as_str());
        tokio::fs::metadata(&registry).await.map_err(|e| {
            AppError::permanent(format!("{} cannot be read: {e}", registry.display()))
        })?;
        self.current_day().await.map(drop)
    }

    async fn actions(&self, customer_id: &str) -> Result<Vec<CustomerAction>, AppError> {
        self.activity.actions(customer_id).await
    }

    async fn action_days(&self) -> Result<Vec<ActionDay>, AppError> {
        self.activity.action_days().await
    }

    async fn monitoring(&self) -> Result<Option<serde_json::Value>, AppError> {
        self.activity.monitoring().await
    }

    async fn report(&self, which: Report) -> Result<Option<String>, AppError> {
        let champion = self.champion().await?;
        let version = champion.as_deref().map(|loaded| loaded.version.as_str());
        self.activity.report(which, version).await
    }
}

/// The newest `dt=<day>` folder of `predictions/` whose run finished (its
/// `summary.json`, written last, is there).
fn latest_day(predictions: &Path) -> Result<Option<PathBuf>, AppError> {
    let folders = churn_pipeline::store::subfolders(predictions, layout::DAY_PREFIX)
        .map_err(AppError::from)?;
    Ok(folders
        .into_iter()
        .rev()
        .find(|folder| folder.join(churn_pipeline::predict::SUMMARY_FILE).exists()))
}

fn load_day(root: &Path, folder: PathBuf) -> churn_pipeline::Result<Day> {
    let day = layout::parse_day_folder(&folder).unwrap_or_default();
    let date = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(|_| {
        churn_pipeline::PipelineError::bad_file(&folder, "not a dt=YYYY-MM-DD folder")
    })?;
    // The snapshot the day scored: the rows the Lambda puts in the online table.
    let features = root.join(layout::features_as_of(&date).as_str());
    let mut parts = Vec::new();
    for table in churn_pipeline::features::table_files(&features)? {
        parts.push(load_file(&features, &table, false)?);
    }
    let mut index = HashMap::new();
    for (part, dataset) in parts.iter().enumerate() {
        for (row, id) in dataset.ids.iter().enumerate() {
            index.insert(id.clone(), (part as u32, row as u32));
        }
    }
    Ok(Day {
        folder,
        as_of: day,
        parts,
        index,
    })
}
