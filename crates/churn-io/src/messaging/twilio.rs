//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`,
//! form-encoded, with basic auth, paced per sending number (a US long code sends about
//! one message a second).
//!
//! Twilio has no idempotency key: the dispatcher's ledger is what stops a second send,
//! and for a message a crashed run may have sent, [`MessageSend::find_sent`] looks for it
//! in the account's recent messages to that number before anything is resent.

use serde::Deserialize;

use super::{MessageSend, OutboundMessage, mask};
use crate::IoError;
use crate::http::{HttpClient, default_verdict};
use crate::secrets::{Secret, SecretRef};

/// `[sms]` with `provider = "twilio"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    #[serde(default = "base_url")]
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: SecretRef,
    /// The sending number (E.164), or leave it out and give a messaging service.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub messaging_service_sid: Option<String>,
    /// Pace of the sending number.
    #[serde(default = "messages_per_second")]
    pub messages_per_second: f64,
}

fn base_url() -> String {
    "https://api.twilio.com".into()
}

fn messages_per_second() -> f64 {
    1.0
}

/// The Twilio adapter.
#[derive(Debug)]
pub struct Twilio {
    http: HttpClient,
    messages_url: String,
    account_sid: String,
    auth_token: Secret,
    sender: (&'static str, String),
}

#[derive(Deserialize)]
struct Created {
    sid: String,
}

#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    messages: Vec<Listed>,
}

#[derive(Deserialize)]
struct Listed {
    sid: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    status: String,
}

impl Twilio {
    pub fn new(
        http: HttpClient,
        config: &TwilioConfig,
        auth_token: Secret,
    ) -> Result<Self, IoError> {
        let sender = match (&config.from, &config.messaging_service_sid) {
            (Some(from), None) => ("From", from.clone()),
            (None, Some(service)) => ("MessagingServiceSid", service.clone()),
            _ => {
                return Err(IoError::config(
                    "[sms]",
                    "give either `from` (a number) or `messaging_service_sid`",
                ));
            }
        };
        Ok(Self {
            http,
            messages_url: format!(
                "{}/2010-04-01/Accounts/{}/Messages.json",
                config.base_url.trim_end_matches('/'),
                config.account_sid
            ),
            account_sid: config.account_sid.clone(),
            auth_token,
            sender,
        })
    }

    /// Twilio's error messages quote the number: mask it before it reaches a log.
    fn masked(error: IoError, to: &str) -> IoError {
        match error {
            IoError::Http {
                provider,
                operation,
                status,
                message,
                retryable,
            } => IoError::Http {
                provider,
                operation,
                status,
                message: message.replace(to, &mask(to)),
                retryable,
            },
            other => other,
        }
    }
}

impl MessageSend for Twilio {
    fn provider(&self) -> &'static str {
        "twilio"
    }

    fn idempotent(&self) -> bool {
        false
    }

    async fn send(&self, message: &OutboundMessage) -> Result<String, IoError> {
        let to = message.to.as_deref().unwrap_or_default();
        let form = [
            ("To", to),
            (self.sender.0, self.sender.1.as_str()),
            ("Body", message.body.as_str()),
        ];
        let reply = self
            .http
            .send(
                "send message",
                |client| {
                    client
                        .post(&self.messages_url)
                        .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
                        .form(&form)
                },
                default_verdict,
            )
            .await
            .map_err(|e| Self::masked(e, to))?;
        let created: Created = reply.json("twilio", "send message")?;
        Ok(created.sid)
    }

    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<String>, IoError> {
        let to = message.to.as_deref().unwrap_or_default();
        let query = [("To", to), ("PageSize", "50")];
        let reply = self
            .http
            .send(
                "list messages",
                |client| {
                    client
                        .get(&self.messages_url)
                        .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
                        .query(&query)
                },
                default_verdict,
            )
            .await
            .map_err(|e| Self::masked(e, to))?;
        let page: Page = reply.json("twilio", "list messages")?;
        Ok(page
            .messages
            .into_iter()
            .find(|m| {
                m.body == message.body
                    && !matches!(m.status.as_str(), "failed" | "undelivered" | "canceled")
            })
            .map(|m| m.sid))
    }
}
