//! The model artifact: one versioned envelope holding everything a scorer needs (feature
//! spec, fitted preprocessing, model, calibration, decision) plus what people need to trust
//! it (metrics and lineage). Written by training, read by every scorer.
//!
//! Two encodings: JSON for people and the native side, and a compact binary one (postcard,
//! behind a 4-byte magic and the schema version) for the browser. A reader refuses an
//! artifact of a newer schema version with a message saying so, before decoding it; fields
//! added in later versions carry `#[serde(default)]` so that old JSON artifacts keep loading.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::decision::Decision;
use crate::error::ArtifactError;
use crate::feature_spec::FeatureSpec;
use crate::model::Model;
use crate::preprocess::Preprocessing;

impl ModelArtifact {
    /// Whether the margin is a probability (a lone random forest) rather than log-odds.
    pub fn margin_is_probability(&self) -> bool {
        matches!(self.components.as_slice(), [only] if only.model.margin_is_probability() && only.weight == 1.0)
    }
}

/// The artifact layout version this build writes and the newest it reads.
pub const ARTIFACT_SCHEMA_VERSION: u32 = 1;

/// First bytes of the binary encoding.
pub const BINARY_MAGIC: &[u8; 4] = b"CHRN";

/// Where a model came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// Program and version that trained it.
    pub created_by: String,
    /// When, as given by the trainer (core reads no clock).
    pub trained_at: String,
    /// Fingerprint of the training table.
    pub data_hash: String,
    /// Rows the final model was fitted on.
    pub training_rows: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Hyperparameters of the model, as text.
    pub parameters: BTreeMap<String, String>,
}

/// One model of an artifact with the preprocessing it reads. An artifact's margin is the
/// weighted sum of its components' margins: a single model has one component of weight 1,
/// a blend several (log-odds models only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Component {
    /// Weight of this component's margin.
    pub weight: f64,
    /// How records are encoded for this model.
    pub preprocessing: Preprocessing,
    /// The fitted model.
    pub model: Model,
}

/// A trained model, ready to score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelArtifact {
    /// Layout version ([`ARTIFACT_SCHEMA_VERSION`] when written).
    pub schema_version: u32,
    /// Identifier of this model (a content hash, stable for the same training run).
    pub model_id: String,
    /// Model family: `logistic_regression`, `random_forest`, `gradient_boosting` or
    /// `blend`.
    pub family: String,
    /// The features the model reads.
    pub feature_spec: FeatureSpec,
    /// The models and their preprocessing.
    pub components: Vec<Component>,
    /// Margin to probability.
    pub calibration: Calibration,
    /// Threshold and tiers.
    pub decision: Decision,
    /// Held-out metrics at training time.
    pub metrics: BTreeMap<String, f64>,
    /// Where it came from.
    pub lineage: Lineage,
}

#[cfg(feature = "json")]
#[derive(Deserialize)]
struct VersionOnly {
    schema_version: u32,
}

fn check_version(found: u32) -> Result<(), ArtifactError> {
    if found > ARTIFACT_SCHEMA_VERSION {
        return Err(ArtifactError::TooNew {
            found,
            supported: ARTIFACT_SCHEMA_VERSION,
        });
    }
    Ok(())
}

impl ModelArtifact {
    /// Checks that the parts agree: preprocessing inputs match the spec, every model reads
    /// exactly its encoded columns, tree nodes point inside their trees, calibration knots
    /// increase. A scorer built from a valid artifact cannot index out of bounds.
    pub fn validate(&self) -> Result<(), ArtifactError> {
        if !self.feature_spec.hash_is_consistent() {
            return Err(ArtifactError::Inconsistent(
                "the feature spec's hash does not match its features".into(),
            ));
        }
        if self.components.is_empty() {
            return Err(ArtifactError::Inconsistent(
                "no model in the artifact".into(),
            ));
        }
        for (index, component) in self.components.iter().enumerate() {
            let spec_names = self.feature_spec.features.iter().map(|f| f.name.as_str());
            let input_names = component
                .preprocessing
                .inputs
                .iter()
                .map(|i| i.feature.as_str());
            if !spec_names.eq(input_names) {
                return Err(ArtifactError::Inconsistent(format!(
                    "the preprocessing inputs of component {index} differ from the feature spec"
                )));
            }
            if !component.weight.is_finite() {
                // Not formatted: float formatting alone is 14 KB of the browser build.
                return Err(ArtifactError::Inconsistent(format!(
                    "component {index} has a weight that is not a finite number"
                )));
            }
            component.preprocessing.validate()?;
            component.model.validate(component.preprocessing.width())?;
            if self.components.len() > 1 && component.model.margin_is_probability() {
                return Err(ArtifactError::Inconsistent(
                    "a random forest cannot be blended: its margin is a probability, not log-odds"
                        .into(),
                ));
            }
        }
        self.calibration.validate()?;
        let Decision {
            threshold,
            medium_from,
            ..
        } = self.decision;
        if !(0.0..=1.0).contains(&threshold) || !(0.0..=threshold).contains(&medium_from) {
            return Err(ArtifactError::Inconsistent(
                "the decision threshold and the medium tier are not 0 <= medium <= threshold <= 1"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The artifact as pretty JSON.
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> String {
        // Serialising plain data to a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads and validates a JSON artifact.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<Self, ArtifactError> {
        let version: VersionOnly =
            serde_json::from_str(text).map_err(|e| ArtifactError::Damaged(e.to_string()))?;
        check_version(version.schema_version)?;
        let artifact: Self =
            serde_json::from_str(text).map_err(|e| ArtifactError::Damaged(e.to_string()))?;
        artifact.validate()?;
        Ok(artifact)
    }

    /// The artifact in the compact binary encoding: magic, schema version (u32, little
    /// endian), then postcard.
    #[cfg(feature = "postcard")]
    pub fn to_binary(&self) -> Vec<u8> {
        let mut out = BINARY_MAGIC.to_vec();
        out.extend_from_slice(&self.schema_version.to_le_bytes());
        // Serialising plain data to a Vec cannot fail.
        out.extend(postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    /// Reads and validates a binary artifact.
    #[cfg(feature = "postcard")]
    pub fn from_binary(bytes: &[u8]) -> Result<Self, ArtifactError> {
        if bytes.len() < 8 || &bytes[..4] != BINARY_MAGIC {
            return Err(ArtifactError::Damaged(
                "it does not start with the churn artifact magic bytes".into(),
            ));
        }
        let mut version = [0u8; 4];
        version.copy_from_slice(&bytes[4..8]);
        check_version(u32::from_le_bytes(version))?;
        let (artifact, rest): (Self, &[u8]) = postcard::take_from_bytes(&bytes[8..])
            .map_err(|e| ArtifactError::Damaged(e.to_string()))?;
        if !rest.is_empty() {
            return Err(ArtifactError::Damaged(format!(
                "{} unexpected trailing bytes",
                rest.len()
            )));
        }
        artifact.validate()?;
        Ok(artifact)
    }
}
