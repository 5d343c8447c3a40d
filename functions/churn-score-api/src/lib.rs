//! `churn-score-api`: the scoring API's router (`churn_app::api`) behind a Lambda function
//! URL. lambda_http turns the function URL's event into an HTTP request and the router's
//! response back; this crate only reads the settings.

use std::time::Duration;

use churn_app::Settings;
use churn_app::api::{ApiOptions, AwsBackend};
use churn_app::config::{ConfigError, Env};
use churn_io::AwsClients;
use lambda_http::{Body, Request, Response};
use tower::ServiceExt;

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    /// How long a loaded champion is used before the registry is asked again.
    pub refresh: Duration,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            settings: Settings::read(env)?,
            refresh: Duration::from_secs(env.parse(
                "CHURN_MODEL_REFRESH_SECONDS",
                60,
                "a whole number of seconds",
            )?),
        })
    }
}

/// The router on the stack's tables and bucket. Access is the function URL's (`AWS_IAM`
/// unless the template says otherwise), and so is CORS: the router adds neither.
pub fn app(clients: &AwsClients, config: &Config) -> Result<axum::Router, churn_app::AppError> {
    churn_app::api::router(
        AwsBackend::new(clients, &config.settings, config.refresh),
        ApiOptions::default(),
    )
}

/// Answers one request as the function URL receives it, and encodes the answer as
/// lambda_http returns it (JSON as text, the artifact as base64 binary).
pub async fn handle(
    app: &axum::Router,
    request: Request,
) -> Result<Response<Body>, std::convert::Infallible> {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {});
    Ok(lambda_http::IntoResponse::into_response(response).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_champion_is_asked_for_again_every_minute_unless_told_otherwise() {
        let env = Env::new(|name| (name == "CHURN_BUCKET").then(|| "b".to_owned()));
        assert_eq!(
            Config::read(&env).expect("defaults").refresh,
            Duration::from_secs(60)
        );
        let env = Env::new(|name| match name {
            "CHURN_BUCKET" => Some("b".into()),
            "CHURN_MODEL_REFRESH_SECONDS" => Some("5".into()),
            _ => None,
        });
        assert_eq!(
            Config::read(&env).expect("set").refresh,
            Duration::from_secs(5)
        );
    }
}
