//! The storage layout: every key of the data directory and the bucket, built here and
//! nowhere else. The same keys are used on S3 and in a local directory
//! (`Key::local` joins one under a root), so the CLI, the application layer and the
//! Lambda functions can never disagree about where something lives.
//!
//! ```text
//! raw/<source>/...                         uploads (raw_source)
//! curated/_current.json                    the published dataset version every reader follows
//! curated/v=<version>/<source>/data.parquet   validated rows of a version (curated)
//! quarantine/v=<version>/<source>.jsonl    its rejected rows (quarantine)
//! reports/v=<version>/ingest-report.json   its accounting (ingest_report)
//! quarantine/objects/<raw key>             raw objects refused whole (quarantined_object)
//! .ingest/                                 a running ingest's lock and staging (local only)
//! features/as_of=<day>/                    a feature table as of a day (features_as_of)
//! features/table=<name>/                   a feature table from a flat table (features_table)
//! models/<version>/                        a model folder (model)
//! predictions/dt=<day>/[shard=<part>/]     a day's scores and customer list (predictions, prediction_shard)
//! actions/dt=<day>/                        a day's retention plan and outcomes (actions)
//! actions/ledger/                          the local action ledger (action_ledger)
//! registry/                                the local model registry (model_registry)
//! config/playbook.toml, config/connections.toml   the deployed playbook and connections
//! ```
//!
//! It builds strings only: it reads no files, no settings and no clock, so it lives in
//! the pure core, below the pipeline and the adapters: hosts without the pipeline (the
//! scoring API's Lambda) read the same keys. A source is named by its folder
//! (`churn_pipeline::contract::Source` is one).

use std::fmt;
use std::path::{Path, PathBuf};

