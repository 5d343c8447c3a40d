//! The scoring API's Lambda: clients and settings once per cold start, then the runtime
//! loop. Everything else is in lib.rs.

use churn_io::{AwsClients, Settings};
use churn_score_api::App;
use lambda_http::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    churn_lambda::init_logging();
    let settings = Settings::from_env()?;
    let app = App::new(&AwsClients::from_env().await, &settings);
    lambda_http::run(service_fn(|request| app.handle(request))).await
}
