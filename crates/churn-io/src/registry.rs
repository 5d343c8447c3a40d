//! The model registry: every trained version (metrics and lineage, recorded once) and the
//! champion pointer with its history. The pointer moves only by a conditional write that
//! names the champion the caller saw, so of two promotions (or rollbacks) at once at most
//! one wins; the other gets [`IoError::Conflict`] and can look again.
//!
//! Every move is recorded, append-only, in the same write that makes it: who, when, why,
//! and the metric ([`ChampionChange`]). A rollback undoes the latest promotion still in
//! force: promotions stack, rollbacks pop ([`lineage`]), so rolling back twice after
//! promoting B then C returns to B, then to A, and never back to C.
//!
//! Two implementations of [`Registry`] with the same semantics:
//! - [`ModelRegistry`], in AWS: a DynamoDB table with partition key `pk` (string), items
//!   `version#<id>` and `champion`, whose `history` list is written whole with the
//!   pointer by the conditional put that moves it (an item holds 400 KB: some 2,000
//!   moves);
//! - [`LocalRegistry`], a folder (`models/registry/` of a data directory): `versions/<id>.json`
//!   created exclusively, and the history as numbered files `history/<n>.json`, each linked
//!   into place exclusively, so the file number is the compare-and-swap.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::IoError;
use crate::dynamo::{Item, n, s};

/// A trained model version as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// The artifact's model id (content-derived, so the same training gives the same id).
    pub version: String,
    /// When it was trained (RFC 3339, from the caller: the registry reads no clock).
    pub trained_at: String,
    /// Where its artifact lives in the object store (`models/<version>/model.bin`).
    pub artifact_key: String,
    /// The selection metric (e.g. `roc_auc`) and its value on `holdout`.
    pub metric_name: String,
    pub metric: f64,
    /// Which holdout the metric was measured on: challengers are compared with the
    /// champion only on the same one.
    pub holdout: String,
    /// Hash of the training data, and the seed: the lineage.
    pub data_hash: String,
    pub seed: u64,
}

/// How the champion moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A version became the champion.
    Promote,
    /// The latest promotion in force was undone.
    Rollback,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Promote => "promote",
            ChangeKind::Rollback => "rollback",
        }
    }
}

/// One move of the champion pointer, as the history records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChampionChange {
    /// When (RFC 3339, from the caller).
    pub at: String,
    pub kind: ChangeKind,
    /// The champion after the move.
    pub version: String,
    /// The champion before it (`None`: there was none).
    pub previous: Option<String>,
    /// Who moved it (`churn-train`, a user's name).
    pub by: String,
    /// Why, in words (the promotion policy's verdict, a person's reason).
    pub reason: String,
    /// The new champion's metric and the holdout it was measured on.
    pub metric: f64,
    pub holdout: String,
}

/// Who moves the champion, when and why.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    pub at: &'a str,
    pub by: &'a str,
    pub reason: &'a str,
}

/// The current champion.
#[derive(Debug, Clone, PartialEq)]
pub struct Champion {
    pub version: String,
    pub metric: f64,
    pub holdout: String,
    pub promoted_at: String,
    /// Every move, oldest first (empty for a pointer written before histories were).
    pub history: Vec<ChampionChange>,
}

/// The champions in force after `history`, oldest first: a promotion pushes its version,
/// a rollback pops the latest. The last is the champion.
pub fn lineage(history: &[ChampionChange]) -> Vec<String> {
    let mut stack: Vec<String> = Vec::new();
    for change in history {
        match change.kind {
            ChangeKind::Promote => stack.push(change.version.clone()),
            ChangeKind::Rollback => {
                stack.pop();
                // A rollback names the champion it restored: keep the stack true to it
                // even when the history began after that champion's promotion.
                if stack.last() != Some(&change.version) {
                    stack.push(change.version.clone());
                }
            }
        }
    }
    stack
}

/// The version a rollback of `current` restores: the champion before its latest
/// promotion still in force.
pub fn rollback_target(history: &[ChampionChange], current: &str) -> Result<String, IoError> {
    let stack = lineage(history);
    match stack.as_slice() {
        [.., before, last] if last == current => Ok(before.clone()),
        _ => Err(IoError::Conflict(format!(
            "{current} is the first champion the history records: there is no earlier one to roll back to (promote a version instead)"
        ))),
    }
}

