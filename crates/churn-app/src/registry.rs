//! Moving the champion by hand (`churn models promote | rollback`): the same registry
//! writes as `churn-train`'s, on the DynamoDB table or the local folder, with who and why
//! recorded. A version named by a person must be a plain model id, and a reason is
//! required: the history is what the next person reads.

use std::path::Path;

use churn_io::now_epoch;
use churn_io::registry::{ChampionChange, ModelVersion, Move, Registry};

use crate::AppError;

/// Who moves the champion, and why.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub by: &'a str,
    pub reason: &'a str,
}

fn checked(signed: Signed<'_>) -> Result<(), AppError> {
    if signed.reason.trim().is_empty() {
        return Err(AppError::permanent(
            "say why (--reason): the registry's history records it",
        ));
    }
    if signed.by.trim().is_empty() {
        return Err(AppError::permanent("say who (--by)"));
    }
    Ok(())
}

/// A model id as `churn train` names its folders: no path separators, no leading dot.
fn plain(version: &str) -> Result<(), AppError> {
    let ok = !version.is_empty()
        && !version.starts_with('.')
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(AppError::permanent(format!(
            "'{version}' is not a model id (letters, digits, '-', '_' and '.', as `churn models list` shows them)"
        )))
    }
}

/// The registry entry of a model folder of `churn train` (`models/<version>/`).
fn from_folder(dir: &Path, version: &str) -> Result<ModelVersion, AppError> {
    let artifact = churn_pipeline::models::read_artifact(dir)?;
    let outcome = churn_pipeline::models::read_training(dir)?;
    Ok(crate::train::model_version(
        version,
        &outcome,
        &artifact.lineage.trained_at,
        outcome.seed,
    ))
}

/// Makes `version` the champion, registering it first from `models/<version>/` under
/// `models` when the registry does not know it (local registries), provided nobody moved
/// the champion in between.
pub async fn promote<R: Registry + Sync>(
    registry: &R,
    models: Option<&Path>,
    version: &str,
    signed: Signed<'_>,
) -> Result<(ModelVersion, ChampionChange), AppError> {
    plain(version)?;
    checked(signed)?;
    let champion = registry.champion().await?;
    let entry = match (registry.version(version).await?, models) {
        (Some(entry), _) => entry,
        (None, Some(models)) if models.join(version).is_dir() => {
            let entry = from_folder(&models.join(version), version)?;
            registry.register(&entry).await?;
            entry
        }
        (None, _) => {
            return Err(AppError::permanent(format!(
                "{version} is not registered{}",
                models
                    .map(|m| format!(" and {} has no such model folder", m.display()))
                    .unwrap_or_default()
            )));
        }
    };
    let expected = champion.as_ref().map(|c| c.version.as_str());
    if expected == Some(version) {
        return Err(AppError::permanent(format!(
            "{version} is the champion already"
        )));
    }
    let at = churn_core::playbook::format_timestamp(now_epoch());
    let why = Move {
        at: &at,
        by: signed.by,
        reason: signed.reason,
    };
    let change = registry.promote(&entry, expected, why).await?;
    Ok((entry, change))
}

/// Moves the champion back to the one before its latest promotion still in force.
pub async fn rollback<R: Registry + Sync>(
    registry: &R,
    signed: Signed<'_>,
) -> Result<ChampionChange, AppError> {
    checked(signed)?;
    let Some(current) = registry.champion().await? else {
        return Err(AppError::permanent(
            "no model has been promoted: nothing to roll back",
        ));
    };
    let at = churn_core::playbook::format_timestamp(now_epoch());
    let why = Move {
        at: &at,
        by: signed.by,
        reason: signed.reason,
    };
    Ok(registry.rollback(&current.version, why).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_and_reasons_are_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("dir");
        let registry = churn_io::registry::LocalRegistry::new(dir.path().join("registry"));
        let signed = Signed {
            by: "ana",
            reason: "better",
        };
        for bad in ["../models/x", "a/b", ".hidden", ""] {
            let error = promote(&registry, Some(dir.path()), bad, signed)
                .await
                .expect_err("refused");
            assert!(
                error.to_string().contains("is not a model id"),
                "{bad}: {error}"
            );
        }
        let error = promote(
            &registry,
            Some(dir.path()),
            "gbdt-1",
            Signed {
                by: "ana",
                reason: "  ",
            },
        )
        .await
        .expect_err("no reason");
        assert!(error.to_string().contains("--reason"), "{error}");
        let error = rollback(&registry, signed).await.expect_err("nothing");
        assert!(
            error.to_string().contains("nothing to roll back"),
            "{error}"
        );
        assert!(!dir.path().join("registry").exists(), "nothing written");
    }
}
