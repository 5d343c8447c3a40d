//! The ingest Lambda: adapters once per cold start, then the runtime loop (lib.rs).

use aws_lambda_events::event::s3::S3Event;
use churn_io::{AwsClients, Platform, Settings};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_lambda::init_logging();
    let platform = Platform::new(&AwsClients::from_env().await, &Settings::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let platform = &platform;
        async move { Ok::<_, Error>(churn_ingest::handle(platform, event.payload).await?) }
    }))
    .await
}
