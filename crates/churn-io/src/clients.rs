//! The AWS clients, built once per process (a Lambda's cold start) from the standard
//! configuration chain: region, credentials and `AWS_ENDPOINT_URL` from the environment.

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};

/// Every AWS client the adapters use.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    shared: aws_config::SdkConfig,
}

impl AwsClients {
    /// Loads the shared configuration from the environment. With an endpoint override
    /// (an emulator such as moto or LocalStack), S3 uses path-style addressing, since
    /// `bucket.127.0.0.1` does not resolve, and computes checksums only when an
    /// operation requires them.
    pub async fn from_env() -> Self {
        Self::from_config(&aws_config::defaults(BehaviorVersion::latest()).load().await)
    }

    /// The clients of an already loaded configuration.
    pub fn from_config(shared: &aws_config::SdkConfig) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(shared);
        if shared.endpoint_url().is_some() {
            s3 = s3
                .force_path_style(true)
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            dynamodb: aws_sdk_dynamodb::Client::new(shared),
            eventbridge: aws_sdk_eventbridge::Client::new(shared),
            shared: shared.clone(),
        }
    }

    /// An SES v2 client (built on demand, so that functions sending no e-mail do not
    /// link it).
    pub fn ses(&self) -> aws_sdk_sesv2::Client {
        aws_sdk_sesv2::Client::new(&self.shared)
    }

    /// A Secrets Manager client (built on demand, like [`AwsClients::ses`]).
    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.shared)
    }
}
