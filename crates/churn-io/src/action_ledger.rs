//! The action ledger: every retention action's key `(day, action, customer)` is claimed
//! with a conditional write before it is sent and marked done after, so a re-run of a
//! day, a Lambda retry or a second delivery never sends it twice; and the day each
//! customer last got an action of each cool-down group, for the playbook's cool-downs.
//!
//! Two implementations with the same semantics: DynamoDB in AWS (the platform's ledger
//! table, keys `action#...` and `last#...`), and a folder of small files locally, where
//! the conditional write is an exclusive create and a takeover an atomic rename.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use churn_core::playbook::{ContactHistory, Day};
use serde::{Deserialize, Serialize};

use crate::IoError;
use crate::ledger::{Claim, Ledger};

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionClaim {
    /// Nobody has sent it: send it.
    Fresh,
    /// A run that died held it: it may or may not have been sent.
    Resumed,
    /// Done before, with that outcome.
    Done { outcome: String },
    /// Another run is sending it now.
    Busy { lease_until: i64 },
}

/// The ledger a dispatcher needs.
pub trait ActionLedger {
    fn claim(
        &self,
        key: &str,
        now: i64,
    ) -> impl Future<Output = Result<ActionClaim, IoError>> + Send;
    fn finish(
        &self,
        key: &str,
        now: i64,
        outcome: &str,
    ) -> impl Future<Output = Result<(), IoError>> + Send;
    fn release(&self, key: &str) -> impl Future<Output = Result<(), IoError>> + Send;
    /// Records that `customer` got an action of `group` on `day` (a later day wins).
    fn record_sent(
        &self,
        customer: &str,
        group: &str,
        day: Day,
    ) -> impl Future<Output = Result<(), IoError>> + Send;
    /// The last days of these `(customer, group)` pairs, for the planner.
    fn history(
        &self,
        pairs: &[(String, String)],
    ) -> impl Future<Output = Result<ContactHistory, IoError>> + Send;
}

/// How long a claim protects a send in flight: longer than one batch takes with its
/// retries, shorter than the gap before a platform retry.
pub const ACTION_LEASE_SECONDS: i64 = 300;

/// The action ledger in the platform's DynamoDB ledger table.
#[derive(Debug, Clone)]
pub struct DynamoActionLedger {
    ledger: Ledger,
}

const BATCH_GET: usize = 100;

impl DynamoActionLedger {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        lease_seconds: i64,
    ) -> Self {
        Self {
            ledger: Ledger::new(client, table, lease_seconds),
        }
    }

    fn last_key(customer: &str, group: &str) -> String {
        format!("last#{group}#{customer}")
    }
}

impl ActionLedger for DynamoActionLedger {
    async fn claim(&self, key: &str, now: i64) -> Result<ActionClaim, IoError> {
        Ok(
            match self.ledger.claim(&format!("action#{key}"), now).await? {
                Claim::Acquired => ActionClaim::Fresh,
                Claim::TakenOver => ActionClaim::Resumed,
                Claim::Done { outcome } => ActionClaim::Done { outcome },
                Claim::Busy { lease_until } => ActionClaim::Busy { lease_until },
            },
        )
    }

    async fn finish(&self, key: &str, now: i64, outcome: &str) -> Result<(), IoError> {
        self.ledger
            .finish(&format!("action#{key}"), now, outcome)
            .await
    }

    async fn release(&self, key: &str) -> Result<(), IoError> {
        self.ledger.release(&format!("action#{key}")).await
    }

    async fn record_sent(&self, customer: &str, group: &str, day: Day) -> Result<(), IoError> {
        let (client, table) = self.ledger.table();
        let key = Self::last_key(customer, group);
        let result = client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(key.clone()))
            .item("day", AttributeValue::S(day.to_string()))
            // Days as YYYY-MM-DD compare as text.
            .condition_expression("attribute_not_exists(pk) OR #day < :day")
            .expression_attribute_names("#day", "day")
            .expression_attribute_values(":day", AttributeValue::S(day.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // A later day is already recorded.
            Err(error) if crate::error::condition_failed(&error) => Ok(()),
            Err(error) => Err(IoError::sdk(
                "PutItem",
                format!("table {table} item '{key}'"),
                error,
            )),
        }
    }

