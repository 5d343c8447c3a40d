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

use churn_app::{Platform, Settings};
use churn_io::AwsClients;
use churn_io::store::ObjectList;
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

/// The environment a function of `platform` would be deployed with (the platform's
/// names, as the template sets them), plus `extra` variables.
pub fn function_env(
    platform: &Platform,
    extra: &[(&str, &str)],
) -> impl Fn(&str) -> Option<String> + use<> {
    let settings = &platform.settings;
    let mut vars: HashMap<String, String> = [
        ("CHURN_BUCKET", settings.bucket.as_str()),
        ("CHURN_REGISTRY_TABLE", settings.registry_table.as_str()),
        ("CHURN_LEDGER_TABLE", settings.ledger_table.as_str()),
        ("CHURN_ONLINE_TABLE", settings.online_table.as_str()),
        ("CHURN_EVENT_BUS", settings.event_bus.as_str()),
        ("CHURN_EVENT_SOURCE", settings.event_source.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    move |name| vars.get(name).cloned()
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

/// A TCP proxy in front of the emulator that can be cut, as if the emulator (or AWS)
/// went away in the middle of a run: once cut, every connection is dropped and new ones
/// are refused.
#[derive(Debug, Clone)]
pub struct Cuttable {
    /// `http://127.0.0.1:<port>` of the proxy.
    pub endpoint: String,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    parts: std::sync::Arc<AtomicU32>,
}

impl Cuttable {
    /// A proxy to the emulator of `AWS_ENDPOINT_URL` that cuts itself once it has seen
    /// `parts` S3 UploadPart requests (`partNumber=` in a request line).
    pub async fn to_emulator(parts: u32) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("an emulator");
        let target = endpoint
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let proxy = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            cut: Default::default(),
            parts: Default::default(),
        };
        let (cut, seen, limit) = (proxy.cut.clone(), proxy.parts.clone(), parts);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if cut.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                let (cut_up, seen_up) = (cut.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    while let Ok(n) = client_read.read(&mut buffer).await {
                        let data = &buffer[..n];
                        let parts = data.windows(11).filter(|w| w == b"partNumber=").count() as u32;
                        if seen_up.fetch_add(parts, Ordering::SeqCst) + parts > limit {
                            cut_up.store(true, Ordering::SeqCst);
                        }
                        if n == 0 || cut_up.load(Ordering::SeqCst) {
                            break;
                        }
                        if server_write.write_all(data).await.is_err() {
                            break;
                        }
                    }
                });
                let cut_down = cut.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 64 * 1024];
                    while let Ok(n) = server_read.read(&mut buffer).await {
                        if n == 0 || cut_down.load(Ordering::SeqCst) {
                            break;
                        }
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        proxy
    }

    /// Whether it has cut.
    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Clients whose every call goes through the proxy.
    pub async fn clients(&self) -> AwsClients {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .load()
            .await;
        AwsClients::from_config(&shared)
    }
}

/// An SQS queue that an EventBridge rule on a bus forwards matching events to: what a
/// rule's target receives, for a test to read back.
#[derive(Debug)]
pub struct RoutedQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
}

impl RoutedQueue {
    /// A new queue, and a rule on `bus` that sends it the events matching `pattern`
    /// (EventBridge's JSON event pattern).
    pub async fn new(clients: &AwsClients, bus: &str, pattern: &Json) -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&shared);
        let url = sqs
            .create_queue()
            .queue_name(fresh("churn-events"))
            .send()
            .await
            .expect("queue")
            .queue_url
            .expect("url");
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("attributes")
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .expect("arn");
        let rule = fresh("churn-rule");
        clients
            .eventbridge
            .put_rule()
            .name(&rule)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .expect("rule");
        clients
            .eventbridge
            .put_targets()
            .rule(&rule)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(&arn)
                    .build()
                    .expect("target"),
            )
            .send()
            .await
            .expect("targets");
        Self { sqs, url }
    }

    /// The events that arrived (each deleted from the queue), waiting for up to `n`.
    pub async fn receive(&self, n: usize) -> Vec<Json> {
        let mut events = Vec::new();
        for _ in 0..20 {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive");
            for message in received.messages() {
                events
                    .push(serde_json::from_str(message.body().unwrap_or_default()).expect("json"));
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
            if events.len() >= n {
                break;
            }
        }
        events
    }
}
