//! A webhook for anything else (a push-notification service, a data warehouse, Zapier):
//! one JSON `POST` per action, signed with HMAC-SHA256 over `<timestamp>.<body>` in
//! `X-Churn-Signature: sha256=<hex>` (with the timestamp in `X-Churn-Timestamp`, so a
//! receiver can refuse replays), and the action's key in `Idempotency-Key`: receivers
//! must treat a repeated key as the same action, which makes resending safe.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

use super::{MessageSend, OutboundMessage};
use crate::IoError;
use crate::http::{HttpClient, default_verdict};
use crate::secrets::{Secret, SecretRef};

/// `[webhook]` and `[push]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// The signing key, shared with the receiver.
    pub secret: SecretRef,
    #[serde(default = "requests_per_second")]
    pub requests_per_second: f64,
}

fn requests_per_second() -> f64 {
    10.0
}

/// The webhook adapter.
#[derive(Debug)]
pub struct Webhook {
    http: HttpClient,
    url: String,
    secret: Secret,
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `<timestamp>.<body>`).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

impl Webhook {
    pub fn new(http: HttpClient, config: &WebhookConfig, secret: Secret) -> Self {
        Self {
            http,
            url: config.url.clone(),
            secret,
        }
    }
}

impl MessageSend for Webhook {
    fn provider(&self) -> &'static str {
        self.http.provider()
    }

    fn idempotent(&self) -> bool {
        true
    }

    async fn send(&self, message: &OutboundMessage) -> Result<String, IoError> {
        let body = json!({
            "id": message.key,
            "type": "churn.action",
            "channel": message.channel.as_str(),
            "action": message.action,
            "customer_id": message.customer_id,
            "to": message.to,
            "subject": message.subject,
            "body": message.body,
            "offer_code": message.offer_code,
        })
        .to_string();
        self.http
            .send(
                "post",
                |client| {
                    let timestamp = crate::now_epoch();
                    client
                        .post(&self.url)
                        .header("content-type", "application/json")
                        .header("idempotency-key", &message.key)
                        .header("x-churn-timestamp", timestamp.to_string())
                        .header(
                            "x-churn-signature",
                            signature(self.secret.expose().as_bytes(), timestamp, body.as_bytes()),
                        )
                        .body(body.clone())
                },
                default_verdict,
            )
            .await?;
        Ok(message.key.clone())
    }

    async fn find_sent(&self, _message: &OutboundMessage) -> Result<Option<String>, IoError> {
        // Resending is safe: the receiver deduplicates by Idempotency-Key.
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn signs_like_the_documented_recipe() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec'
        assert_eq!(
            signature(b"whsec", 1_700_000_000, br#"{"a":1}"#),
            "sha256=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032"
        );
    }
}