    async fn history(&self, pairs: &[(String, String)]) -> Result<ContactHistory, IoError> {
        let (client, table) = self.ledger.table();
        let mut history = ContactHistory::default();
        let mut keys: Vec<(String, (String, String))> = pairs
            .iter()
            .map(|(customer, group)| {
                (
                    Self::last_key(customer, group),
                    (customer.clone(), group.clone()),
                )
            })
            .collect();
        keys.sort();
        keys.dedup();
        let lookup: std::collections::HashMap<String, (String, String)> =
            keys.iter().cloned().collect();
        for chunk in keys.chunks(BATCH_GET) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk
                        .iter()
                        .map(|(key, _)| [("pk".to_owned(), AttributeValue::S(key.clone()))].into())
                        .collect(),
                ))
                .projection_expression("pk, #day")
                .expression_attribute_names("#day", "day")
                .build()
                .map_err(|e| IoError::config("BatchGetItem", e.to_string()))?;
            for attempt in 0..8u32 {
                let output = client
                    .batch_get_item()
                    .request_items(table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| IoError::sdk("BatchGetItem", format!("table {table}"), e))?;
                for item in output
                    .responses()
                    .and_then(|r| r.get(table))
                    .into_iter()
                    .flatten()
                {
                    let (Some(AttributeValue::S(pk)), Some(AttributeValue::S(day))) =
                        (item.get("pk"), item.get("day"))
                    else {
                        continue;
                    };
                    if let (Some((customer, group)), Some(day)) = (lookup.get(pk), Day::parse(day))
                    {
                        history.record(customer, group, day);
                    }
                }
                match output.unprocessed_keys().and_then(|u| u.get(table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        pending = rest.clone();
                        tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(history)
    }
}

/// The action ledger as files under a folder (`<data dir>/actions/ledger/` for the CLI).
#[derive(Debug, Clone)]
pub struct LocalActionLedger {
    root: PathBuf,
    lease_seconds: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct LocalClaim {
    status: String,
    #[serde(default)]
    lease_until: i64,
    #[serde(default)]
    finished_at: i64,
    #[serde(default)]
    outcome: String,
}

/// A key as a file name: bytes other than letters, digits, `-` and `_` as `%XX`.
fn file_name(key: &str) -> String {
    let mut name = String::with_capacity(key.len() + 8);
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            name.push(byte as char);
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

impl LocalActionLedger {
    pub fn new(root: impl Into<PathBuf>, lease_seconds: i64) -> Self {
        Self {
            root: root.into(),
            lease_seconds,
        }
    }

    fn claim_path(&self, key: &str) -> PathBuf {
        self.root
            .join("claims")
            .join(format!("{}.json", file_name(key)))
    }

    fn last_path(&self, customer: &str, group: &str) -> PathBuf {
        self.root
            .join("last")
            .join(file_name(group))
            .join(file_name(customer))
    }

    async fn read(path: &Path) -> Result<Option<LocalClaim>, IoError> {
        match tokio::fs::read(path).await {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok().or(Some(LocalClaim {
                // Being written this instant by another process.
                status: "in_progress".into(),
                lease_until: i64::MAX,
                finished_at: 0,
                outcome: String::new(),
            }))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(IoError::local(path, e)),
        }
    }

    /// Creates `path` only if it does not exist; false if it does. An empty claim file
    /// would read as a damaged one, so a claim that cannot be encoded is an error.
    async fn create_new(path: &Path, claim: &LocalClaim) -> Result<bool, IoError> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| IoError::local(parent, e))?;
        }
        let bytes = encode(path, claim)?;
        let opened = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .await;
        match opened {
            Ok(mut file) => {
                use tokio::io::AsyncWriteExt;
                file.write_all(&bytes)
                    .await
                    .map_err(|e| IoError::local(path, e))?;
                file.sync_all().await.map_err(|e| IoError::local(path, e))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(IoError::local(path, e)),
        }
    }

    async fn replace(path: &Path, claim: &LocalClaim) -> Result<(), IoError> {
        let temporary = path.with_extension(format!("json.partial-{}", std::process::id()));
        tokio::fs::write(&temporary, encode(path, claim)?)
            .await
            .map_err(|e| IoError::local(&temporary, e))?;
        tokio::fs::rename(&temporary, path)
            .await
            .map_err(|e| IoError::local(path, e))
    }
}

impl ActionLedger for LocalActionLedger {
    async fn claim(&self, key: &str, now: i64) -> Result<ActionClaim, IoError> {
        let path = self.claim_path(key);
        let fresh = LocalClaim {
            status: "in_progress".into(),
            lease_until: now + self.lease_seconds,
            finished_at: 0,
            outcome: String::new(),
        };
        if Self::create_new(&path, &fresh).await? {
            return Ok(ActionClaim::Fresh);
        }
        match Self::read(&path).await? {
            // Released between the two calls: try once more.
            None => Ok(if Self::create_new(&path, &fresh).await? {
                ActionClaim::Fresh
            } else {
                ActionClaim::Busy { lease_until: now }
            }),
            Some(claim) if claim.status == "done" => Ok(ActionClaim::Done {
                outcome: claim.outcome,
            }),
            Some(claim) if claim.lease_until >= now => Ok(ActionClaim::Busy {
                lease_until: claim.lease_until,
            }),
            Some(_) => {
                // A dead holder: move its claim aside (only one taker's rename succeeds),
                // then claim afresh.
                let aside = path.with_extension(format!("json.stale-{}-{now}", std::process::id()));
                match tokio::fs::rename(&path, &aside).await {
                    Ok(()) => {
                        let _ = tokio::fs::remove_file(&aside).await;
                        Ok(if Self::create_new(&path, &fresh).await? {
                            ActionClaim::Resumed
                        } else {
                            ActionClaim::Busy { lease_until: now }
                        })
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Ok(ActionClaim::Busy { lease_until: now })
                    }
                    Err(e) => Err(IoError::local(&path, e)),
                }
            }
        }
    }

    async fn finish(&self, key: &str, now: i64, outcome: &str) -> Result<(), IoError> {
        let path = self.claim_path(key);
        match Self::read(&path).await? {
            Some(claim) if claim.status == "in_progress" => {
                Self::replace(
                    &path,
                    &LocalClaim {
                        status: "done".into(),
                        lease_until: 0,
                        finished_at: now,
                        outcome: outcome.to_owned(),
                    },
                )
                .await
            }
            _ => Err(IoError::Conflict(format!(
                "{}: not claimed, cannot finish",
                path.display()
            ))),
        }
    }

    async fn release(&self, key: &str) -> Result<(), IoError> {
        let path = self.claim_path(key);
        match Self::read(&path).await? {
            Some(claim) if claim.status == "in_progress" => {
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(IoError::local(&path, e)),
                }
            }
            _ => Ok(()),
        }
    }

    async fn record_sent(&self, customer: &str, group: &str, day: Day) -> Result<(), IoError> {
        let path = self.last_path(customer, group);
        let known = tokio::fs::read_to_string(&path)
            .await
            .ok()
            .and_then(|text| Day::parse(text.trim()));
        if known.is_some_and(|known| known >= day) {
            return Ok(());
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| IoError::local(parent, e))?;
        }
        let temporary = path.with_extension(format!("partial-{}", std::process::id()));
        tokio::fs::write(&temporary, day.to_string())
            .await
            .map_err(|e| IoError::local(&temporary, e))?;
        tokio::fs::rename(&temporary, &path)
            .await
            .map_err(|e| IoError::local(&path, e))
    }

    async fn history(&self, pairs: &[(String, String)]) -> Result<ContactHistory, IoError> {
        let mut history = ContactHistory::default();
        for (customer, group) in pairs {
            if let Ok(text) = tokio::fs::read_to_string(self.last_path(customer, group)).await
                && let Some(day) = Day::parse(text.trim())
            {
                history.record(customer, group, day);
            }
        }
        Ok(history)
    }
}

