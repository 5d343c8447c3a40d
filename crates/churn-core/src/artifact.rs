//! The model artifact: one versioned envelope holding everything a scorer needs (feature
//! spec, fitted preprocessing, model, calibration, decision) plus what people need to trust
//! it (metrics and lineage). Written by training, read by every scorer.
//!
//! Two encodings: JSON for people and the native side, and a compact binary one (postcard,
//! behind a 4-byte magic and the schema version) for the browser. A reader refuses an
//! artifact of a newer schema version with a message saying so, before decoding it; fields
//! added in later versions carry `#[serde(default)]` so that old JSON artifacts keep
//! loading, and old binary ones decode through a mirror of their layout (module `v1`).
//!
//! Since schema version 2 both encodings carry a **checksum**: the 64-bit FNV-1a hash of
//! the content's canonical encoding (the postcard bytes of the artifact, which are exactly
//! the body of `model.bin`). It is written with the artifact and verified on every load,
//! native and wasm alike, so an artifact edited after training (a threshold, one split) is
//! refused as [`ArtifactError::Modified`] instead of scoring under the same model id. It
//! detects edits and accidents, not an attacker: anyone can recompute it. It is not a
//! signature. A version 1 artifact has none and loads unchecked.
//!
//! Writing always produces the current layout, and refuses an artifact that would not load
//! back (a parameter that is not finite, parts that disagree): what is written is what
//! every scorer reads.

#[cfg(feature = "postcard")]
mod v1;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calibration::Calibration;
use crate::decision::Decision;
use crate::error::{ArtifactError, require_finite};
use crate::feature_spec::FeatureSpec;
#[cfg(feature = "postcard")]
use crate::hash::Fnv64;
use crate::model::Model;
use crate::preprocess::Preprocessing;

impl ModelArtifact {
    /// Whether the margin is a probability (a lone random forest) rather than log-odds.
    pub fn margin_is_probability(&self) -> bool {
        matches!(self.components.as_slice(), [only] if only.model.margin_is_probability() && only.weight == 1.0)
    }
}

/// The artifact layout version this build writes and the newest it reads.
///
/// - 1: the first layout.
/// - 2: `lineage.horizon_days`, and a checksum of the content in both encodings.
pub const ARTIFACT_SCHEMA_VERSION: u32 = 2;

/// The first version whose artifacts must carry a checksum.
const CHECKSUM_SINCE: u32 = 2;

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
    /// The label horizon the model predicts: its probability is that of churning within
    /// this many days. `None` ("unknown") when the training table did not record one (a
    /// flat table) and for schema version 1 artifacts. Never skipped when serialising:
    /// postcard has no field names, so every field is always written.
    #[serde(default)]
    pub horizon_days: Option<u32>,
}

impl Lineage {
    /// What the model's probability means, for people: `churn within 90 days`, or
    /// `horizon unknown`.
    pub fn horizon_label(&self) -> String {
        match self.horizon_days {
            Some(1) => "churn within 1 day".into(),
            Some(days) => format!("churn within {days} days"),
            None => "horizon unknown".into(),
        }
    }
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
    /// Layout version (the file's when read; [`ARTIFACT_SCHEMA_VERSION`] when written).
    pub schema_version: u32,
    /// Identifier of this model (a hash of the data, model and seed, stable for the same
    /// training run; the checksum is what proves the content unchanged).
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

/// What a JSON reader looks at before decoding the whole artifact.
#[cfg(feature = "json")]
#[derive(Deserialize)]
struct Header {
    schema_version: u32,
    /// 16 hex digits; absent before schema version 2.
    #[serde(default)]
    checksum: Option<String>,
    /// The lineage's keys: one added by a later version gives away an artifact relabelled
    /// as version 1 to skip its checksum.
    #[serde(default)]
    lineage: serde_json::Map<String, serde_json::Value>,
}

/// The JSON encoding: the artifact's fields, then its checksum.
#[cfg(feature = "json")]
#[derive(Serialize)]
struct Sealed<'a> {
    #[serde(flatten)]
    artifact: &'a ModelArtifact,
    checksum: String,
}

