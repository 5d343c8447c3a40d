//! `churn-batch-predict` on N customers (default 1,000,000) in one invocation: the real
//! handler, against moto's server (S3, DynamoDB, EventBridge), from the daily schedule's
//! event. Prints wall time and this process's peak resident memory during the handler
//! (what a Lambda's memory setting must hold), beside the target: within 2 GB.
//!
//! Needs an AWS emulator: `AWS_ENDPOINT_URL`, or moto's server in `.venv-tools/` (which
//! `./scripts/test.sh` installs), started here on a free port.
//!
//! `cargo run --release -p churn-bench --bin batch-predict-scale -- --customers 1000000`

#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use churn_app::config::Env;
use churn_app::{Platform, Settings};
use churn_bench::{peak_mib, reset_peak};
use churn_io::AwsClients;
use churn_io::registry::{ModelVersion, Move, Registry};
use churn_io::store::ObjectPut;
use churn_io::sync::upload_dir;
use churn_pipeline::features::build_as_of;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::models::{BINARY_FILE, train_dir};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::{RawFormat, Store};
use churn_pipeline::train::TrainOptions;
use churn_pipeline::train::family::Family;
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
struct Args {
    /// Customers to score (the data is generated once and kept in --dir).
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Working directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Only generate the data and the model (the benchmark runs this in a child process,
    /// so that the handler's peak memory is its own).
    #[arg(long, hide = true)]
    prepare: bool,
}

const TARGET_MIB: f64 = 2048.0;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = args
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("churn-batch-predict-scale"));
    let data = dir.join(format!("data-{}", args.customers));
    let store = Store::new(&data);
    println!(
        "churn-batch-predict on {} customers, in {}",
        args.customers,
        dir.display()
    );
    if churn_pipeline::dataset::Dataset::current(&store).is_err() {
        let config = GenerateConfig {
            customers: args.customers,
            format: RawFormat::Parquet,
            overwrite: true,
            ..GenerateConfig::default()
        };
        let started = Instant::now();
        generate(&store, &config, &NoProgress)?;
        ingest(&store, &IngestOptions::new(config.end_date), &NoProgress)?;
        println!(
            "  data generated and ingested in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    let model = model(&dir.join("model"))?;

    let moto = Emulator::start()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let clients = match &moto.endpoint {
            None => AwsClients::from_env().await,
            Some(endpoint) => {
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .endpoint_url(endpoint)
                    .region(aws_config::Region::new("us-east-1"))
                    .credentials_provider(aws_sdk_s3::config::Credentials::new(
                        "test", "test", None, None, "bench",
                    ))
                    .load()
                    .await;
                AwsClients::from_config(&shared)
            }
        };
        let platform = platform(&clients).await?;
        // The function's settings from this process's environment, with the platform's
        // names (CHURN_SNAPSHOT_ROWS_PER_PART and CHURN_FANOUT_ABOVE pass through).
        let settings = platform.settings.clone();
        let env = Env::new(|name| match name {
            "CHURN_BUCKET" => Some(settings.bucket.clone()),
            "CHURN_REGISTRY_TABLE" => Some(settings.registry_table.clone()),
            "CHURN_LEDGER_TABLE" => Some(settings.ledger_table.clone()),
            "CHURN_ONLINE_TABLE" => Some(settings.online_table.clone()),
            "CHURN_EVENT_BUS" => Some(settings.event_bus.clone()),
            other => std::env::var(other).ok(),
        });
        let options = churn_batch_predict::Config::read(&env)?;
        println!(
            "  snapshot in parts of {} customers (CHURN_SNAPSHOT_ROWS_PER_PART)",
            options.predict.rows_per_part
        );
        let started = Instant::now();
        // The published version's folder, then its pointer, as the ingest function does.
        let version = churn_pipeline::dataset::Dataset::current(&store)?.published.version;
        let folder = churn_core::layout::version_folder(churn_core::layout::CURATED, &version);
        upload_dir(&platform.store, &data, folder.as_str(), &[]).await?;
        let pointer = churn_core::layout::dataset_pointer();
        platform.store.upload(&pointer.local(&data), pointer.as_str()).await?;
        let bytes = std::fs::read(model.join(BINARY_FILE))?;
        let artifact = churn_core::ModelArtifact::from_binary(&bytes)?;
        let key = churn_core::layout::model_binary(&artifact.model_id).to_string();
        platform.store.put(&key, bytes).await?;
        let version = ModelVersion {
            version: artifact.model_id.clone(),
            trained_at: "bench".into(),
            artifact_key: key,
            metric_name: "roc_auc".into(),
            metric: 0.8,
            holdout: "bench".into(),
            data_hash: artifact.lineage.data_hash.clone(),
            seed: artifact.lineage.seed,
        };
        platform.registry.register(&version).await?;
        let why = Move {
            at: "bench",
            by: "bench",
            reason: "the benchmark's model",
        };
        platform.registry.promote(&version, None, why).await?;
        println!("  curated data and champion uploaded in {:.0} s", started.elapsed().as_secs_f64());

        let event = serde_json::json!({
            "version": "0", "id": "bench", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "", "time": "2026-11-01T06:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {}
        });
        println!(
            "  resident memory before the handler: {:.0} MiB",
            peak_mib().unwrap_or(f64::NAN)
        );
        reset_peak();
        let started = Instant::now();
        let summary = churn_batch_predict::handle(&platform, &options, serde_json::from_value(event)?)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        let peak = peak_mib().unwrap_or(f64::NAN);
        println!(
            "  handler: {} customers scored, {} high risk, {} online rows, in {seconds:.0} s, peak {peak:.0} MiB",
            summary.rows, summary.high_risk, summary.online_rows
        );
        println!(
            "  target: within {TARGET_MIB:.0} MiB in one invocation: {}",
            if peak <= TARGET_MIB { "met" } else { "MISSED" }
        );
        anyhow::Ok(())
    })
}

