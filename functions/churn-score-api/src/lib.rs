//! `churn-score-api`: the scoring API (`churn_app::api`) behind a Lambda function URL:
//! `POST /score` and `GET /health`. This crate only translates HTTP.

use std::time::Duration;

use churn_app::Settings;
use churn_app::api::{ApiRequest, ScoreApi};
use churn_app::config::{ConfigError, Env};
use lambda_http::{Body, Request, Response};

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

/// Answers one request; every problem is an HTTP status and a JSON message.
pub async fn handle(
    api: &ScoreApi,
    request: Request,
) -> Result<Response<Body>, std::convert::Infallible> {
    let body: &[u8] = match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    let answer = api
        .handle(ApiRequest {
            method: request.method().as_str(),
            path: request.uri().path(),
            body,
        })
        .await;
    let mut response = Response::new(Body::from(answer.body.to_string()));
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(answer.status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
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
