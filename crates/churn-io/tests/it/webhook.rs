use churn_core::playbook::Channel;
use churn_io::messaging::webhook::signature;
use churn_io::messaging::{MessageSend, OutboundMessage};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{json_body, push_at, sinks};

#[tokio::test]
async fn pushes_are_signed_and_carry_their_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/push"))
        .and(header("idempotency-key", "2026-12-01/app-push/C0001"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let push = sinks(&push_at(&server.uri())).await.push.expect("push");
    assert!(push.idempotent());
    let message = OutboundMessage {
        key: "2026-12-01/app-push/C0001".into(),
        customer_id: "C0001".into(),
        action: "app-push".into(),
        channel: Channel::Push,
        to: None,
        subject: Some("We miss you".into()),
        body: "20% off: SAVE-1".into(),
        offer_code: Some("SAVE-1".into()),
    };
    push.send(&message).await.expect("pushed");
    let requests = server.received_requests().await.expect("recorded");
    let request = &requests[0];
    let timestamp: i64 = request.headers["x-churn-timestamp"]
        .to_str()
        .expect("text")
        .parse()
        .expect("a number");
    // The receiver's check: the signature over <timestamp>.<body> with the shared key.
    assert_eq!(
        request.headers["x-churn-signature"].to_str().expect("text"),
        signature(b"whsec-push-5ecret", timestamp, &request.body)
    );
    assert_eq!(
        json_body(request),
        json!({
            "id": "2026-12-01/app-push/C0001", "type": "churn.action", "channel": "push",
            "action": "app-push", "customer_id": "C0001", "to": null,
            "subject": "We miss you", "body": "20% off: SAVE-1", "offer_code": "SAVE-1",
        })
    );
}