/// A storage key (or the prefix of a folder of keys), without a leading or trailing
/// slash: `predictions/dt=2026-11-01`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// The key of `name` inside this folder.
    pub fn join(&self, name: &str) -> Key {
        Key(format!("{}/{}", self.0, name.trim_start_matches('/')))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The folder as a listing prefix (with its trailing slash), so that
    /// `predictions/dt=2026-11-01` does not also match `predictions/dt=2026-11-010`.
    pub fn prefix(&self) -> String {
        format!("{}/", self.0)
    }

    /// The path of this key in a local directory holding the same layout.
    pub fn local(&self, root: &Path) -> PathBuf {
        root.join(&self.0)
    }

    /// The last part of the key (a file or folder name).
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A calendar day as it appears in keys (`2026-11-01`): chrono's dates and the
/// playbook's `Day` both print that way.
pub trait DayKey: fmt::Display {}
#[cfg(feature = "chrono")]
impl DayKey for chrono::NaiveDate {}
impl DayKey for crate::playbook::Day {}

/// `raw/`.
pub const RAW: &str = "raw";
/// `curated/`.
pub const CURATED: &str = "curated";
/// `quarantine/`.
pub const QUARANTINE: &str = "quarantine";
/// `reports/`.
pub const REPORTS: &str = "reports";
/// `features/`.
pub const FEATURES: &str = "features";
/// `models/`.
pub const MODELS: &str = "models";
/// `predictions/`.
pub const PREDICTIONS: &str = "predictions";
/// `actions/`.
pub const ACTIONS: &str = "actions";
/// `monitoring/`.
pub const MONITORING: &str = "monitoring";
/// `registry/`.
pub const REGISTRY: &str = "registry";

/// The file of a curated source inside its folder.
pub const CURATED_FILE: &str = "data.parquet";
/// The ingest's report inside `reports/`.
pub const INGEST_REPORT_FILE: &str = "ingest-report.json";
/// What the generator wrote, inside `raw/`.
pub const GENERATOR_MANIFEST_FILE: &str = "_generator.json";
/// The published dataset version, inside `curated/`.
pub const DATASET_POINTER_FILE: &str = "_current.json";

/// Prefix of a day's prediction folder (`dt=<day>`), and of a shard inside it.
pub const DAY_PREFIX: &str = "dt=";
/// Prefix of a feature snapshot's folder (`as_of=<day>`).
pub const AS_OF_PREFIX: &str = "as_of=";
const TABLE_PREFIX: &str = "table=";
const VERSION_PREFIX: &str = "v=";
/// A shard's folder inside a day's prediction folder.
pub const SHARD_PREFIX: &str = "shard=";
/// A challenger's folder inside a day's prediction folder: its scores in shadow.
pub const CHALLENGER_PREFIX: &str = "challenger=";

/// A top-level folder.
pub fn root(folder: &str) -> Key {
    Key(folder.to_owned())
}

/// `raw/<source>`.
pub fn raw_source(source: impl AsRef<str>) -> Key {
    root(RAW).join(source.as_ref())
}

/// `raw/_generator.json`.
pub fn generator_manifest() -> Key {
    root(RAW).join(GENERATOR_MANIFEST_FILE)
}

/// `<folder>/v=<version>`: a top-level folder's part of a dataset version.
pub fn version_folder(folder: &str, version: &str) -> Key {
    root(folder).join(&format!("{VERSION_PREFIX}{version}"))
}

/// The top-level folders a dataset version has a part in.
pub const DATASET_FOLDERS: [&str; 3] = [CURATED, QUARANTINE, REPORTS];

/// The version of a `<folder>/v=<version>` folder name.
pub fn parse_version(name: &str) -> Option<&str> {
    name.strip_prefix(VERSION_PREFIX)
}

/// `curated/_current.json`: which dataset version is published. Written last, whole, so
/// a reader sees one version or the one before, never a mix.
pub fn dataset_pointer() -> Key {
    root(CURATED).join(DATASET_POINTER_FILE)
}

/// `curated/v=<version>/<source>/data.parquet`.
pub fn curated(version: &str, source: impl AsRef<str>) -> Key {
    version_folder(CURATED, version)
        .join(source.as_ref())
        .join(CURATED_FILE)
}

/// `quarantine/v=<version>/<source>.jsonl`.
pub fn quarantine(version: &str, source: impl AsRef<str>) -> Key {
    version_folder(QUARANTINE, version).join(&format!("{}.jsonl", source.as_ref()))
}

/// `.ingest`: where a running ingest keeps its lock and stages its outputs (a local
/// directory's; on S3 the ledger holds the lease).
pub const INGEST_WORK: &str = ".ingest";

/// The version name a run writes its outputs under before it knows their hash.
pub const STAGED_VERSION: &str = "staged";

/// `.ingest/lock`.
pub fn ingest_lock() -> Key {
    root(INGEST_WORK).join("lock")
}

/// `.ingest/run-<id>`: a run's staging folder, laid out like the data directory.
pub fn ingest_staging(run: &str) -> Key {
    root(INGEST_WORK).join(&format!("run-{run}"))
}

/// `quarantine/objects/<raw key>`: a raw object refused as a whole, set aside.
pub fn quarantined_object(raw_key: &str) -> Key {
    root(QUARANTINE).join("objects").join(raw_key)
}

/// `quarantine/objects/<raw key>.reason.txt`: why it was set aside.
pub fn quarantined_object_reason(raw_key: &str) -> Key {
    root(QUARANTINE)
        .join("objects")
        .join(&format!("{raw_key}.reason.txt"))
}

/// `reports/<name>`.
pub fn report(name: &str) -> Key {
    root(REPORTS).join(name)
}

/// `reports/v=<version>/ingest-report.json`.
pub fn ingest_report(version: &str) -> Key {
    version_folder(REPORTS, version).join(INGEST_REPORT_FILE)
}

/// `features/as_of=<day>`.
pub fn features_as_of(day: &impl DayKey) -> Key {
    root(FEATURES).join(&format!("{AS_OF_PREFIX}{day}"))
}

/// `features/table=<name>`.
pub fn features_table(name: &str) -> Key {
    root(FEATURES).join(&format!("{TABLE_PREFIX}{name}"))
}

/// `models/<version>`.
pub fn model(version: &str) -> Key {
    root(MODELS).join(version)
}

/// A model folder's artifact in the binary encoding, which every scorer loads.
pub const MODEL_BINARY_FILE: &str = "model.bin";
/// A model folder's evaluation report (`churn evaluate`).
pub const MODEL_REPORT_FILE: &str = "report.html";

/// `models/<version>/model.bin`.
pub fn model_binary(version: &str) -> Key {
    model(version).join(MODEL_BINARY_FILE)
}

/// `predictions/dt=<day>`.
pub fn predictions(day: &impl DayKey) -> Key {
    root(PREDICTIONS).join(&format!("{DAY_PREFIX}{day}"))
}

/// `predictions/dt=<day>/shard=<part>`: one part of a day scored by the Distributed Map.
pub fn prediction_shard(day: &impl DayKey, part: &str) -> Key {
    predictions(day).join(&format!("{SHARD_PREFIX}{part}"))
}

/// `predictions/dt=<day>/challenger=<model>`: the day scored in shadow by a challenger.
pub fn prediction_challenger(day: &impl DayKey, model: &str) -> Key {
    predictions(day).join(&format!("{CHALLENGER_PREFIX}{model}"))
}

/// `actions/dt=<day>`.
pub fn actions(day: &impl DayKey) -> Key {
    root(ACTIONS).join(&format!("{DAY_PREFIX}{day}"))
}

/// In `actions/dt=<day>/`: the plan's header ([`crate::playbook::PlanHeader`]),
/// written last of the plan.
pub const PLAN_FILE: &str = "plan.json";
/// In `actions/dt=<day>/`: the planned actions, one per line.
pub const ACTIONS_FILE: &str = "plan.jsonl";
/// In `actions/dt=<day>/`: the customers not acted on, with why (the controls among them).
pub const SKIPPED_FILE: &str = "skipped.jsonl";
/// In `actions/dt=<day>/`: what became of every action of a run that sent.
pub const OUTCOMES_FILE: &str = "outcomes.jsonl";
/// In `actions/dt=<day>/`: a sending run's totals, written last.
pub const SUMMARY_FILE: &str = "summary.json";

/// `monitoring/dt=<day>`: the monitor's figures and report of the predictions of a day.
pub fn monitoring(day: &impl DayKey) -> Key {
    root(MONITORING).join(&format!("{DAY_PREFIX}{day}"))
}

/// In `monitoring/dt=<day>/`: the monitor's figures.
pub const MONITOR_FILE: &str = "monitor.json";
/// In `monitoring/dt=<day>/`: the monitor's report, written last.
pub const MONITOR_REPORT_FILE: &str = "report.html";
/// In `predictions/dt=<day>/` (and each shard's folder): the run's summary, written last.
pub const PREDICTIONS_SUMMARY_FILE: &str = "summary.json";
/// In `predictions/dt=<day>/` (or in each shard's folder): every customer scored, one
/// [`crate::listing::Listed`] a line, for hosts that read no Parquet.
pub const CUSTOMER_LIST_FILE: &str = "customers.jsonl";

/// `actions/ledger`: the local action ledger (in AWS it is a DynamoDB table).
pub fn action_ledger() -> Key {
    root(ACTIONS).join("ledger")
}

/// `registry`: the local model registry, versions and the champion's history (in AWS it
/// is a DynamoDB table). Beside `models/`, not in it: every folder there is a model.
pub fn model_registry() -> Key {
    root(REGISTRY)
}

/// `config/playbook.toml`: where the deployed playbook is read from by default.
pub const PLAYBOOK: &str = "config/playbook.toml";
/// `config/connections.toml`: where the deployed connections are read from by default.
pub const CONNECTIONS: &str = "config/connections.toml";

/// The day of a `<folder>/dt=<day>/...` key (`predictions`, `actions`, `monitoring`),
/// and what follows it.
pub fn parse_day<'k>(folder: &str, key: &'k str) -> Option<(&'k str, &'k str)> {
    let rest = key
        .strip_prefix(folder)?
        .strip_prefix('/')?
        .strip_prefix(DAY_PREFIX)?;
    Some(rest.split_once('/').unwrap_or((rest, "")))
}