/// What a model registry offers, in DynamoDB or in a folder.
pub trait Registry {
    /// Records a version. Registering the same version again (a retried event) is a
    /// no-op; it never overwrites what was recorded first.
    fn register(&self, model: &ModelVersion) -> impl Future<Output = Result<(), IoError>> + Send;
    /// A recorded version, if any.
    fn version(
        &self,
        version: &str,
    ) -> impl Future<Output = Result<Option<ModelVersion>, IoError>> + Send;
    /// Every recorded version, oldest training first.
    fn versions(&self) -> impl Future<Output = Result<Vec<ModelVersion>, IoError>> + Send;
    /// The champion, if one was ever promoted.
    fn champion(&self) -> impl Future<Output = Result<Option<Champion>, IoError>> + Send;
    /// Makes `model` the champion, provided the champion is still `expected` (the one
    /// the caller compared against; `None`: there was none), and records the move.
    /// Otherwise [`IoError::Conflict`]: another move happened in between.
    fn promote(
        &self,
        model: &ModelVersion,
        expected: Option<&str>,
        why: Move<'_>,
    ) -> impl Future<Output = Result<ChampionChange, IoError>> + Send;
    /// Moves the champion back from `expected` to the one before its promotion (see
    /// [`rollback_target`]) and records the move; [`IoError::Conflict`] when the champion
    /// is no longer `expected` or nothing came before it.
    fn rollback(
        &self,
        expected: &str,
        why: Move<'_>,
    ) -> impl Future<Output = Result<ChampionChange, IoError>> + Send;
}

fn sorted(mut versions: Vec<ModelVersion>) -> Vec<ModelVersion> {
    versions.sort_by(|a, b| {
        a.trained_at
            .cmp(&b.trained_at)
            .then_with(|| a.version.cmp(&b.version))
    });
    versions
}

fn change(
    kind: ChangeKind,
    model: &ModelVersion,
    previous: Option<&str>,
    why: Move<'_>,
) -> ChampionChange {
    ChampionChange {
        at: why.at.to_owned(),
        kind,
        version: model.version.clone(),
        previous: previous.map(str::to_owned),
        by: why.by.to_owned(),
        reason: why.reason.to_owned(),
        metric: model.metric,
        holdout: model.holdout.clone(),
    }
}

fn lost(what: &str, expected: Option<&str>) -> IoError {
    IoError::Conflict(format!(
        "{what}: the champion is no longer {}; another promotion won",
        expected.unwrap_or("unset")
    ))
}

/// The model registry in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct ModelRegistry {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

const CHAMPION: &str = "champion";
const VERSION_PREFIX: &str = "version#";

