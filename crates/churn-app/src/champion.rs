//! The champion: the model the registry points at, with its artifact loaded from the
//! store. Loaded here and nowhere else (training compares against it, batch prediction
//! and the scoring API score with it); [`ChampionCache`] keeps it between requests of a
//! long-lived process and notices a promotion within its refresh interval.

use std::sync::Arc;
use std::time::{Duration, Instant};

use churn_core::{ModelArtifact, Scorer};
use churn_io::IoError;
use churn_io::registry::{ModelVersion, Registry};
use churn_io::store::ObjectGet;
use tokio::sync::Mutex;

use crate::AppError;

/// The current champion.
#[derive(Debug, Clone)]
pub struct Champion {
    /// Its registry entry (version, metric, holdout, artifact key, lineage).
    pub entry: ModelVersion,
    pub artifact: ModelArtifact,
    /// The artifact as stored (its binary encoding).
    pub binary: Vec<u8>,
}

/// The champion, or `None` when no model was ever promoted. A champion whose entry or
/// artifact is missing or damaged is a permanent error naming it.
pub async fn current(
    registry: &(impl Registry + Sync),
    store: &(impl ObjectGet + Sync),
) -> Result<Option<Champion>, AppError> {
    let Some(pointer) = registry.champion().await? else {
        return Ok(None);
    };
    let entry = registry.version(&pointer.version).await?.ok_or_else(|| {
        AppError::permanent(format!(
            "the champion {} has no registry entry",
            pointer.version
        ))
    })?;
    let bytes = store.get(&entry.artifact_key).await?;
    let artifact = ModelArtifact::from_binary(&bytes).map_err(|e| {
        AppError::from(IoError::Corrupt {
            target: entry.artifact_key.clone(),
            message: format!("the champion's artifact: {e}"),
        })
    })?;
    Ok(Some(Champion {
        entry,
        artifact,
        binary: bytes,
    }))
}

/// The champion; none yet is a permanent error (there is nothing to score with).
pub async fn required(
    registry: &(impl Registry + Sync),
    store: &(impl ObjectGet + Sync),
) -> Result<Champion, AppError> {
    current(registry, store)
        .await?
        .ok_or_else(|| AppError::permanent("no model has been promoted yet: train one first"))
}

/// The challenger of `champion` among the registered `versions`: the newest trained after
/// it (a model the promotion policy kept out, or the one a rollback moved away from).
/// Batch prediction scores it in shadow; the monitor compares the two on matured labels.
pub fn challenger_of<'v>(
    versions: &'v [ModelVersion],
    champion: &ModelVersion,
) -> Option<&'v ModelVersion> {
    versions
        .iter()
        .filter(|v| v.version != champion.version && v.trained_at > champion.trained_at)
        .max_by(|a, b| {
            a.trained_at
                .cmp(&b.trained_at)
                .then_with(|| a.version.cmp(&b.version))
        })
}

/// The challenger's entry and artifact (as stored), if there is one.
pub async fn challenger(
    registry: &(impl Registry + Sync),
    store: &(impl ObjectGet + Sync),
    champion: &Champion,
) -> Result<Option<(ModelVersion, Vec<u8>)>, AppError> {
    let versions = registry.versions().await?;
    let Some(entry) = challenger_of(&versions, &champion.entry) else {
        return Ok(None);
    };
    let binary = store.get(&entry.artifact_key).await?;
    Ok(Some((entry.clone(), binary)))
}

/// A loaded champion, ready to score.
#[derive(Debug)]
pub struct Loaded {
    pub version: String,
    /// Its registry entry (metric, holdout, training time).
    pub entry: ModelVersion,
    pub scorer: Scorer,
    /// The artifact as stored (the WASM scorer's input), and its entity tag: a quoted
    /// SHA-256 prefix of those bytes, so a web app revalidates its copy cheaply.
    pub binary: Vec<u8>,
    pub etag: String,
}

/// The HTTP entity tag of an artifact's bytes.
pub fn etag(binary: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(binary);
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The champion's scorer, asked of the registry again once `refresh` has passed (the
/// registry read is cheap; the artifact is loaded again only when the version changed).
#[derive(Debug)]
pub struct ChampionCache {
    refresh: Duration,
    cached: Mutex<Option<(Arc<Loaded>, Instant)>>,
}

impl ChampionCache {
    pub fn new(refresh: Duration) -> Self {
        Self {
            refresh,
            cached: Mutex::new(None),
        }
    }

    /// The champion, from the cache while it is fresh. `Ok(None)`: none promoted yet.
    pub async fn get(
        &self,
        registry: &(impl Registry + Sync),
        store: &(impl ObjectGet + Sync),
    ) -> Result<Option<Arc<Loaded>>, AppError> {
        let mut cached = self.cached.lock().await;
        if let Some((loaded, checked)) = cached.as_ref()
            && checked.elapsed() < self.refresh
        {
            return Ok(Some(loaded.clone()));
        }
        let Some(pointer) = registry.champion().await? else {
            *cached = None;
            return Ok(None);
        };
        if let Some((loaded, checked)) = cached.as_mut()
            && loaded.version == pointer.version
        {
            *checked = Instant::now();
            return Ok(Some(loaded.clone()));
        }
        let Some(champion) = current(registry, store).await? else {
            return Ok(None);
        };
        let version = champion.entry.version.clone();
        let scorer = Scorer::new(champion.artifact).map_err(|e| {
            AppError::from(IoError::Corrupt {
                target: champion.entry.artifact_key.clone(),
                message: e.to_string(),
            })
        })?;
        tracing::info!(version, "champion loaded");
        let loaded = Arc::new(Loaded {
            version,
            entry: champion.entry,
            scorer,
            etag: etag(&champion.binary),
            binary: champion.binary,
        });
        *cached = Some((loaded.clone(), Instant::now()));
        Ok(Some(loaded))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, trained_at: &str) -> ModelVersion {
        ModelVersion {
            version: id.into(),
            trained_at: trained_at.into(),
            artifact_key: format!("models/{id}/model.bin"),
            metric_name: "roc_auc".into(),
            metric: 0.8,
            holdout: "h".into(),
            data_hash: "d".into(),
            seed: 42,
        }
    }

    #[test]
    fn the_challenger_is_the_newest_model_trained_after_the_champion() {
        let versions = [
            version("a", "2026-10-01T00:00:00Z"),
            version("b", "2026-11-01T00:00:00Z"),
            version("c", "2026-11-02T00:00:00Z"),
            version("d", "2026-10-15T00:00:00Z"),
        ];
        let pick = |champion: &str| {
            let champion = versions
                .iter()
                .find(|v| v.version == champion)
                .expect("one");
            challenger_of(&versions, champion).map(|v| v.version.as_str())
        };
        assert_eq!(pick("b"), Some("c"));
        assert_eq!(pick("a"), Some("c"));
        // The newest is the champion: nothing to shadow.
        assert_eq!(pick("c"), None);
        assert_eq!(challenger_of(&versions[..1], &versions[0]), None);
    }
}
