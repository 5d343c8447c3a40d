//! The scoring API's Lambda: clients and settings once per cold start, then the runtime
//! loop. Everything else is in lib.rs.

use churn_io::{AwsClients, Settings};
use churn_score_api::App;
use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_current_span(false)
        .without_time() // CloudWatch stamps every line
        .init();
    let settings = Settings::from_env()?;
    let app = App::new(&AwsClients::from_env().await, &settings);
    lambda_http::run(service_fn(|request| app.handle(request))).await
}
