//! `churn-crm-push`: `PredictionsReady` (from EventBridge directly, or through an SQS
//! queue with partial-batch responses) or a schedule after quiet hours → the day's
//! retention actions planned and sent once (`churn_app::push`, as `churn actions
//! --send`).
//!
//! Through SQS, a message that failed for now (throttled, busy) is reported in
//! `batchItemFailures` and comes back after the visibility timeout; one that failed for
//! good (a missing playbook, a bad event, actions refused, credentials refused) fails
//! the invocation, so the error alarm fires, and after the queue's receive limit waits
//! in the dead-letter queue.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use churn_app::config::{ConfigError, Env};
use churn_app::push::{Providers, PushConfig, PushRequest, PushSummary};
use churn_app::{AppError, Platform, Settings};
use churn_io::events::PredictionsReady;
use serde::{Deserialize, Serialize};

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub settings: Settings,
    pub push: PushConfig,
}

impl Config {
    pub fn read(env: &Env<'_>) -> Result<Self, ConfigError> {
        let defaults = PushConfig::default();
        Ok(Self {
            settings: Settings::read(env)?,
            push: PushConfig {
                playbook_key: env.text("CHURN_PLAYBOOK_KEY", &defaults.playbook_key),
                connections_key: env.text("CHURN_CONNECTIONS_KEY", &defaults.connections_key),
                ..defaults
            },
        })
    }
}

/// What the function is invoked with.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// A batch of the actions queue's messages, each an EventBridge event.
    Queue(SqsEvent),
    /// `PredictionsReady` from a rule, or a schedule.
    Direct(EventBridgeEvent<serde_json::Value>),
}

/// What the function answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    Queue(SqsBatchResponse),
    Direct(Box<PushSummary>),
}

/// What an EventBridge event asks for.
pub fn request(event: &EventBridgeEvent<serde_json::Value>) -> Result<PushRequest, AppError> {
    if event.detail_type == "PredictionsReady" {
        let ready: PredictionsReady = serde_json::from_value(event.detail.clone())
            .map_err(|e| AppError::permanent(format!("a PredictionsReady event's detail: {e}")))?;
        return Ok(PushRequest::Ready(ready));
    }
    // A schedule (e.g. the end of quiet hours): its day, or the latest day with scores.
    Ok(PushRequest::Day(
        event.detail["date"].as_str().map(str::to_owned),
    ))
}

/// Handles one invocation.
pub async fn handle(
    platform: &Platform,
    config: &Config,
    providers: &Providers,
    event: Event,
) -> Result<Response, AppError> {
    let run = |event: EventBridgeEvent<serde_json::Value>| async move {
        churn_app::push::run(platform, &config.push, providers, &request(&event)?).await
    };
    let records = match event {
        Event::Direct(event) => {
            return run(event)
                .await
                .map(|summary| Response::Direct(Box::new(summary)));
        }
        Event::Queue(queue) => queue.records,
    };
    let mut response = SqsBatchResponse::default();
    let mut failed = Vec::new();
    for record in records {
        let id = record.message_id.clone().unwrap_or_default();
        let result = match serde_json::from_str(record.body.as_deref().unwrap_or_default()) {
            Ok(event) => run(event).await.map(|_| ()),
            Err(e) => Err(AppError::permanent(format!(
                "SQS message {id}: the body is not an EventBridge event ({e})"
            ))),
        };
        match result {
            Ok(()) => {}
            Err(error) if error.is_retryable() => {
                tracing::warn!(message_id = id, error = %error, "redeliver");
                response.add_failure(id);
            }
            Err(error) => {
                tracing::error!(message_id = id, error = %error, "failed for good");
                failed.push(format!("{id}: {error}"));
            }
        }
    }
    if !failed.is_empty() {
        return Err(AppError::permanent(failed.join("; ")));
    }
    Ok(Response::Queue(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_playbook_and_connections_keys_default_to_the_layout() {
        let env = Env::new(|name| (name == "CHURN_BUCKET").then(|| "b".to_owned()));
        let config = Config::read(&env).expect("defaults");
        assert_eq!(config.push.playbook_key, "config/playbook.toml");
        assert_eq!(config.push.connections_key, "config/connections.toml");
        let env = Env::new(|name| match name {
            "CHURN_BUCKET" => Some("b".into()),
            "CHURN_PLAYBOOK_KEY" => Some("team/playbook-v2.toml".into()),
            _ => None,
        });
        let config = Config::read(&env).expect("set");
        assert_eq!(config.push.playbook_key, "team/playbook-v2.toml");
    }

    #[test]
    fn a_schedule_names_its_day_or_the_latest() {
        let event: EventBridgeEvent<serde_json::Value> =
            serde_json::from_value(serde_json::json!({
                "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {}
            }))
            .expect("event");
        assert_eq!(request(&event).expect("schedule"), PushRequest::Day(None));
    }
}
