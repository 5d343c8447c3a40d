//! The batch prediction Lambda: adapters once per cold start, then the runtime loop.

use churn_io::{AwsClients, Platform, Settings};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_lambda::init_logging();
    let platform = Platform::new(&AwsClients::from_env().await, &Settings::from_env()?);
    let options = churn_batch_predict::Options::from_env()?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (platform, options) = (&platform, &options);
        async move {
            Ok::<_, Error>(churn_batch_predict::handle(platform, options, event.payload).await?)
        }
    }))
    .await
}
