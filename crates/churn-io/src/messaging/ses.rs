//! E-mail through Amazon SES v2 (`SendEmail`), from a verified sender, tagged with the
//! action id so SES's event destinations can report opens and bounces per action.

use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};
use serde::Deserialize;

use super::{MessageSend, OutboundMessage};
use crate::IoError;
use crate::http::RateLimit;

/// `[email]` with `provider = "ses"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesConfig {
    /// A verified identity (`retention@example.com`).
    pub from: String,
    #[serde(default)]
    pub configuration_set: Option<String>,
    /// The account's sending rate.
    #[serde(default = "emails_per_second")]
    pub emails_per_second: f64,
}

fn emails_per_second() -> f64 {
    14.0
}

/// The SES adapter.
#[derive(Debug)]
pub struct Ses {
    client: aws_sdk_sesv2::Client,
    from: String,
    configuration_set: Option<String>,
    limit: RateLimit,
}

impl Ses {
    pub fn new(client: aws_sdk_sesv2::Client, config: &SesConfig) -> Self {
        Self {
            client,
            from: config.from.clone(),
            configuration_set: config.configuration_set.clone(),
            limit: RateLimit::new(
                config.emails_per_second.ceil().max(1.0) as u32,
                config.emails_per_second,
            ),
        }
    }
}

fn content(text: &str) -> Result<Content, IoError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| IoError::config("e-mail", e.to_string()))
}

impl MessageSend for Ses {
    fn provider(&self) -> &'static str {
        "ses"
    }

    fn idempotent(&self) -> bool {
        false
    }

    async fn send(&self, message: &OutboundMessage) -> Result<String, IoError> {
        self.limit.acquire().await;
        let email = Message::builder()
            .subject(content(message.subject.as_deref().unwrap_or_default())?)
            .body(Body::builder().text(content(&message.body)?).build())
            .build();
        let tag = MessageTag::builder()
            .name("action")
            .value(&message.action)
            .build()
            .map_err(|e| IoError::config("e-mail tag", e.to_string()))?;
        let output = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(message.to.as_deref().unwrap_or_default())
                    .build(),
            )
            .content(EmailContent::builder().simple(email).build())
            .email_tags(tag)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| {
                IoError::sdk(
                    "SendEmail",
                    format!("e-mail for {}", message.customer_id),
                    e,
                )
            })?;
        Ok(output.message_id().unwrap_or_default().to_owned())
    }

    async fn find_sent(&self, message: &OutboundMessage) -> Result<Option<String>, IoError> {
        Err(IoError::config(
            format!("e-mail {}", message.key),
            "SES cannot tell whether an e-mail was sent",
        ))
    }
}
