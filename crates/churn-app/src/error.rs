//! [`AppError`]: the one error of the application layer. It wraps the errors of the layers
//! below (`#[from]`), which decided for themselves whether a retry can help, and adds the
//! application's own (a bad event, nothing to work on yet). [`AppError::is_retryable`] is
//! the one place a caller asks; the functions hand the answer to Lambda as the error type
//! (`Retryable` or `Permanent`), so retry policies (Step Functions' `Retry`, a queue's
//! redrive) can match on it.

use churn_io::IoError;

/// Why a use case failed, and whether trying again later can succeed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// An adapter failed (S3, DynamoDB, EventBridge, a CRM...).
    #[error(transparent)]
    Io(#[from] IoError),
    /// Pipeline code failed (bad data, a full work disk...).
    #[cfg(feature = "pipeline")]
    #[error(transparent)]
    Pipeline(#[from] churn_pipeline::PipelineError),
    /// It cannot succeed as it is: a malformed event, nothing to work on, a record the
    /// model cannot score. Retrying changes nothing.
    #[error("{0}")]
    Permanent(String),
    /// Not now: what it waits for is not ready, or another run holds it.
    #[error("{0}")]
    Retryable(String),
    /// What was being done when `source` failed.
    #[error("{step}: {source}")]
    Step {
        step: String,
        #[source]
        source: Box<AppError>,
    },
}

impl AppError {
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(message.into())
    }

    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable(message.into())
    }

    /// The same error, saying what was being done.
    pub fn during(self, step: impl Into<String>) -> Self {
        Self::Step {
            step: step.into(),
            source: Box::new(self),
        }
    }

    /// Whether the same work may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            AppError::Io(error) => error.is_retryable(),
            #[cfg(feature = "pipeline")]
            AppError::Pipeline(error) => error.is_retryable(),
            AppError::Permanent(_) => false,
            AppError::Retryable(_) => true,
            AppError::Step { source, .. } => source.is_retryable(),
        }
    }

    /// `Retryable` or `Permanent`: the error type Lambda reports.
    pub fn kind(&self) -> &'static str {
        if self.is_retryable() {
            "Retryable"
        } else {
            "Permanent"
        }
    }
}

/// Lambda reports the error type (`Retryable` or `Permanent`) and the message; Step
/// Functions' `Retry` and the on-failure destinations see the same.
#[cfg(feature = "lambda")]
impl From<AppError> for lambda_runtime::Diagnostic {
    fn from(error: AppError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.kind().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_decision_of_the_layer_below_is_kept_through_steps() {
        let throttled = AppError::from(IoError::Service {
            operation: "PutObject",
            target: "bucket".into(),
            message: "SlowDown".into(),
            retryable: true,
        })
        .during("uploading the predictions");
        assert!(throttled.is_retryable());
        assert_eq!(throttled.kind(), "Retryable");
        assert!(
            throttled
                .to_string()
                .starts_with("uploading the predictions: PutObject bucket")
        );
        let missing = AppError::from(IoError::NotFound("models/x/model.bin".into()));
        assert_eq!(missing.kind(), "Permanent");
    }

    #[cfg(feature = "pipeline")]
    #[test]
    fn a_full_work_disk_is_retryable_and_bad_data_is_not() {
        use churn_pipeline::PipelineError;
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(AppError::from(PipelineError::io("/tmp/work/curated", full)).is_retryable());
        let bad = PipelineError::bad_file("raw/accounts/a.csv", "no header");
        assert!(!AppError::from(bad).is_retryable());
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn lambda_sees_the_kind_as_the_error_type() {
        let diagnostic = lambda_runtime::Diagnostic::from(AppError::retryable("shards missing"));
        assert_eq!(diagnostic.error_type, "Retryable");
        assert_eq!(diagnostic.error_message, "shards missing");
    }
}
