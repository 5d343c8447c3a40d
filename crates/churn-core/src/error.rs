//! Errors of loading artifacts and scoring records.

/// Why an artifact cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArtifactError {
    /// The bytes are not an artifact (truncated, corrupted, or another file).
    #[error("the model artifact is damaged or not an artifact: {0}")]
    Damaged(String),
    /// The artifact was written by a newer version of churn.
    #[error(
        "the model artifact has schema version {found}, newer than this scorer understands \
         (up to {supported}); upgrade churn to load it"
    )]
    TooNew {
        /// Version in the artifact.
        found: u32,
        /// Newest version this build reads.
        supported: u32,
    },
    /// The artifact's parts disagree with each other (hand-edited, or a bug).
    #[error("the model artifact is inconsistent: {0}")]
    Inconsistent(String),
}

/// Why a record cannot be scored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    /// The record has the wrong number of values.
    #[error("expected {expected} feature values, got {got}")]
    WrongArity {
        /// Features the model has.
        expected: usize,
        /// Values given.
        got: usize,
    },
    /// A value of the wrong type.
    #[error("feature '{feature}' expects {expected}, got {got}")]
    WrongType {
        /// The feature.
        feature: String,
        /// What it accepts.
        expected: &'static str,
        /// What it was given.
        got: String,
    },
    /// NaN or an infinity.
    #[error("feature '{feature}' is {value}: send null for an unknown value")]
    NotFinite {
        /// The feature.
        feature: String,
        /// The value as text.
        value: String,
    },
    /// A field that is not one of the model's features (a typo, or another model's).
    #[error("'{field}' is not a feature of this model{hint}")]
    UnknownFeature {
        /// The field.
        field: String,
        /// ", did you mean '...'?" when a feature's name is close.
        hint: String,
    },
    /// The record is not a JSON object.
    #[error(
        "a record is a JSON object of feature values, e.g. {{\"tenure_days\": 120}}; got {got}"
    )]
    NotARecord {
        /// What it was.
        got: &'static str,
    },
}
