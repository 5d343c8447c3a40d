//! The checked-in model artifacts of every schema version and their golden scores
//! (crates/churn-core/tests/fixtures/: `model-vN.json`, `model-vN.bin`, `golden-vN.json`).
//!
//! `CHURN_UPDATE_FIXTURES=1 cargo test -p churn-pipeline --test it fixtures` trains a
//! small blend on generated data and rewrites the fixtures of the current version only:
//! those of older versions are history, kept to prove they still load. Every other run
//! checks that the native scorer reproduces each version's golden probabilities exactly.
//! The same golden files are asserted by churn-core's tests and by the wasm scorer's.

use std::path::PathBuf;

use churn_core::{ARTIFACT_SCHEMA_VERSION, ModelArtifact, Scorer, Value};
use churn_pipeline::features::data::load_dir;
use churn_pipeline::progress::NoProgress;
use churn_pipeline::train::family::Family;
use churn_pipeline::train::{TrainOptions, train};
use serde_json::{Map, Value as Json, json};

use crate::models::feature_dir;

fn fixtures() -> PathBuf {
    // The running clone's folder (read at run time: a target folder shared by clones
    // may hold a binary compiled in another one).
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
        .join("../churn-core/tests/fixtures")
}

fn to_json(value: &Value<'_>) -> Json {
    match value {
        Value::Missing => Json::Null,
        Value::Number(x) => json!(x),
        Value::Bool(flag) => json!(flag),
        Value::Text(text) => json!(text),
    }
}

fn from_json(value: &Json) -> Value<'_> {
    match value {
        Json::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        Json::Bool(flag) => Value::Bool(*flag),
        Json::String(text) => Value::Text(text),
        _ => Value::Missing,
    }
}

fn regenerate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 1500);
    let data = load_dir(&features, true).expect("load");
    let options = TrainOptions {
        families: vec![Family::Linear, Family::Boosting],
        trials: [(Family::Linear, 1), (Family::Boosting, 1)]
            .into_iter()
            .collect(),
        folds: 3,
        // One booster, not a bag of three: the fixture stays small (a third of the trees).
        bags: 1,
        trained_at: "2026-11-25T00:00:00Z".into(),
        ..TrainOptions::default()
    };
    let outcome = train(&data, &options.validate().expect("valid"), &NoProgress).expect("train");
    let artifact = outcome
        .families
        .iter()
        .find(|f| f.family == "blend")
        .or(Some(outcome.champion()))
        .and_then(|f| f.artifact.clone())
        .expect("an artifact");
    let scorer = Scorer::new(artifact.clone()).expect("valid");
    let mut records = Vec::new();
    for (index, row) in (0..data.len())
        .step_by(data.len() / 40)
        .take(40)
        .enumerate()
    {
        let mut values = data.row_values(row);
        // A few records exercise the edges: missing values and unknown categories.
        if index % 10 == 3 {
            for value in values.iter_mut().step_by(3) {
                *value = Value::Missing;
            }
        }
        if index % 10 == 7 {
            let position = data
                .spec
                .features
                .iter()
                .position(|f| f.name == "contract_type")
                .expect("contract");
            values[position] = Value::Text("Weekly Plan");
        }
        let explanation = scorer.explain(&values).expect("explain");
        let mut object = Map::new();
        for (feature, value) in data.spec.features.iter().zip(&values) {
            object.insert(feature.name.clone(), to_json(value));
        }
        records.push(json!({
            "values": object,
            "probability": explanation.score.probability,
            "tier": explanation.score.tier.as_str(),
            "reasons": explanation.top_reasons(3).map(|r| r.feature.clone()).collect::<Vec<_>>(),
        }));
    }
    let out = fixtures();
    let version = ARTIFACT_SCHEMA_VERSION;
    std::fs::create_dir_all(&out).expect("mkdir");
    std::fs::write(
        out.join(format!("model-v{version}.json")),
        artifact.to_json().expect("writable"),
    )
    .expect("write json");
    std::fs::write(
        out.join(format!("model-v{version}.bin")),
        artifact.to_binary().expect("writable"),
    )
    .expect("write bin");
    let golden = json!({
        "artifact": format!("model-v{version}.bin"),
        "model_id": artifact.model_id,
        "records": records,
    });
    std::fs::write(
        out.join(format!("golden-v{version}.json")),
        serde_json::to_string_pretty(&golden).expect("json") + "\n",
    )
    .expect("write golden");
}

#[test]
fn the_native_scorer_reproduces_the_golden_scores() {
    if std::env::var("CHURN_UPDATE_FIXTURES").is_ok_and(|v| v == "1") {
        regenerate();
    }
    for version in 1..=ARTIFACT_SCHEMA_VERSION {
        reproduces_the_golden_scores_of(version);
    }
}

fn reproduces_the_golden_scores_of(version: u32) {
    let dir = fixtures();
    let file = |kind: &str, extension: &str| dir.join(format!("{kind}-v{version}.{extension}"));
    let json = std::fs::read_to_string(file("model", "json"))
        .unwrap_or_else(|e| panic!("model-v{version}.json is checked in: {e}"));
    let loaded_json = ModelArtifact::from_json(&json)
        .unwrap_or_else(|e| panic!("the v{version} JSON artifact loads: {e}"));
    let from_binary =
        ModelArtifact::from_binary(&std::fs::read(file("model", "bin")).expect("bin"))
            .unwrap_or_else(|e| panic!("the v{version} binary artifact loads: {e}"));
    assert!(
        loaded_json == from_binary,
        "v{version}: both encodings hold the same model"
    );
    assert_eq!(from_binary.schema_version, version);
    let scorer = Scorer::new(from_binary).expect("valid");
    let golden: Json =
        serde_json::from_str(&std::fs::read_to_string(file("golden", "json")).expect("golden"))
            .expect("golden json");
    let records = golden["records"].as_array().expect("records");
    assert!(records.len() >= 40);
    for (index, record) in records.iter().enumerate() {
        let values: Vec<Value<'_>> = scorer
            .artifact()
            .feature_spec
            .features
            .iter()
            .map(|f| from_json(&record["values"][&f.name]))
            .collect();
        let explanation = scorer.explain(&values).expect("explain");
        let expected = record["probability"].as_f64().expect("probability");
        assert_eq!(
            explanation.score.probability.to_bits(),
            expected.to_bits(),
            "v{version} record {index}: bit-for-bit"
        );
        assert_eq!(
            explanation.score.tier.as_str(),
            record["tier"].as_str().expect("tier")
        );
        let reasons: Vec<String> = explanation
            .top_reasons(3)
            .map(|r| r.feature.clone())
            .collect();
        let golden_reasons: Vec<String> = record["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(reasons, golden_reasons, "v{version} record {index}");
    }
}