fn check_version(found: u32) -> Result<(), ArtifactError> {
    if found > ARTIFACT_SCHEMA_VERSION {
        return Err(ArtifactError::TooNew {
            found,
            supported: ARTIFACT_SCHEMA_VERSION,
        });
    }
    if found == 0 {
        return Err(ArtifactError::Damaged(
            "its schema version is 0, which no churn ever wrote".into(),
        ));
    }
    Ok(())
}

/// The checksum of a canonical encoding.
#[cfg(feature = "postcard")]
fn checksum_of(canonical: &[u8]) -> u64 {
    let mut hasher = Fnv64::default();
    hasher.write(canonical);
    hasher.finish()
}

/// Compares the checksum read with the one computed.
#[cfg(feature = "postcard")]
fn verify(recorded: Option<u64>, computed: u64) -> Result<(), ArtifactError> {
    if recorded == Some(computed) {
        Ok(())
    } else {
        Err(ArtifactError::Modified { recorded, computed })
    }
}

impl ModelArtifact {
    /// Checks that the parts agree: preprocessing inputs match the spec, every model reads
    /// exactly its encoded columns, tree nodes point inside their trees, calibration knots
    /// increase, and every number is finite. A scorer built from a valid artifact cannot
    /// index out of bounds, and a valid artifact reads back the same from either encoding.
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
            require_finite(component.weight, || {
                format!("the weight of component {index}")
            })?;
            component
                .preprocessing
                .validate()
                .and_then(|()| component.model.validate(component.preprocessing.width()))
                .map_err(|error| error.in_component(index))?;
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
        for (name, value) in &self.metrics {
            require_finite(*value, || format!("the metric '{name}'"))?;
        }
        Ok(())
    }

    /// This artifact in the layout this build writes.
    #[cfg(feature = "postcard")]
    fn in_current_layout(&self) -> std::borrow::Cow<'_, ModelArtifact> {
        if self.schema_version == ARTIFACT_SCHEMA_VERSION {
            std::borrow::Cow::Borrowed(self)
        } else {
            let mut current = self.clone();
            current.schema_version = ARTIFACT_SCHEMA_VERSION;
            std::borrow::Cow::Owned(current)
        }
    }

    /// The canonical encoding of the content: its postcard bytes, the body of
    /// `model.bin`, and what the checksum is computed over.
    #[cfg(feature = "postcard")]
    fn canonical(&self) -> Result<Vec<u8>, ArtifactError> {
        postcard::to_allocvec(self).map_err(|e| ArtifactError::Unencodable(e.to_string()))
    }

    /// The checksum of this artifact's content, as the encodings record it (64-bit FNV-1a
    /// of the canonical encoding).
    #[cfg(feature = "postcard")]
    pub fn checksum(&self) -> Result<u64, ArtifactError> {
        self.canonical().map(|bytes| checksum_of(&bytes))
    }

    /// The artifact as pretty JSON, in the current layout, its checksum last. Refuses an
    /// artifact that would not load back ([`Self::validate`]).
    #[cfg(feature = "json")]
    pub fn to_json(&self) -> Result<String, ArtifactError> {
        let artifact = self.in_current_layout();
        artifact.validate()?;
        let sealed = Sealed {
            artifact: &artifact,
            checksum: format!("{:016x}", artifact.checksum()?),
        };
        serde_json::to_string_pretty(&sealed).map_err(|e| ArtifactError::Unencodable(e.to_string()))
    }

    /// Reads, verifies and validates a JSON artifact.
    #[cfg(feature = "json")]
    pub fn from_json(text: &str) -> Result<Self, ArtifactError> {
        let damaged = |e: serde_json::Error| ArtifactError::Damaged(e.to_string());
        let header: Header = serde_json::from_str(text).map_err(damaged)?;
        check_version(header.schema_version)?;
        let artifact: Self = serde_json::from_str(text).map_err(damaged)?;
        let recorded = match header.checksum.as_deref() {
            Some(hex) if hex.len() == 16 => Some(u64::from_str_radix(hex, 16).map_err(|_| {
                ArtifactError::Damaged(format!("its checksum '{hex}' is not 16 hex digits"))
            })?),
            Some(hex) => {
                return Err(ArtifactError::Damaged(format!(
                    "its checksum '{hex}' is not 16 hex digits"
                )));
            }
            None => None,
        };
        let relabelled = header.lineage.contains_key("horizon_days");
        if recorded.is_some() || header.schema_version >= CHECKSUM_SINCE || relabelled {
            verify(recorded, artifact.checksum()?)?;
        }
        artifact.validate()?;
        Ok(artifact)
    }

    /// The artifact in the compact binary encoding: magic, schema version (u32, little
    /// endian), the canonical encoding (postcard), then its checksum (u64, little endian).
    /// Refuses an artifact that would not load back ([`Self::validate`]).
    #[cfg(feature = "postcard")]
    pub fn to_binary(&self) -> Result<Vec<u8>, ArtifactError> {
        let artifact = self.in_current_layout();
        artifact.validate()?;
        let body = artifact.canonical()?;
        let mut out = Vec::with_capacity(body.len() + 16);
        out.extend_from_slice(BINARY_MAGIC);
        out.extend_from_slice(&ARTIFACT_SCHEMA_VERSION.to_le_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(&checksum_of(&body).to_le_bytes());
        Ok(out)
    }

    /// Reads, verifies and validates a binary artifact.
    #[cfg(feature = "postcard")]
    pub fn from_binary(bytes: &[u8]) -> Result<Self, ArtifactError> {
        if bytes.len() < 8 || &bytes[..4] != BINARY_MAGIC {
            return Err(ArtifactError::Damaged(
                "it does not start with the churn artifact magic bytes".into(),
            ));
        }
        let mut version = [0u8; 4];
        version.copy_from_slice(&bytes[4..8]);
        let version = u32::from_le_bytes(version);
        check_version(version)?;
        let artifact = if version < CHECKSUM_SINCE {
            decode::<v1::ArtifactV1>(&bytes[8..])?.into()
        } else {
            if bytes.len() < 16 {
                return Err(ArtifactError::Damaged(
                    "it is too short to hold its checksum".into(),
                ));
            }
            let (body, recorded) = bytes[8..].split_at(bytes.len() - 16);
            let artifact: Self = decode(body)?;
            let mut checksum = [0u8; 8];
            checksum.copy_from_slice(recorded);
            verify(Some(u64::from_le_bytes(checksum)), checksum_of(body))?;
            artifact
        };
        if artifact.schema_version != version {
            return Err(ArtifactError::Damaged(
                "the schema version of its header and of its content differ".into(),
            ));
        }
        artifact.validate()?;
        Ok(artifact)
    }
}

