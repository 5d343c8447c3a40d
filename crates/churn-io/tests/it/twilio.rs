use std::time::Duration;

use churn_core::playbook::Channel;
use churn_io::messaging::{MessageSend, OutboundMessage};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{sinks, twilio_at};

pub fn sms(to: &str, body: &str) -> OutboundMessage {
    OutboundMessage {
        key: "2026-12-01/discount-10-sms/C0001".into(),
        customer_id: "C0001".into(),
        action: "discount-10-sms".into(),
        channel: Channel::Sms,
        to: Some(to.into()),
        subject: None,
        body: body.into(),
        offer_code: None,
    }
}

const MESSAGES: &str = "/2010-04-01/Accounts/AC123/Messages.json";

#[tokio::test]
async fn messages_are_form_encoded_with_basic_auth() {
    let server = MockServer::start().await;
    // base64("AC123:tok-twilio-5ecret")
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header(
            "authorization",
            "Basic QUMxMjM6dG9rLXR3aWxpby01ZWNyZXQ=",
        ))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued",
            "to": "+15550001234", "from": "+15005550006",
        })))
        .mount(&server)
        .await;
    let twilio = sinks(&twilio_at(&server.uri())).await.sms.expect("sms");
    let sid = twilio
        .send(&sms("+15550001234", "10% off & more: SAVE-1"))
        .await
        .expect("sent");
    assert_eq!(sid, "SM0123456789abcdef0123456789abcdef");
    let requests = server.received_requests().await.expect("recorded");
    assert_eq!(
        String::from_utf8_lossy(&requests[0].body),
        "To=%2B15550001234&From=%2B15005550006&Body=10%25+off+%26+more%3A+SAVE-1"
    );
}

#[tokio::test]
async fn an_invalid_number_is_permanent_and_masked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "code": 21211, "status": 400,
            "message": "The 'To' number +15550009999 is not a valid phone number.",
            "more_info": "https://www.twilio.com/docs/errors/21211",
        })))
        .mount(&server)
        .await;
    let twilio = sinks(&twilio_at(&server.uri())).await.sms.expect("sms");
    let error = twilio
        .send(&sms("+15550009999", "hi"))
        .await
        .expect_err("invalid");
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(
        text.contains("21211") && text.contains("+1555***99"),
        "{text}"
    );
    assert!(
        !text.contains("+15550009999"),
        "the number is masked: {text}"
    );
}

#[tokio::test]
async fn a_timeout_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(4)))
        .mount(&server)
        .await;
    let twilio = sinks(&twilio_at(&server.uri())).await.sms.expect("sms");
    let error = twilio
        .send(&sms("+15550001234", "hi"))
        .await
        .expect_err("timed out");
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert_eq!(
        server.received_requests().await.expect("recorded").len(),
        4,
        "every try timed out"
    );
}

#[tokio::test]
async fn a_message_a_crashed_run_sent_is_found_in_the_recent_messages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .and(query_param("To", "+15550001234"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [
                { "sid": "SM-other", "body": "something else", "status": "delivered" },
                { "sid": "SM-failed", "body": "10% off: SAVE-1", "status": "failed" },
                { "sid": "SM-ours", "body": "10% off: SAVE-1", "status": "sent" },
            ],
            "page": 0, "page_size": 50,
        })))
        .mount(&server)
        .await;
    let twilio = sinks(&twilio_at(&server.uri())).await.sms.expect("sms");
    assert_eq!(
        twilio
            .find_sent(&sms("+15550001234", "10% off: SAVE-1"))
            .await
            .expect("listed"),
        Some("SM-ours".into())
    );
    assert_eq!(
        twilio
            .find_sent(&sms("+15550001234", "other text"))
            .await
            .expect("listed"),
        None
    );
}