impl ModelRegistry {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<HashMap<String, AttributeValue>>, IoError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| IoError::sdk("GetItem", self.target(key), e))?;
        Ok(output.item)
    }

    fn target(&self, key: &str) -> String {
        format!("table {} item '{key}'", self.table)
    }

    fn parse_version(
        &self,
        key: &str,
        attributes: &HashMap<String, AttributeValue>,
    ) -> Result<ModelVersion, IoError> {
        let item = Item {
            table: &self.table,
            key,
            attributes,
        };
        Ok(ModelVersion {
            version: item.string("version")?,
            trained_at: item.string("trained_at")?,
            artifact_key: item.string("artifact_key")?,
            metric_name: item.string("metric_name")?,
            metric: item.number("metric")?,
            holdout: item.string("holdout")?,
            data_hash: item.string("data_hash")?,
            seed: item.number("seed")?,
        })
    }

    fn parse_change(&self, value: &AttributeValue) -> Result<ChampionChange, IoError> {
        let corrupt = |message: &str| IoError::Corrupt {
            target: self.target(CHAMPION),
            message: format!("a history entry {message}"),
        };
        let AttributeValue::M(attributes) = value else {
            return Err(corrupt("is not a map"));
        };
        let item = Item {
            table: &self.table,
            key: CHAMPION,
            attributes,
        };
        let kind = match item.string("kind")?.as_str() {
            "promote" => ChangeKind::Promote,
            "rollback" => ChangeKind::Rollback,
            other => return Err(corrupt(&format!("has the unknown kind '{other}'"))),
        };
        Ok(ChampionChange {
            at: item.string("at")?,
            kind,
            version: item.string("version")?,
            previous: match attributes.get("previous") {
                Some(AttributeValue::S(previous)) => Some(previous.clone()),
                _ => None,
            },
            by: item.string("by")?,
            reason: item.string("reason")?,
            metric: item.number("metric")?,
            holdout: item.string("holdout")?,
        })
    }

    fn change_value(change: &ChampionChange) -> AttributeValue {
        let mut map = HashMap::from([
            ("at".to_owned(), s(&change.at)),
            ("kind".to_owned(), s(change.kind.as_str())),
            ("version".to_owned(), s(&change.version)),
            ("by".to_owned(), s(&change.by)),
            ("reason".to_owned(), s(&change.reason)),
            ("metric".to_owned(), n(change.metric)),
            ("holdout".to_owned(), s(&change.holdout)),
        ]);
        if let Some(previous) = &change.previous {
            map.insert("previous".to_owned(), s(previous));
        }
        AttributeValue::M(map)
    }

    /// Moves the pointer to `change.version` with `change` appended to the history of
    /// `seen` (the champion item as read: `None`, there was none), in one conditional
    /// write: it fails when the item is no longer what was read. (A put of the whole item,
    /// not an update: the emulator applies conditional updates non-atomically, and a put
    /// is what real DynamoDB and the emulator both make atomic.)
    async fn move_pointer(
        &self,
        change: &ChampionChange,
        seen: Option<&Champion>,
    ) -> Result<(), IoError> {
        let mut history: Vec<AttributeValue> = seen
            .iter()
            .flat_map(|c| &c.history)
            .map(Self::change_value)
            .collect();
        history.push(Self::change_value(change));
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(CHAMPION))
            .item("version", s(&change.version))
            .item("metric", n(change.metric))
            .item("holdout", s(&change.holdout))
            .item("promoted_at", s(&change.at))
            .item("history", AttributeValue::L(history));
        request = match seen {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(champion) => request
                .condition_expression("#version = :version AND #at = :at")
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#at", "promoted_at")
                .expression_attribute_values(":version", s(&champion.version))
                .expression_attribute_values(":at", s(&champion.promoted_at)),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) if crate::error::condition_failed(&error) => Err(lost(
                &format!("{} {}", change.kind.as_str(), change.version),
                seen.map(|c| c.version.as_str()),
            )),
            Err(error) => Err(IoError::sdk("PutItem", self.target(CHAMPION), error)),
        }
    }
}