/// A model trained on a small generated data set of the same schema (the handler's
/// memory does not depend on how the model was trained).
fn model(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = dir.join("model");
    if out.join(BINARY_FILE).exists() {
        return Ok(out);
    }
    let store = Store::new(dir);
    let config = GenerateConfig {
        customers: 20_000,
        format: RawFormat::Parquet,
        overwrite: true,
        ..GenerateConfig::default()
    };
    generate(&store, &config, &NoProgress)?;
    ingest(&store, &IngestOptions::new(config.end_date), &NoProgress)?;
    let as_of = config.end_date - chrono::Duration::days(89);
    let table = build_as_of(&store, as_of, 90, None)?;
    let mut options = TrainOptions {
        trained_at: "bench".into(),
        families: vec![Family::Boosting],
        ..TrainOptions::default()
    };
    options.trials.insert(Family::Boosting, 4);
    train_dir(
        Path::new(&table.dir),
        &options.validate()?,
        Some(&out),
        dir,
        &NoProgress,
    )?;
    Ok(out)
}

async fn platform(clients: &AwsClients) -> anyhow::Result<Platform> {
    let suffix = std::process::id();
    let bus = format!("churn-bench-{suffix}");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await?;
    let bucket = format!("churn-bench-{suffix}");
    clients.s3.create_bucket().bucket(&bucket).send().await?;
    let mut tables = Vec::new();
    for name in ["models", "ledger", "online"] {
        let table = format!("churn-bench-{name}-{suffix}");
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        clients
            .dynamodb
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("pk")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("pk")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
        tables.push(table);
    }
    let settings = Settings::from_lookup(|name| match name {
        "CHURN_BUCKET" => Some(bucket.clone()),
        "CHURN_REGISTRY_TABLE" => Some(tables[0].clone()),
        "CHURN_LEDGER_TABLE" => Some(tables[1].clone()),
        "CHURN_ONLINE_TABLE" => Some(tables[2].clone()),
        "CHURN_EVENT_BUS" => Some(bus.clone()),
        _ => None,
    })?;
    Ok(Platform::new(clients, &settings))
}

/// moto's server, started here unless `AWS_ENDPOINT_URL` names one; stopped on drop.
struct Emulator {
    child: Option<std::process::Child>,
    /// The endpoint of the server started here.
    endpoint: Option<String>,
}

impl Emulator {
    fn start() -> anyhow::Result<Self> {
        if std::env::var_os("AWS_ENDPOINT_URL").is_some() {
            return Ok(Self {
                child: None,
                endpoint: None,
            });
        }
        let moto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-tools/bin/moto_server");
        if !moto.exists() {
            bail!(
                "no AWS_ENDPOINT_URL and no {}: run ./scripts/test.sh once to install moto",
                moto.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", moto.display()))?;
        let emulator = Self {
            child: Some(child),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(emulator);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        bail!("moto's server did not start on port {port}")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
        }
    }
}
