//! One error type for every adapter, with the retry decision made once, here.

use std::path::PathBuf;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failure of an adapter. [`IoError::is_retryable`] says whether trying again later
/// can succeed (throttling, timeouts, 5xx, a connection refused) or not (a missing
/// object, a refused condition, bad input).
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A call to an AWS service failed.
    #[error("{operation} {target}: {message}")]
    Service {
        operation: &'static str,
        target: String,
        message: String,
        retryable: bool,
    },
    /// The object or item does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// A conditional write lost: someone else changed the item first.
    #[error("{0}")]
    Conflict(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Local {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Stored data is not what this version reads.
    #[error("{target}: {message}")]
    Corrupt { target: String, message: String },
    /// A call to a CRM, messaging or webhook API failed (after its retries).
    #[error("{provider} {operation}: {}{message}", status.map(|s| format!("HTTP {s}: ")).unwrap_or_default())]
    Http {
        provider: &'static str,
        operation: &'static str,
        status: Option<u16>,
        message: String,
        retryable: bool,
    },
    /// A configuration file or secret is missing or wrong.
    #[error("{target}: {message}")]
    Config { target: String, message: String },
    /// A provider refused the connection's credentials: a token it answered 401 to, or a
    /// refresh it would not grant. Every further call of the run would be refused the
    /// same way, so the run stops and a person fixes the credentials (the message says
    /// which, and how); never retried, never a per-record failure.
    #[error("{provider}: {message}")]
    Unauthorized {
        provider: &'static str,
        message: String,
    },
}

impl IoError {
    /// Whether the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            IoError::Service { retryable, .. } | IoError::Http { retryable, .. } => *retryable,
            IoError::Local { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            IoError::NotFound(_)
            | IoError::Conflict(_)
            | IoError::Corrupt { .. }
            | IoError::Config { .. }
            | IoError::Unauthorized { .. } => false,
        }
    }

    /// Whether the connection's credentials are bad: the whole run should stop, as every
    /// other call with them would fail too.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, IoError::Unauthorized { .. })
    }

    /// A configuration file or secret that is missing or wrong.
    pub fn config(target: impl Into<String>, message: impl Into<String>) -> Self {
        IoError::Config {
            target: target.into(),
            message: message.into(),
        }
    }

    pub(crate) fn unauthorized(provider: &'static str, message: impl Into<String>) -> Self {
        IoError::Unauthorized {
            provider,
            message: message.into(),
        }
    }

    pub(crate) fn local(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IoError::Local {
            path: path.into(),
            source,
        }
    }

    /// Classifies a failed SDK call (every AWS SDK crate shares `SdkError`).
    pub(crate) fn sdk<E>(
        operation: &'static str,
        target: impl Into<String>,
        error: SdkError<E, HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let retryable = match &error {
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                status >= 500 || status == 429 || is_throttling(service.err().code())
            }
            _ => false,
        };
        IoError::Service {
            operation,
            target: target.into(),
            message: DisplayErrorContext(&error).to_string(),
            retryable,
        }
    }
}

/// Error codes AWS services use for "slow down".
fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "Throttling"
                | "ThrottlingException"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "ProvisionedThroughputExceededException"
                | "RequestThrottled"
                | "SlowDown"
                | "TooManyRequestsException"
        )
    )
}

/// Whether a DynamoDB call lost its condition expression (every operation's error type
/// spells it the same way).
pub(crate) fn condition_failed<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    error
        .as_service_error()
        .is_some_and(|e| e.code() == Some("ConditionalCheckFailedException"))
}
