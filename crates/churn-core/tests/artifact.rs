//! The v1 artifact fixture keeps loading, scores the golden records exactly, and damaged
//! or newer artifacts are refused with a message saying which.

use churn_core::{ArtifactError, ModelArtifact, Scorer, Value};

const JSON: &str = include_str!("fixtures/model-v1.json");
const BINARY: &[u8] = include_bytes!("fixtures/model-v1.bin");
const GOLDEN: &str = include_str!("fixtures/golden-v1.json");

fn value(json: &serde_json::Value) -> Value<'_> {
    match json {
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::Bool(flag) => Value::Bool(*flag),
        serde_json::Value::String(text) => Value::Text(text),
        _ => Value::Missing,
    }
}

#[test]
fn the_v1_fixture_loads_in_both_encodings_and_scores_the_golden_records() {
    let from_json = ModelArtifact::from_json(JSON).expect("v1 JSON loads");
    let from_binary = ModelArtifact::from_binary(BINARY).expect("v1 binary loads");
    assert!(from_json == from_binary);
    assert_eq!(from_json.schema_version, 1);
    let scorer = Scorer::new(from_binary).expect("valid");
    let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden");
    for record in golden["records"].as_array().expect("records") {
        let values: Vec<Value<'_>> = scorer
            .artifact()
            .feature_spec
            .features
            .iter()
            .map(|f| value(&record["values"][&f.name]))
            .collect();
        let score = scorer.score(&values).expect("score");
        assert_eq!(
            score.probability,
            record["probability"].as_f64().expect("probability")
        );
        assert_eq!(score.tier.as_str(), record["tier"].as_str().expect("tier"));
    }
}

#[test]
fn newer_artifacts_are_refused_before_decoding() {
    let newer = JSON.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
    match ModelArtifact::from_json(&newer) {
        Err(
            error @ ArtifactError::TooNew {
                found: 2,
                supported: 1,
            },
        ) => {
            assert!(error.to_string().contains("upgrade churn"), "{error}");
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let mut binary = BINARY.to_vec();
    binary[4..8].copy_from_slice(&7u32.to_le_bytes());
    assert!(matches!(
        ModelArtifact::from_binary(&binary),
        Err(ArtifactError::TooNew { found: 7, .. })
    ));
}

#[test]
fn damaged_artifacts_are_refused_not_panicked_on() {
    for cut in [0, 3, 8, 100, BINARY.len() / 2, BINARY.len() - 1] {
        let error = ModelArtifact::from_binary(&BINARY[..cut]).expect_err("truncated");
        assert!(matches!(error, ArtifactError::Damaged(_)), "{cut}: {error}");
    }
    let mut flipped = BINARY.to_vec();
    for position in (8..flipped.len()).step_by(997) {
        flipped[position] ^= 0xa5;
        // Any result but a panic is fine; most flips are caught as damage or inconsistency.
        let _ = ModelArtifact::from_binary(&flipped);
        flipped[position] ^= 0xa5;
    }
    let mut trailing = BINARY.to_vec();
    trailing.push(0);
    assert!(matches!(
        ModelArtifact::from_binary(&trailing),
        Err(ArtifactError::Damaged(_))
    ));
    assert!(matches!(
        ModelArtifact::from_json(&JSON[..JSON.len() / 2]),
        Err(ArtifactError::Damaged(_))
    ));
    assert!(matches!(
        ModelArtifact::from_json("{\"hello\": 1}"),
        Err(ArtifactError::Damaged(_))
    ));
    // A tree node pointing outside its tree is caught by validation.
    let broken = JSON.replacen("\"left\": 1,", "\"left\": 4000000,", 1);
    if broken != JSON {
        assert!(matches!(
            ModelArtifact::from_json(&broken),
            Err(ArtifactError::Inconsistent(_))
        ));
    }
}
