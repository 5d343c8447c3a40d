//! Scoring speed of a 100-tree boosted model of depth at most 6, beside the peers of
//! `../shared/data/README.md`: batch throughput on 1,000,000 pre-encoded rows on one
//! thread (what LightGBM's and XGBoost's `predict` on a matrix measure), the same from raw
//! records (encoding included), single-record latency from a raw record through the
//! artifact (reason codes excluded, then included).
//!
//! `cargo run --release -p churn-bench --bin score-speed`

#![allow(clippy::print_stdout)]

use std::time::Instant;

use churn_core::{Component, Decision, Lineage, ModelArtifact, Scorer, Value};
use churn_pipeline::features::build_as_of;
use churn_pipeline::features::data::load_dir;
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::ingest::{IngestOptions, ingest};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::encode::{self, Style};
use churn_pipeline::train::tree::bins::BinMapper;
use churn_pipeline::train::tree::boosting::{self, BoostParams};
use churn_pipeline::train::tree::grow::TreeParams;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROWS: usize = 1_000_000;

#[derive(Debug, clap::Parser)]
struct Args {
    /// Also write the benchmark model (model.bin) and 2,000 raw records (records.json)
    /// here, for the WASM scorer's benchmark (wasm-scorer/bench/bench.mjs).
    #[arg(long)]
    export: Option<std::path::PathBuf>,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args = <Args as clap::Parser>::parse();
    // Single-threaded figures: the pool has one thread.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .ok();
    let dir = std::env::temp_dir().join("churn-score-speed");
    let store = Store::new(&dir);
    let config = GenerateConfig {
        customers: 20_000,
        overwrite: true,
        ..GenerateConfig::default()
    };
    generate(&store, &config, &NoProgress)?;
    ingest(&store, &IngestOptions::new(config.end_date), &NoProgress)?;
    let summary = build_as_of(
        &store,
        config.end_date - chrono::Duration::days(89),
        90,
        None,
    )?;
    let data = load_dir(std::path::Path::new(&summary.dir), true)?;
    let rows: Vec<usize> = (0..data.len()).collect();
    let encoded = encode::fit(&data, &rows, Style::Trees, 1);
    let width = encoded.preprocessing.width();
    let mapper = BinMapper::fit(&encoded.matrix, width);
    let binned = mapper.apply(&encoded.matrix, width);
    let params = BoostParams {
        max_trees: 100,
        learning_rate: 0.1,
        tree: TreeParams {
            max_leaves: 31,
            max_depth: 6,
            min_child_weight: 1e-3,
            min_rows_in_leaf: 20,
            lambda: 1.0,
            columns_per_split: 1.0,
            symmetric: false,
        },
        row_fraction: 1.0,
        column_fraction: 1.0,
        early_stopping: usize::MAX,
        positive_weight: 1.0,
    };
    let boosted = boosting::fit(&mapper, &binned, &data.labels, None, &params, 1);
    let depth = boosted
        .ensemble
        .trees
        .iter()
        .map(|t| t.depth())
        .max()
        .unwrap_or(0);
    let artifact = ModelArtifact {
        schema_version: churn_core::ARTIFACT_SCHEMA_VERSION,
        model_id: "bench".into(),
        family: "gradient_boosting".into(),
        feature_spec: data.spec.clone(),
        components: vec![Component {
            weight: 1.0,
            preprocessing: encoded.preprocessing.clone(),
            model: churn_core::model::Model::Trees(boosted.ensemble),
        }],
        calibration: churn_core::calibration::Calibration::None,
        decision: Decision {
            threshold: 0.5,
            rule: "fixed".into(),
            medium_from: 0.1,
        },
        metrics: Default::default(),
        lineage: Lineage::default(),
    };
    if let Some(dir) = &args.export {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("model.bin"), artifact.to_binary()?)?;
        let records: Vec<serde_json::Value> = (0..data.len().min(2000))
            .map(|row| {
                let values = data.row_values(row);
                let mut object = serde_json::Map::new();
                for (feature, value) in data.spec.features.iter().zip(values) {
                    object.insert(
                        feature.name.clone(),
                        match value {
                            Value::Missing => serde_json::Value::Null,
                            Value::Number(x) => serde_json::json!(x),
                            Value::Bool(flag) => serde_json::json!(flag),
                            Value::Text(text) => serde_json::json!(text),
                        },
                    );
                }
                serde_json::Value::Object(object)
            })
            .collect();
        std::fs::write(dir.join("records.json"), serde_json::to_string(&records)?)?;
        println!("exported model.bin and records.json to {}", dir.display());
    }
    let scorer = Scorer::new(artifact)?;
    println!(
        "model: {} trees, depth <= {depth}, {width} encoded columns; {} feature rows repeated to {ROWS} rows; 1 thread",
        boosted.trees,
        data.len()
    );

    // Batch, pre-encoded.
    let component = &scorer.components()[0];
    let mut matrix = Vec::with_capacity(ROWS * width);
    while matrix.len() < ROWS * width {
        let take = (ROWS * width - matrix.len()).min(encoded.matrix.len());
        matrix.extend_from_slice(&encoded.matrix[..take]);
    }
    let mut margins = vec![0.0; ROWS];
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        scorer.component_margins(component, &matrix, &mut margins);
        runs.push(ROWS as f64 / started.elapsed().as_secs_f64());
    }
    let checksum: f64 = margins.iter().sum();
    println!(
        "  batch, encoded rows:        {:>10.2} M rows/s (median of 5; target >= 2.0; LightGBM ~0.27, XGBoost ~1.0, CatBoost ~1.1, logistic regression ~2.8)  [checksum {checksum:.3}]",
        median(runs) / 1e6
    );

    // From raw records, encoding included.
    let records: Vec<Vec<Value<'_>>> = (0..data.len()).map(|row| data.row_values(row)).collect();
    let mut buffer = Vec::new();
    let started = Instant::now();
    let mut total = 0.0;
    for index in 0..ROWS {
        total += scorer
            .score_with(&records[index % records.len()], &mut buffer)
            .map_or(0.0, |s| s.probability);
    }
    println!(
        "  one by one, raw records:    {:>10.2} M rows/s (encoding and calibration included)  [checksum {total:.3}]",
        ROWS as f64 / started.elapsed().as_secs_f64() / 1e6
    );

    // Many records given as numbers (categories as indices): the batch path of the
    // browser scorer.
    let columns = data.spec.features.len();
    let mut indexed = Vec::with_capacity(ROWS * columns);
    for index in 0..ROWS {
        for (feature, value) in records[index % records.len()].iter().enumerate() {
            indexed.push(match value {
                Value::Missing => f64::NAN,
                Value::Number(x) => *x,
                Value::Bool(flag) => f64::from(u8::from(*flag)),
                Value::Text(text) => scorer
                    .categories(feature)
                    .and_then(|c| c.iter().position(|known| known == text))
                    .map_or(f64::NAN, |i| i as f64),
            });
        }
    }
    let mut probabilities = vec![0.0; ROWS];
    let started = Instant::now();
    scorer.score_indexed(&indexed, columns, &mut probabilities)?;
    println!(
        "  batch of numeric records:    {:>10.2} M rows/s (encoding, trees and calibration)",
        ROWS as f64 / started.elapsed().as_secs_f64() / 1e6
    );

    // Single-record latency.
    let mut latencies = Vec::with_capacity(200_000);
    for index in 0..200_000 {
        let record = &records[index % records.len()];
        let started = Instant::now();
        let score = scorer.score_with(record, &mut buffer);
        latencies.push(started.elapsed().as_nanos() as f64);
        std::hint::black_box(score.ok());
    }
    println!(
        "  single record from the artifact: {:>6.2} us median (target <= 2; ONNX Runtime ~8 us, Python API ~400 us)",
        median(latencies) / 1000.0
    );
    let mut explained = Vec::with_capacity(20_000);
    for index in 0..20_000 {
        let record = &records[index % records.len()];
        let started = Instant::now();
        let explanation = scorer.explain(record);
        explained.push(started.elapsed().as_nanos() as f64);
        std::hint::black_box(explanation.ok());
    }
    println!(
        "  single record with exact TreeSHAP reasons: {:>6.1} us median",
        median(explained) / 1000.0
    );
    Ok(())
}