/// The day of a `predictions/dt=<day>/...` key, and what follows it.
pub fn parse_predictions(key: &str) -> Option<(&str, &str)> {
    parse_day(PREDICTIONS, key)
}

/// The day of a `features/as_of=<day>/...` key (or of a folder named `as_of=<day>`).
pub fn parse_as_of(key: &str) -> Option<&str> {
    key.split('/')
        .find_map(|part| part.strip_prefix(AS_OF_PREFIX))
}

/// The day of a folder named `dt=<day>` anywhere in a path.
pub fn parse_day_folder(path: &Path) -> Option<String> {
    path.components().rev().find_map(|part| {
        part.as_os_str()
            .to_str()?
            .strip_prefix(DAY_PREFIX)
            .map(str::to_owned)
    })
}

/// Whether a key is a shard's (`.../shard=<part>/...`).
pub fn is_shard(key: &str) -> bool {
    key.split('/').any(|part| part.starts_with(SHARD_PREFIX))
}

/// The key of a local path under `root`, with `/` separators; `None` outside it.
pub fn key_of(root: &Path, path: &Path) -> Option<String> {
    let relative = path.strip_prefix(root).ok()?;
    Some(relative.to_string_lossy().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> crate::playbook::Day {
        crate::playbook::Day::parse("2026-11-01").expect("date")
    }

    #[test]
    fn keys_follow_the_documented_layout() {
        assert_eq!(
            curated("3f2a", "accounts").as_str(),
            "curated/v=3f2a/accounts/data.parquet"
        );
        assert_eq!(
            quarantine("3f2a", "tickets").as_str(),
            "quarantine/v=3f2a/tickets.jsonl"
        );
        assert_eq!(
            ingest_report("3f2a").as_str(),
            "reports/v=3f2a/ingest-report.json"
        );
        assert_eq!(dataset_pointer().as_str(), "curated/_current.json");
        assert_eq!(parse_version("v=3f2a"), Some("3f2a"));
        assert_eq!(features_as_of(&day()).as_str(), "features/as_of=2026-11-01");
        assert_eq!(model_binary("gbdt-1").as_str(), "models/gbdt-1/model.bin");
        assert_eq!(predictions(&day()).prefix(), "predictions/dt=2026-11-01/");
        assert_eq!(
            prediction_shard(&day(), "part-00001").as_str(),
            "predictions/dt=2026-11-01/shard=part-00001"
        );
        assert_eq!(actions(&day()).as_str(), "actions/dt=2026-11-01");
        assert_eq!(
            quarantined_object_reason("raw/accounts/x.csv").as_str(),
            "quarantine/objects/raw/accounts/x.csv.reason.txt"
        );
    }

    #[test]
    fn keys_parse_back() {
        let key = predictions(&day()).join("predictions.parquet");
        assert_eq!(
            parse_predictions(key.as_str()),
            Some(("2026-11-01", "predictions.parquet"))
        );
        assert_eq!(
            parse_predictions("predictions/dt=2026-11-01"),
            Some(("2026-11-01", ""))
        );
        assert_eq!(parse_predictions("features/as_of=2026-11-01/x"), None);
        let part = features_as_of(&day()).join("part-00000.parquet");
        assert_eq!(parse_as_of(part.as_str()), Some("2026-11-01"));
        assert!(is_shard(prediction_shard(&day(), "p").as_str()));
        assert!(!is_shard(predictions(&day()).as_str()));
        assert_eq!(
            parse_day_folder(Path::new("/x/predictions/dt=2026-11-01")),
            Some("2026-11-01".into())
        );
        assert_eq!(
            key_of(Path::new("/r"), Path::new("/r/a/b")),
            Some("a/b".into())
        );
    }
}
