//! Helpers shared by the integration tests.

use std::path::Path;

use churn_pipeline::generate::{GenerateConfig, GenerateManifest, generate};
use churn_pipeline::ingest::{IngestOptions, IngestReport, ingest};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::{RawFormat, Store};

/// Generates `customers` customers into `dir`.
pub fn generate_into(dir: &Path, customers: u64, dirt: f64, format: RawFormat) -> GenerateManifest {
    let config = GenerateConfig {
        customers,
        seed: 7,
        format,
        dirt_rate: dirt,
        customers_per_file: customers.div_ceil(2).max(1),
        overwrite: true,
        ..GenerateConfig::default()
    };
    generate(&Store::new(dir), &config, &NoProgress).expect("generate")
}

/// Ingests `dir` with small chunks (so chunking is exercised).
pub fn ingest_dir(dir: &Path) -> churn_pipeline::Result<IngestReport> {
    ingest(
        &Store::new(dir),
        &IngestOptions { chunk_rows: 4_000 },
        &NoProgress,
    )
}

/// Writes `text` to `dir/raw/<source>/<name>`.
pub fn write_raw(dir: &Path, source: &str, name: &str, text: &[u8]) {
    let folder = dir.join("raw").join(source);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join(name), text).expect("write");
}

/// Reads the quarantine file of a source as JSON values.
pub fn quarantine(dir: &Path, source: &str) -> Vec<serde_json::Value> {
    let path = dir.join("quarantine").join(format!("{source}.jsonl"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("quarantine lines are JSON"))
        .collect()
}
