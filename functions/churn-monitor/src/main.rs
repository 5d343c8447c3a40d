//! The monitoring Lambda: settings and clients once per cold start, then the runtime
//! loop.

use churn_app::Platform;
use churn_app::config::Env;
use churn_io::AwsClients;
use churn_monitor::{Config, MonitorEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_app::init_lambda_logging();
    let config = Config::read(&Env::process())?;
    let platform = Platform::new(&AwsClients::from_env().await, &config.settings);
    lambda_runtime::run(service_fn(|event: LambdaEvent<MonitorEvent>| {
        churn_monitor::handle(&platform, &config, event.payload)
    }))
    .await
}