/// Decodes all of `bytes` as one `T`.
#[cfg(feature = "postcard")]
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ArtifactError> {
    let (value, rest): (T, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| ArtifactError::Damaged(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ArtifactError::Damaged(format!(
            "{} unexpected trailing bytes",
            rest.len()
        )));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes a writer that skipped validation would produce.
    fn sealed_binary(artifact: &ModelArtifact) -> Vec<u8> {
        let body = postcard::to_allocvec(artifact).expect("encodes");
        let mut bytes = BINARY_MAGIC.to_vec();
        bytes.extend_from_slice(&ARTIFACT_SCHEMA_VERSION.to_le_bytes());
        bytes.extend_from_slice(&body);
        bytes.extend_from_slice(&checksum_of(&body).to_le_bytes());
        bytes
    }

    #[test]
    fn a_binary_artifact_holding_an_infinity_is_refused_though_its_checksum_matches() {
        // Issue 12: model.json stored null while model.bin loaded with the infinity.
        let fixture = include_bytes!("../tests/fixtures/model-v2.bin");
        let mut artifact = ModelArtifact::from_binary(fixture).expect("v2");
        assert_eq!(sealed_binary(&artifact), fixture.as_slice());
        artifact.calibration = Calibration::Platt {
            a: f64::INFINITY,
            b: 0.0,
        };
        assert_eq!(
            ModelArtifact::from_binary(&sealed_binary(&artifact)),
            Err(ArtifactError::NotFinite {
                parameter: "the Platt calibration".into()
            })
        );
    }

    #[test]
    fn the_horizon_reads_as_what_the_probability_means() {
        let lineage = |horizon_days| Lineage {
            horizon_days,
            ..Lineage::default()
        };
        assert_eq!(lineage(Some(30)).horizon_label(), "churn within 30 days");
        assert_eq!(lineage(Some(1)).horizon_label(), "churn within 1 day");
        assert_eq!(lineage(None).horizon_label(), "horizon unknown");
    }
}
