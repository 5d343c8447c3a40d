//! The scoring API's Lambda: settings, clients and the API once per cold start, then the
//! runtime loop.

use churn_app::api::ScoreApi;
use churn_app::config::Env;
use churn_io::AwsClients;
use churn_score_api::Config;
use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_app::init_lambda_logging();
    let config = Config::read(&Env::process())?;
    let api = ScoreApi::new(
        &AwsClients::from_env().await,
        &config.settings,
        config.refresh,
    );
    lambda_http::run(service_fn(|request| churn_score_api::handle(&api, request))).await
}
