//! The scoring API's Lambda: settings, clients and the router once per cold start, then
//! the runtime loop.

use churn_app::config::Env;
use churn_io::AwsClients;
use churn_score_api::Config;
use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_app::init_lambda_logging();
    let config = Config::read(&Env::process())?;
    let app = churn_score_api::app(&AwsClients::from_env().await, &config)?;
    lambda_http::run(service_fn(|request| churn_score_api::handle(&app, request))).await
}