impl Registry for ModelRegistry {
    async fn register(&self, model: &ModelVersion) -> Result<(), IoError> {
        let key = format!("{VERSION_PREFIX}{}", model.version);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&key))
            .item("version", s(&model.version))
            .item("trained_at", s(&model.trained_at))
            .item("artifact_key", s(&model.artifact_key))
            .item("metric_name", s(&model.metric_name))
            .item("metric", n(model.metric))
            .item("holdout", s(&model.holdout))
            .item("data_hash", s(&model.data_hash))
            .item("seed", n(model.seed))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if crate::error::condition_failed(&error) => Ok(()),
            Err(error) => Err(IoError::sdk("PutItem", self.target(&key), error)),
        }
    }

    async fn version(&self, version: &str) -> Result<Option<ModelVersion>, IoError> {
        let key = format!("{VERSION_PREFIX}{version}");
        match self.get(&key).await? {
            Some(attributes) => Ok(Some(self.parse_version(&key, &attributes)?)),
            None => Ok(None),
        }
    }

    async fn versions(&self) -> Result<Vec<ModelVersion>, IoError> {
        let mut versions = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :prefix)")
                .expression_attribute_values(":prefix", s(VERSION_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| IoError::sdk("Scan", format!("table {}", self.table), e))?;
            for attributes in output.items() {
                let key = match attributes.get("pk") {
                    Some(AttributeValue::S(key)) => key.clone(),
                    _ => String::new(),
                };
                versions.push(self.parse_version(&key, attributes)?);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(sorted(versions))
    }

    async fn champion(&self) -> Result<Option<Champion>, IoError> {
        let Some(attributes) = self.get(CHAMPION).await? else {
            return Ok(None);
        };
        let item = Item {
            table: &self.table,
            key: CHAMPION,
            attributes: &attributes,
        };
        let history = match attributes.get("history") {
            Some(AttributeValue::L(entries)) => entries
                .iter()
                .map(|entry| self.parse_change(entry))
                .collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        Ok(Some(Champion {
            version: item.string("version")?,
            metric: item.number("metric")?,
            holdout: item.string("holdout")?,
            promoted_at: item.string("promoted_at")?,
            history,
        }))
    }

    async fn promote(
        &self,
        model: &ModelVersion,
        expected: Option<&str>,
        why: Move<'_>,
    ) -> Result<ChampionChange, IoError> {
        let seen = self.champion().await?;
        if seen.as_ref().map(|c| c.version.as_str()) != expected {
            return Err(lost(&format!("promoting {}", model.version), expected));
        }
        let change = change(ChangeKind::Promote, model, expected, why);
        self.move_pointer(&change, seen.as_ref()).await?;
        Ok(change)
    }

    async fn rollback(&self, expected: &str, why: Move<'_>) -> Result<ChampionChange, IoError> {
        let champion = self.champion().await?.ok_or_else(|| {
            IoError::Conflict("no model has been promoted: nothing to roll back".into())
        })?;
        if champion.version != expected {
            return Err(lost(&format!("rolling back {expected}"), Some(expected)));
        }
        let target = rollback_target(&champion.history, expected)?;
        let model = self
            .version(&target)
            .await?
            .ok_or_else(|| IoError::Corrupt {
                target: self.target(&format!("{VERSION_PREFIX}{target}")),
                message: format!("the earlier champion {target} has no registry entry"),
            })?;
        let change = change(ChangeKind::Rollback, &model, Some(expected), why);
        self.move_pointer(&change, Some(&champion)).await?;
        Ok(change)
    }
}

/// The model registry in a folder, for runs without AWS (`churn models --dir`).
#[derive(Debug, Clone)]
pub struct LocalRegistry {
    dir: PathBuf,
}

impl LocalRegistry {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    fn versions_dir(&self) -> PathBuf {
        self.dir.join("versions")
    }

    fn history_dir(&self) -> PathBuf {
        self.dir.join("history")
    }

    fn local(path: &Path, source: std::io::Error) -> IoError {
        IoError::Local {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Writes `bytes` to `path` only if nothing is there: into a temporary file first,
    /// then linked into place (a link never replaces a file), so a reader never sees it
    /// half-written. `Ok(false)`: the path was taken.
    fn create_exclusive(path: &Path, bytes: &[u8]) -> Result<bool, IoError> {
        let parent = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Self::local(parent, e))?;
        let temporary = parent.join(format!(
            ".{}.{}.{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&temporary, bytes).map_err(|e| Self::local(&temporary, e))?;
        let linked = std::fs::hard_link(&temporary, path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => Ok(true),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(error) => Err(Self::local(path, error)),
        }
    }

    fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, IoError> {
        let bytes = std::fs::read(path).map_err(|e| Self::local(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| IoError::Corrupt {
            target: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The history, oldest first: the files `history/<n>.json` in number order.
    fn history(&self) -> Result<Vec<ChampionChange>, IoError> {
        let dir = self.history_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Self::local(&dir, error)),
        };
        let mut numbered: Vec<(u64, PathBuf)> = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Self::local(&dir, e))?.path();
            if let Some(number) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            {
                numbered.push((number, path));
            }
        }
        numbered.sort();
        numbered
            .iter()
            .map(|(_, path)| Self::read_json(path))
            .collect()
    }

    /// Appends `change` as entry number `seen + 1`, which fails when another writer took
    /// that number since the caller read `seen` entries.
    fn append(
        &self,
        seen: usize,
        change: &ChampionChange,
        expected: Option<&str>,
    ) -> Result<(), IoError> {
        let path = self.history_dir().join(format!("{:08}.json", seen + 1));
        let bytes = serde_json::to_vec_pretty(change).map_err(|e| IoError::Corrupt {
            target: path.display().to_string(),
            message: e.to_string(),
        })?;
        if Self::create_exclusive(&path, &bytes)? {
            Ok(())
        } else {
            Err(lost(
                &format!("{} {}", change.kind.as_str(), change.version),
                expected,
            ))
        }
    }
}

fn champion_of(history: Vec<ChampionChange>) -> Option<Champion> {
    let last = history.last()?.clone();
    Some(Champion {
        version: last.version,
        metric: last.metric,
        holdout: last.holdout,
        promoted_at: last.at,
        history,
    })
}

impl Registry for LocalRegistry {
    async fn register(&self, model: &ModelVersion) -> Result<(), IoError> {
        let path = self.versions_dir().join(format!("{}.json", model.version));
        let bytes = serde_json::to_vec_pretty(model).map_err(|e| IoError::Corrupt {
            target: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::create_exclusive(&path, &bytes).map(|_| ())
    }

    async fn version(&self, version: &str) -> Result<Option<ModelVersion>, IoError> {
        let path = self.versions_dir().join(format!("{version}.json"));
        if !path.exists() {
            return Ok(None);
        }
        Self::read_json(&path).map(Some)
    }

    async fn versions(&self) -> Result<Vec<ModelVersion>, IoError> {
        let dir = self.versions_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(Self::local(&dir, error)),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| Self::local(&dir, e))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".json") && !name.starts_with('.') {
                versions.push(Self::read_json(&path)?);
            }
        }
        Ok(sorted(versions))
    }

    async fn champion(&self) -> Result<Option<Champion>, IoError> {
        Ok(champion_of(self.history()?))
    }

    async fn promote(
        &self,
        model: &ModelVersion,
        expected: Option<&str>,
        why: Move<'_>,
    ) -> Result<ChampionChange, IoError> {
        let history = self.history()?;
        let current = history.last().map(|c| c.version.as_str());
        if current != expected {
            return Err(lost(&format!("promoting {}", model.version), expected));
        }
        let change = change(ChangeKind::Promote, model, expected, why);
        self.append(history.len(), &change, expected)?;
        Ok(change)
    }

    async fn rollback(&self, expected: &str, why: Move<'_>) -> Result<ChampionChange, IoError> {
        let history = self.history()?;
        match history.last() {
            None => {
                return Err(IoError::Conflict(
                    "no model has been promoted: nothing to roll back".into(),
                ));
            }
            Some(last) if last.version != expected => {
                return Err(lost(&format!("rolling back {expected}"), Some(expected)));
            }
            Some(_) => {}
        }
        let target = rollback_target(&history, expected)?;
        let model = self
            .version(&target)
            .await?
            .ok_or_else(|| IoError::Corrupt {
                target: self
                    .versions_dir()
                    .join(format!("{target}.json"))
                    .display()
                    .to_string(),
                message: format!("the earlier champion {target} has no registry entry"),
            })?;
        let change = change(ChangeKind::Rollback, &model, Some(expected), why);
        self.append(history.len(), &change, Some(expected))?;
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, metric: f64, trained_at: &str) -> ModelVersion {
        ModelVersion {
            version: id.into(),
            trained_at: trained_at.into(),
            artifact_key: format!("models/{id}/model.bin"),
            metric_name: "roc_auc".into(),
            metric,
            holdout: "h".into(),
            data_hash: "d".into(),
            seed: 42,
        }
    }

    fn why(at: &str) -> Move<'_> {
        Move {
            at,
            by: "test",
            reason: "because",
        }
    }

    #[tokio::test]
    async fn the_local_registry_promotes_rolls_back_and_keeps_every_move() {
        let dir = tempfile::tempdir().expect("dir");
        let registry = LocalRegistry::new(dir.path());
        let (a, b, c) = (
            version("a", 0.80, "2026-11-01T00:00:00Z"),
            version("b", 0.82, "2026-11-02T00:00:00Z"),
            version("c", 0.83, "2026-11-03T00:00:00Z"),
        );
        for model in [&c, &a, &b] {
            registry.register(model).await.expect("register");
        }
        // Registered once: a second registration with other numbers changes nothing.
        registry
            .register(&version("a", 0.1, "2026-11-01T00:00:00Z"))
            .await
            .expect("again");
        assert_eq!(registry.version("a").await.expect("get"), Some(a.clone()));
        let listed: Vec<String> = registry
            .versions()
            .await
            .expect("list")
            .into_iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(listed, ["a", "b", "c"], "oldest training first");
        assert_eq!(registry.champion().await.expect("champion"), None);
        let nothing = registry.rollback("a", why("t0")).await.expect_err("none");
        assert!(
            nothing.to_string().contains("nothing to roll back"),
            "{nothing}"
        );

        registry.promote(&a, None, why("t1")).await.expect("a");
        registry.promote(&b, Some("a"), why("t2")).await.expect("b");
        registry.promote(&c, Some("b"), why("t3")).await.expect("c");
        // A stale expectation loses.
        let stale = registry.promote(&a, Some("b"), why("t4")).await;
        assert!(matches!(stale, Err(IoError::Conflict(_))), "{stale:?}");
        // Rollbacks pop: c -> b -> a, then there is nothing before a.
        let back = registry.rollback("c", why("t5")).await.expect("to b");
        assert_eq!(
            (back.version.as_str(), back.previous.as_deref()),
            ("b", Some("c"))
        );
        let champion = registry.champion().await.expect("read").expect("set");
        assert_eq!((champion.version.as_str(), champion.metric), ("b", 0.82));
        registry.rollback("b", why("t6")).await.expect("to a");
        let first = registry.rollback("a", why("t7")).await.expect_err("first");
        assert!(first.to_string().contains("no earlier one"), "{first}");
        let champion = registry.champion().await.expect("read").expect("set");
        assert_eq!(champion.version, "a");
        let kinds: Vec<(ChangeKind, &str)> = champion
            .history
            .iter()
            .map(|c| (c.kind, c.version.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (ChangeKind::Promote, "a"),
                (ChangeKind::Promote, "b"),
                (ChangeKind::Promote, "c"),
                (ChangeKind::Rollback, "b"),
                (ChangeKind::Rollback, "a"),
            ]
        );
        assert!(
            champion
                .history
                .iter()
                .all(|c| c.by == "test" && c.reason == "because")
        );
    }

    #[test]
    fn concurrent_local_rollbacks_leave_exactly_one_champion() {
        let dir = tempfile::tempdir().expect("dir");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let registry = LocalRegistry::new(dir.path());
        runtime.block_on(async {
            let (a, b) = (
                version("a", 0.8, "2026-11-01T00:00:00Z"),
                version("b", 0.9, "2026-11-02T00:00:00Z"),
            );
            registry.register(&a).await.expect("a");
            registry.register(&b).await.expect("b");
            registry.promote(&a, None, why("t1")).await.expect("a");
            registry.promote(&b, Some("a"), why("t2")).await.expect("b");
        });
        // Eight threads roll back b at once: one wins, seven are told another move won.
        let results: Vec<Result<ChampionChange, IoError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let registry = registry.clone();
                    scope.spawn(move || {
                        tokio::runtime::Builder::new_current_thread()
                            .build()
                            .expect("runtime")
                            .block_on(registry.rollback("b", why("t3")))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, IoError::Conflict(_)))
        );
        let champion = runtime
            .block_on(registry.champion())
            .expect("read")
            .expect("set");
        assert_eq!(champion.version, "a");
        assert_eq!(champion.history.len(), 3, "one rollback recorded");
    }

    #[test]
    fn lineage_stacks_promotions_and_pops_rollbacks() {
        let entry = |kind, version: &str| ChampionChange {
            at: String::new(),
            kind,
            version: version.into(),
            previous: None,
            by: String::new(),
            reason: String::new(),
            metric: 0.0,
            holdout: String::new(),
        };
        use ChangeKind::{Promote, Rollback};
        let history = [
            entry(Promote, "a"),
            entry(Promote, "b"),
            entry(Rollback, "a"),
            entry(Promote, "c"),
        ];
        assert_eq!(lineage(&history), ["a", "c"]);
        assert_eq!(rollback_target(&history, "c").expect("target"), "a");
        assert!(rollback_target(&history, "b").is_err(), "not the champion");
        assert!(rollback_target(&history[..1], "a").is_err(), "the first");
    }
}
