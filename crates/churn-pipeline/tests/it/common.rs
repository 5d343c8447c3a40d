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

/// The reference date of test ingests: the generator's default extract date, so that
/// any generated event after it is caught as a bug of the generator.
pub const REFERENCE_DATE: &str = "2026-10-31";

/// Ingests `dir` with small chunks (so chunking is exercised), as of [`REFERENCE_DATE`].
pub fn ingest_dir(dir: &Path) -> churn_pipeline::Result<IngestReport> {
    ingest_on(dir, REFERENCE_DATE)
}

/// Writes `text` to `dir/raw/<source>/<name>`.
pub fn write_raw(dir: &Path, source: &str, name: &str, text: &[u8]) {
    let folder = dir.join("raw").join(source);
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::write(folder.join(name), text).expect("write");
}

/// The source named `name`.
pub fn source(name: &str) -> churn_pipeline::contract::Source {
    churn_pipeline::contract::Source::from_name(name).unwrap_or_else(|| panic!("no source {name}"))
}

/// The published dataset version of `dir`.
pub fn dataset(dir: &Path) -> churn_pipeline::dataset::Dataset {
    churn_pipeline::dataset::Dataset::current(&Store::new(dir)).expect("a published dataset")
}

/// The published curated table of a source.
pub fn curated_path(dir: &Path, name: &str) -> std::path::PathBuf {
    dataset(dir).curated(source(name)).local(dir)
}

/// Reads the published quarantine file of a source as JSON values.
pub fn quarantine(dir: &Path, name: &str) -> Vec<serde_json::Value> {
    let path = dataset(dir).quarantine(source(name)).local(dir);
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).expect("quarantine lines are JSON"))
        .collect()
}

/// Ingests `dir` with small chunks as of the reference date `reference` (YYYY-MM-DD).
pub fn ingest_on(dir: &Path, reference: &str) -> churn_pipeline::Result<IngestReport> {
    let reference_date =
        chrono::NaiveDate::parse_from_str(reference, "%Y-%m-%d").expect("a reference date");
    ingest(
        &Store::new(dir),
        &IngestOptions {
            chunk_rows: 4_000,
            ..IngestOptions::new(reference_date)
        },
        &NoProgress,
    )
}

/// The published ingest report (`reports/v=<version>/ingest-report.json`).
pub fn report_json(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dataset(dir).report().local(dir)).expect("report");
    serde_json::from_str(&text).expect("the report is JSON")
}