/// A claim as the bytes of its file.
fn encode(path: &Path, claim: &LocalClaim) -> Result<Vec<u8>, IoError> {
    serde_json::to_vec(claim).map_err(|e| IoError::Corrupt {
        target: path.display().to_string(),
        message: format!("the claim cannot be encoded: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_local_ledger_claims_once_and_takes_over_dead_claims() {
        let dir = tempfile::tempdir().expect("dir");
        let ledger = LocalActionLedger::new(dir.path(), 300);
        let key = "2026-12-01/discount-20/C 1/é";
        assert_eq!(
            ledger.claim(key, 1000).await.expect("claim"),
            ActionClaim::Fresh
        );
        assert_eq!(
            ledger.claim(key, 1100).await.expect("claim"),
            ActionClaim::Busy { lease_until: 1300 }
        );
        // The holder died: after the lease, a resumed claim.
        assert_eq!(
            ledger.claim(key, 1301).await.expect("claim"),
            ActionClaim::Resumed
        );
        ledger.finish(key, 1302, "sent SM1").await.expect("finish");
        assert_eq!(
            ledger.claim(key, 9999).await.expect("claim"),
            ActionClaim::Done {
                outcome: "sent SM1".into()
            }
        );
        assert!(ledger.finish(key, 1303, "again").await.is_err());
        // Released claims can be claimed at once.
        assert_eq!(
            ledger.claim("other", 1000).await.expect("claim"),
            ActionClaim::Fresh
        );
        ledger.release("other").await.expect("release");
        assert_eq!(
            ledger.claim("other", 1001).await.expect("claim"),
            ActionClaim::Fresh
        );

        let day = |t: &str| Day::parse(t).expect("day");
        ledger
            .record_sent("C1", "discount", day("2026-11-20"))
            .await
            .expect("sent");
        ledger
            .record_sent("C1", "discount", day("2026-11-01"))
            .await
            .expect("sent");
        let history = ledger
            .history(&[
                ("C1".into(), "discount".into()),
                ("C2".into(), "discount".into()),
            ])
            .await
            .expect("history");
        assert_eq!(history.last("C1", "discount"), Some(day("2026-11-20")));
        assert_eq!(history.last("C2", "discount"), None);
    }
}
