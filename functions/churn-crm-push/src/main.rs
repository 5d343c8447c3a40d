//! The CRM-push Lambda: adapters once per cold start, then the runtime loop (lib.rs).

use churn_crm_push::Deps;
use churn_io::secrets::Secrets;
use churn_io::{AwsClients, Platform, Settings};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_lambda::init_logging();
    let clients = AwsClients::from_env().await;
    let platform = Platform::new(&clients, &Settings::from_env()?);
    let deps = Deps::from_env(
        Secrets::new(Some(clients.secrets_manager())),
        Some(clients.ses()),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let (platform, deps) = (&platform, &deps);
        async move { Ok::<_, Error>(churn_crm_push::handle(platform, deps, event.payload).await?) }
    }))
    .await
}
