//! The ingest Lambda: settings and clients once per cold start, then the runtime loop.

use aws_lambda_events::event::s3::S3Event;
use churn_app::Platform;
use churn_app::config::Env;
use churn_io::AwsClients;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_app::init_lambda_logging();
    let config = churn_ingest::Config::read(&Env::process())?;
    let platform = Platform::new(&AwsClients::from_env().await, &config.settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        churn_ingest::handle(&platform, &config, event.payload)
    }))
    .await
}
