//! Helpers of the emulator tests: the clients, fresh names, tables and buckets.
//!
//! The tests need an AWS emulator at `AWS_ENDPOINT_URL` (scripts/test.sh starts moto's
//! server and exports it with dummy credentials). Without one they are skipped with a
//! message, except under CI, where a missing emulator is a failure.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use std::collections::HashMap;

use churn_io::store::ObjectList;
use churn_io::{AwsClients, Platform, Settings};
use serde_json::Value as Json;

/// The clients, pointed at the emulator, or `None` (test skipped) outside CI.
pub async fn emulator(test: &str) -> Option<AwsClients> {
    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: AWS_ENDPOINT_URL is not set; run ./scripts/test.sh, which starts the emulator"
        );
        eprintln!("{test}: skipped, no AWS_ENDPOINT_URL (./scripts/test.sh starts an emulator)");
        return None;
    }
    Some(AwsClients::from_env().await)
}

/// A name no other test (or earlier run against the same emulator) uses.
pub fn fresh(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates an on-demand table keyed by the string `pk`, as infra/ defines them.
pub async fn table(clients: &AwsClients, prefix: &str) -> String {
    let name = fresh(prefix);
    clients
        .dynamodb
        .create_table()
        .table_name(&name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .send()
        .await
        .expect("create table");
    name
}

/// Creates a bucket.
pub async fn bucket(clients: &AwsClients) -> String {
    let name = fresh("churn-test");
    clients
        .s3
        .create_bucket()
        .bucket(&name)
        .send()
        .await
        .expect("create bucket");
    name
}

/// Clients whose endpoint is a port nobody listens on: an emulator (or AWS) that went
/// away mid-run.
pub async fn unreachable() -> AwsClients {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .load()
        .await;
    AwsClients::from_config(&shared)
}

/// Held by the tests that count the e-mails SES accepted, so their counts do not mix.
pub static SES_COUNT: std::sync::LazyLock<tokio::sync::Mutex<()>> =
    std::sync::LazyLock::new(|| tokio::sync::Mutex::new(()));

/// How many e-mails moto's SES has accepted since it started. No SES v2 call reports
/// it (and moto's `/moto-api/data.json` fails once S3 holds certain keys), so this asks
/// SES v1's `GetSendQuota`, which moto answers without checking the signature.
pub async fn ses_sent() -> u64 {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("an emulator");
    let text = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetSendQuota&Version=2010-12-01")
        .send()
        .await
        .expect("moto answers")
        .text()
        .await
        .expect("text");
    text.split("<SentLast24Hours>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no SentLast24Hours in {text}")) as u64
}

/// An event of `events/`, as JSON.
pub fn event_file(name: &str) -> Json {
    let path = format!(
        "{}/../events/{name}",
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("json")
}

/// A platform of its own: a bucket, the three tables and an event bus.
pub async fn platform(clients: &AwsClients) -> Platform {
    let bus = fresh("churn-bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let names: HashMap<&str, String> = HashMap::from([
        ("CHURN_BUCKET", bucket(clients).await),
        ("CHURN_REGISTRY_TABLE", table(clients, "models").await),
        ("CHURN_LEDGER_TABLE", table(clients, "ledger").await),
        ("CHURN_ONLINE_TABLE", table(clients, "online").await),
        ("CHURN_EVENT_BUS", bus),
    ]);
    Platform::new(
        clients,
        &Settings::from_lookup(|name| names.get(name).cloned()).expect("settings"),
    )
}

/// The keys under `prefix`.
pub async fn keys(platform: &Platform, prefix: &str) -> Vec<String> {
    platform
        .store
        .list(prefix)
        .await
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect()
}
