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
    /// The content does not match the checksum written with it: the file was edited (or
    /// corrupted in a way that still decodes) after training.
    #[error(
        "the model artifact was modified after training: {}; retrain the model, or restore \
         the file as training wrote it",
        modified_reason(.recorded)
    )]
    Modified {
        /// The checksum the file carries (`None`: it carries none).
        recorded: Option<u64>,
        /// The checksum of the content as read.
        computed: u64,
    },
    /// A parameter is NaN or infinite: it cannot be scored, and JSON cannot hold it, so
    /// the two encodings would disagree.
    #[error(
        "the model artifact holds a number that is not finite ({parameter}); retrain the \
         model (a feature table with extreme values?)"
    )]
    NotFinite {
        /// Which parameter, e.g. `component 0: the scaling of column 3 (tenure_days)`.
        parameter: String,
    },
    /// The artifact could not be encoded. Plain data always encodes, so this is a bug.
    #[error("the model artifact could not be encoded: {0}")]
    Unencodable(String),
}

fn modified_reason(recorded: &Option<u64>) -> &'static str {
    if recorded.is_some() {
        "its content no longer matches the checksum written with it"
    } else {
        "it has no checksum, which every artifact of schema version 2 or later carries"
    }
}

impl ArtifactError {
    /// The error of a component's part, with the component named.
    pub(crate) fn in_component(self, index: usize) -> Self {
        match self {
            Self::NotFinite { parameter } => Self::NotFinite {
                parameter: format!("component {index}: {parameter}"),
            },
            other => other,
        }
    }
}

/// `Ok` when `value` is finite; else the error naming `what` (built only then).
pub(crate) fn require_finite(
    value: f64,
    what: impl FnOnce() -> String,
) -> Result<(), ArtifactError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ArtifactError::NotFinite { parameter: what() })
    }
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
