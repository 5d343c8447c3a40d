//! The CRM-push Lambda: settings, clients and providers once per cold start, then the
//! runtime loop.

use churn_app::Platform;
use churn_app::config::Env;
use churn_app::push::Providers;
use churn_crm_push::{Config, Event};
use churn_io::AwsClients;
use churn_io::secrets::Secrets;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_app::init_lambda_logging();
    let config = Config::read(&Env::process())?;
    let clients = AwsClients::from_env().await;
    let platform = Platform::new(&clients, &config.settings);
    let providers = Providers {
        secrets: Secrets::new(Some(clients.secrets_manager())),
        ses: Some(clients.ses()),
        clock: churn_io::now_epoch,
    };
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        churn_crm_push::handle(&platform, &config, &providers, event.payload)
    }))
    .await
}
