use churn_core::playbook::{Channel, Day};
use churn_io::action_ledger::{ActionClaim, ActionLedger, DynamoActionLedger};
use churn_io::messaging::ses::{Ses, SesConfig};
use churn_io::messaging::{MessageSend, OutboundMessage};
use churn_io::secrets::{SecretRef, Secrets};
use churn_tests::{SES_COUNT, emulator, fresh, ses_sent, table};

#[tokio::test]
async fn the_action_ledger_claims_once_and_remembers_the_last_day_per_group() {
    let Some(clients) = emulator("action ledger").await else {
        return;
    };
    let ledger = DynamoActionLedger::new(
        clients.dynamodb.clone(),
        table(&clients, "ledger").await,
        300,
    );
    let key = "2026-12-01/discount-sms/C0001";
    assert_eq!(
        ledger.claim(key, 1000).await.expect("claim"),
        ActionClaim::Fresh
    );
    assert_eq!(
        ledger.claim(key, 1200).await.expect("claim"),
        ActionClaim::Busy { lease_until: 1300 }
    );
    // The holder died: the next claim after the lease says so.
    assert_eq!(
        ledger.claim(key, 1301).await.expect("claim"),
        ActionClaim::Resumed
    );
    ledger
        .finish(key, 1302, "sent twilio SM1")
        .await
        .expect("finish");
    assert_eq!(
        ledger.claim(key, 5000).await.expect("claim"),
        ActionClaim::Done {
            outcome: "sent twilio SM1".into()
        }
    );
    ledger
        .release("2026-12-01/x/C9")
        .await
        .expect("releasing nothing is fine");

    // Cool-down days: a later day wins, an earlier one does not overwrite it; more
    // pairs than one BatchGetItem takes.
    let day = |t: &str| Day::parse(t).expect("day");
    ledger
        .record_sent("C0001", "discount", day("2026-11-20"))
        .await
        .expect("sent");
    ledger
        .record_sent("C0001", "discount", day("2026-10-01"))
        .await
        .expect("sent");
    for i in 0..130 {
        ledger
            .record_sent(&format!("C{i:04}"), "call", day("2026-11-30"))
            .await
            .expect("sent");
    }
    let mut pairs: Vec<(String, String)> = (0..150)
        .map(|i| (format!("C{i:04}"), "call".to_owned()))
        .collect();
    pairs.push(("C0001".into(), "discount".into()));
    pairs.push(("C0002".into(), "discount".into()));
    let history = ledger.history(&pairs).await.expect("history");
    assert_eq!(history.len(), 131);
    assert_eq!(history.last("C0001", "discount"), Some(day("2026-11-20")));
    assert_eq!(history.last("C0129", "call"), Some(day("2026-11-30")));
    assert_eq!(history.last("C0130", "call"), None);
    assert_eq!(history.last("C0002", "discount"), None);
}

#[tokio::test]
async fn secrets_come_from_secrets_manager_fields() {
    let Some(clients) = emulator("secrets").await else {
        return;
    };
    let name = fresh("churn/crm");
    clients
        .secrets_manager()
        .create_secret()
        .name(&name)
        .secret_string(r#"{"token": "pat-na1-from-manager", "other": 3}"#)
        .send()
        .await
        .expect("create secret");
    let secrets = Secrets::with_env(|_| None, Some(clients.secrets_manager()));
    let field = |key: &str| SecretRef::Manager {
        secret: name.clone(),
        key: Some(key.into()),
    };
    let token = secrets
        .resolve("crm.token", &field("token"))
        .await
        .expect("resolved");
    assert_eq!(token.expose(), "pat-na1-from-manager");
    let whole = secrets
        .resolve(
            "crm.token",
            &SecretRef::Manager {
                secret: name.clone(),
                key: None,
            },
        )
        .await
        .expect("whole value");
    assert!(whole.expose().contains("pat-na1-from-manager"));
    for (key, message) in [
        ("missing", "is not in the secret"),
        ("other", "is not a non-empty string"),
    ] {
        let error = secrets
            .resolve("crm.token", &field(key))
            .await
            .expect_err("bad field");
        assert!(error.to_string().contains(message), "{error}");
        assert!(!error.to_string().contains("pat-na1"), "{error}");
    }
    let error = secrets
        .resolve(
            "crm.token",
            &SecretRef::Manager {
                secret: fresh("churn/none"),
                key: None,
            },
        )
        .await
        .expect_err("no such secret");
    assert!(!error.is_retryable(), "{error}");
}

#[tokio::test]
async fn e_mail_goes_through_ses_from_a_verified_identity() {
    let Some(clients) = emulator("ses").await else {
        return;
    };
    let from = format!("{}@example.com", fresh("retention"));
    let ses = Ses::new(
        clients.ses(),
        &SesConfig {
            from: from.clone(),
            configuration_set: None,
            emails_per_second: 50.0,
        },
    );
    let message = OutboundMessage {
        key: "2026-12-01/discount-20-email/C0001".into(),
        customer_id: "C0001".into(),
        action: "discount-20-email".into(),
        channel: Channel::Email,
        to: Some("c0001@example.com".into()),
        subject: Some("20% off".into()),
        body: format!("Use SAVE-{} for 20% off", from.len()),
        offer_code: None,
    };
    let _counting = SES_COUNT.lock().await;
    let before = ses_sent().await;
    // SES refuses a sender that is not verified, for good.
    let error = ses.send(&message).await.expect_err("unverified sender");
    assert!(!error.is_retryable(), "{error}");
    clients
        .ses()
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("identity");
    let id = ses.send(&message).await.expect("sent");
    assert!(!id.is_empty());
    assert_eq!(
        ses_sent().await,
        before + 1,
        "one e-mail accepted, the refused one not"
    );
}
