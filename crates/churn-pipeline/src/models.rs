//! The model folder: what `churn train` writes and the other commands read.
//!
//! ```text
//! models/<model_id>/
//!   model.json            the champion artifact (JSON)
//!   model.bin             the same artifact, compact binary (for the browser)
//!   candidates/<family>.json   the best model of every family, for the report
//!   training.json         the search, the cross-validation and the test split
//!   profile.json          every feature's distribution in the training table (drift reference)
//!   report.html, metrics.json  written by `churn evaluate`
//! ```

use std::path::{Path, PathBuf};

use churn_core::ModelArtifact;

use crate::error::{PipelineError, Result};
use crate::features::data;
use crate::progress::Progress;
use crate::store::{write_atomic, write_json};
use crate::train::{TrainOutcome, ValidTrainOptions, train};

/// The champion artifact, JSON.
pub const MODEL_FILE: &str = "model.json";
/// The champion artifact, binary (named by the storage layout, where scorers find it).
pub const BINARY_FILE: &str = churn_core::layout::MODEL_BINARY_FILE;
/// The training summary.
pub const TRAINING_FILE: &str = "training.json";
/// The model's reference (features and scores), for monitoring.
pub use crate::reference::PROFILE_FILE;
/// Folder of the per-family candidates.
pub const CANDIDATES_DIR: &str = "candidates";

/// Reads an artifact: a model folder (its `model.json`), a `.json` or a `.bin` file.
pub fn read_artifact(path: &Path) -> Result<ModelArtifact> {
    let file = if path.is_dir() {
        path.join(MODEL_FILE)
    } else {
        path.to_path_buf()
    };
    let bytes = std::fs::read(&file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            PipelineError::Missing(format!(
                "{} does not exist: pass a model folder written by `churn train`",
                file.display()
            ))
        } else {
            PipelineError::io(&file, e)
        }
    })?;
    let artifact = if file.extension().is_some_and(|e| e == "bin") {
        ModelArtifact::from_binary(&bytes)
    } else {
        std::str::from_utf8(&bytes)
            .map_err(|e| churn_core::ArtifactError::Damaged(e.to_string()))
            .and_then(ModelArtifact::from_json)
    };
    artifact.map_err(|e| PipelineError::bad_file(&file, e.to_string()))
}

/// Reads the training summary of a model folder.
pub fn read_training(dir: &Path) -> Result<TrainOutcome> {
    let path = dir.join(TRAINING_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| PipelineError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|source| PipelineError::Json {
        context: format!("reading {}", path.display()),
        source,
    })
}

/// Writes a training run's champion, candidates and summary into `dir`.
pub fn write_model_dir(dir: &Path, outcome: &TrainOutcome) -> Result<()> {
    let refused = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PipelineError::ArtifactWrite { path, source }
    };
    for family in &outcome.families {
        if let Some(artifact) = &family.artifact {
            let path = dir
                .join(CANDIDATES_DIR)
                .join(format!("{}.json", family.family));
            let json = artifact.to_json().map_err(refused(&path))?;
            write_atomic(&path, json.as_bytes())?;
        }
    }
    let champion = outcome
        .deployed()
        .ok_or_else(|| PipelineError::InvalidInput("training produced no model".into()))?;
    let (binary, json) = (dir.join(BINARY_FILE), dir.join(MODEL_FILE));
    write_atomic(&binary, &champion.to_binary().map_err(refused(&binary))?)?;
    let champion_json = champion.to_json().map_err(refused(&json))?;
    write_json(dir.join(TRAINING_FILE), outcome)?;
    // Last: a folder with model.json is a finished model.
    write_atomic(&json, champion_json.as_bytes())?;
    Ok(())
}

/// Trains on a feature folder and writes the model folder: `out`, or
/// `<models_root>/<model_id>` when `out` is `None`. Returns the outcome and the folder.
pub fn train_dir(
    features: &Path,
    options: &ValidTrainOptions,
    out: Option<&Path>,
    models_root: &Path,
    progress: &dyn Progress,
) -> Result<(TrainOutcome, PathBuf)> {
    let dataset = data::load_dir(features, true)?;
    let mut outcome = train(&dataset, options, progress)?;
    outcome.features = features.display().to_string();
    // Not a default id: an empty one would write the model into `models_root` itself.
    let id = outcome
        .deployed()
        .map(|a| a.model_id.clone())
        .ok_or_else(|| PipelineError::InvalidInput("training produced no model".into()))?;
    let dir = out.map_or_else(|| models_root.join(&id), Path::to_path_buf);
    write_json(
        dir.join(PROFILE_FILE),
        &crate::reference::build(&dataset, &outcome)?,
    )?;
    write_model_dir(&dir, &outcome)?;
    Ok((outcome, dir))
}

/// The figures (ROC-AUC, calibration) of `artifact` on the rows of the feature folder
/// `features` whose ids are in `ids` (a challenger's test split): how the champion is
/// measured on the challenger's holdout before a promotion. `None` when the artifact was
/// trained on other features (its spec hash differs: the two cannot be compared on this
/// table).
pub fn holdout_figures(
    artifact: ModelArtifact,
    features: &Path,
    ids: &[String],
) -> Result<Option<crate::reference::Holdout>> {
    let dataset = data::load_dir(features, true)?;
    if artifact.feature_spec.hash != dataset.spec.hash {
        return Ok(None);
    }
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let rows: Vec<usize> = (0..dataset.len())
        .filter(|&row| wanted.contains(dataset.ids[row].as_str()))
        .collect();
    let scorer = churn_core::Scorer::new(artifact)
        .map_err(|e| PipelineError::InvalidInput(format!("the champion artifact: {e}")))?;
    let scores = crate::train::score_rows(&scorer, &dataset, &rows);
    let labels: Vec<bool> = rows.iter().map(|&row| dataset.labels[row]).collect();
    Ok(Some(crate::reference::Holdout::measure(&labels, &scores)))
}
