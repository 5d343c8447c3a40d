//! The v1 artifact fixture keeps loading, scores the golden records exactly, and damaged
//! or newer artifacts are refused with a message saying which.

use churn_core::{ArtifactError, ModelArtifact, ScoreError, Scorer};

const JSON: &str = include_str!("fixtures/model-v1.json");
const BINARY: &[u8] = include_bytes!("fixtures/model-v1.bin");
const GOLDEN: &str = include_str!("fixtures/golden-v1.json");

#[test]
fn the_v1_fixture_loads_in_both_encodings_and_scores_the_golden_records() {
    let from_json = ModelArtifact::from_json(JSON).expect("v1 JSON loads");
    let from_binary = ModelArtifact::from_binary(BINARY).expect("v1 binary loads");
    assert!(from_json == from_binary);
    assert_eq!(from_json.schema_version, 1);
    let scorer = Scorer::new(from_binary).expect("valid");
    let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden");
    for record in golden["records"].as_array().expect("records") {
        let values = scorer
            .values_from_json(&record["values"])
            .expect("a record");
        let score = scorer.score(&values).expect("score");
        assert_eq!(
            score.probability,
            record["probability"].as_f64().expect("probability")
        );
        assert_eq!(score.tier.as_str(), record["tier"].as_str().expect("tier"));
    }
}

#[test]
fn json_records_name_what_is_wrong_with_them() {
    let scorer = Scorer::new(ModelArtifact::from_binary(BINARY).expect("loads")).expect("valid");
    let error = |record: serde_json::Value| {
        scorer
            .values_from_json(&record)
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        error(serde_json::json!({"Tenure Days": 3})),
        "'Tenure Days' is not a feature of this model, did you mean 'tenure_days'?"
    );
    assert_eq!(
        error(serde_json::json!({"shoe_size": 3})),
        "'shoe_size' is not a feature of this model"
    );
    assert_eq!(
        error(serde_json::json!({"tenure_days": [3]})),
        "feature 'tenure_days' expects a number, got an array"
    );
    assert!(error(serde_json::json!([1, 2])).contains("got an array"));
    // Missing and null fields are unknown, not errors.
    let unknown = serde_json::json!({"tenure_days": null});
    let values = scorer.values_from_json(&unknown).expect("record");
    assert_eq!(values.len(), scorer.feature_count());
    assert!(scorer.score(&values).is_ok());
    // A wrong type is found when scoring, with the feature's name.
    let spelt = serde_json::json!({"tenure_days": "forty-two"});
    let values = scorer.values_from_json(&spelt).expect("record");
    assert!(matches!(
        scorer.score(&values),
        Err(ScoreError::WrongType { feature, .. }) if feature == "tenure_days"
    ));
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
