//! The one error type of the pipeline, and the option error it wraps (an option checked
//! before a run, named by its field). Messages name the file, line and column involved
//! and say what to do next.

use std::path::PathBuf;

/// Everything that can go wrong in the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A whole input file cannot be used (as opposed to a bad row, which is quarantined).
    #[error("{}{}{}: {message}", file.display(), line.map(|l| format!(" line {l}")).unwrap_or_default(), column.as_ref().map(|c| format!(", column '{c}'")).unwrap_or_default())]
    BadFile {
        /// The file.
        file: PathBuf,
        /// The 1-based line, when one is to blame.
        line: Option<u64>,
        /// The column, when one is to blame.
        column: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// A required input is absent.
    #[error("{0}")]
    Missing(String),
    /// A flag or parameter is unusable.
    #[error("{0}")]
    InvalidInput(String),
    /// Polars failed while doing `context`.
    #[error("{context}: {source}")]
    Polars {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: polars::error::PolarsError,
    },
    /// An option of a run cannot be used (names the field).
    #[error(transparent)]
    InvalidOption(#[from] OptionError),
    /// A model artifact cannot be written (it would not load back).
    #[error("writing {}: {source}", path.display())]
    ArtifactWrite {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: churn_core::ArtifactError,
    },
    /// A JSON document could not be written or read.
    #[error("{context}: {source}")]
    Json {
        /// What we were doing.
        context: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

/// An option that cannot be used: which one, and why.
///
/// `field` is the name of the [`crate::train::TrainOptions`] (or [`crate::predict::PredictOptions`])
/// field, or of the threshold rule's field (`offer_cost`, `customer_value`,
/// `save_rate`), so a front end can name its own flag for it; the message reads after
/// that name ("test_fraction 0.7 is out of range: use 0.05 to 0.5").
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} {message}")]
pub struct OptionError {
    /// The option.
    pub field: &'static str,
    /// What is wrong with it and what to use instead.
    pub message: String,
}

impl OptionError {
    pub(crate) fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = PipelineError> = std::result::Result<T, E>;

impl PipelineError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether running the same work again may succeed. Bad data, a missing input and a
    /// bad parameter stay that way; a file system that was full, busy or interrupted (a
    /// Lambda's `/tmp`, a network share) may not be next time.
    pub fn is_retryable(&self) -> bool {
        use std::io::ErrorKind;
        match self {
            Self::Io { source, .. } => !matches!(
                source.kind(),
                ErrorKind::NotFound
                    | ErrorKind::PermissionDenied
                    | ErrorKind::InvalidInput
                    | ErrorKind::InvalidData
                    | ErrorKind::Unsupported
                    | ErrorKind::IsADirectory
                    | ErrorKind::NotADirectory
            ),
            // Writing a model whose numbers would not load back: the data makes it so.
            Self::ArtifactWrite { .. } => false,
            Self::BadFile { .. }
            | Self::Missing(_)
            | Self::InvalidInput(_)
            | Self::InvalidOption(_)
            | Self::Polars { .. }
            | Self::Json { .. } => false,
        }
    }

    /// A whole-file problem.
    pub fn bad_file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::BadFile {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

/// Adds context to polars results.
pub trait PolarsContext<T> {
    /// Wraps a polars error with what we were doing.
    fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> PolarsContext<T> for polars::error::PolarsResult<T> {
    fn context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| PipelineError::Polars {
            context: context(),
            source,
        })
    }
}
