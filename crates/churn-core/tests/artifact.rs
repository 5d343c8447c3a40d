//! The checked-in fixture of every schema version keeps loading in both encodings and
//! scores its golden records exactly; artifacts edited after training, damaged or newer
//! ones are refused with a message saying which; nothing that would not load is written.

use churn_core::preprocess::Scaling;
use churn_core::{ARTIFACT_SCHEMA_VERSION, ArtifactError, ModelArtifact, ScoreError, Scorer};
use serde_json::Value as Json;

const V1_JSON: &str = include_str!("fixtures/model-v1.json");
const V1_BINARY: &[u8] = include_bytes!("fixtures/model-v1.bin");
const V1_GOLDEN: &str = include_str!("fixtures/golden-v1.json");
const V2_JSON: &str = include_str!("fixtures/model-v2.json");
const V2_BINARY: &[u8] = include_bytes!("fixtures/model-v2.bin");
const V2_GOLDEN: &str = include_str!("fixtures/golden-v2.json");

/// Both encodings of a fixture load to the same artifact, which scores the golden records
/// bit for bit.
fn loads_and_scores(json: &str, binary: &[u8], golden: &str) -> ModelArtifact {
    let from_json = ModelArtifact::from_json(json).expect("the JSON fixture loads");
    let from_binary = ModelArtifact::from_binary(binary).expect("the binary fixture loads");
    assert!(from_json == from_binary);
    let scorer = Scorer::new(from_binary).expect("valid");
    let golden: Json = serde_json::from_str(golden).expect("golden");
    for record in golden["records"].as_array().expect("records") {
        let values = scorer
            .values_from_json(&record["values"])
            .expect("a record");
        let score = scorer.score(&values).expect("score");
        assert_eq!(
            score.probability.to_bits(),
            record["probability"]
                .as_f64()
                .expect("probability")
                .to_bits()
        );
        assert_eq!(score.tier.as_str(), record["tier"].as_str().expect("tier"));
    }
    from_json
}

#[test]
fn the_v1_fixture_loads_in_both_encodings_and_scores_the_golden_records() {
    let artifact = loads_and_scores(V1_JSON, V1_BINARY, V1_GOLDEN);
    assert_eq!(artifact.schema_version, 1);
    assert_eq!(artifact.lineage.horizon_days, None);
    assert_eq!(artifact.lineage.horizon_label(), "horizon unknown");
}

#[test]
fn the_v2_fixture_loads_in_both_encodings_and_scores_the_golden_records() {
    let artifact = loads_and_scores(V2_JSON, V2_BINARY, V2_GOLDEN);
    assert_eq!(artifact.schema_version, 2);
    assert_eq!(artifact.lineage.horizon_days, Some(90));
    assert_eq!(artifact.lineage.horizon_label(), "churn within 90 days");
}

#[test]
fn writing_gives_the_current_layout_byte_for_byte() {
    // The v2 fixture is the v1 model trained again, with its horizon: a v1 artifact given
    // that horizon and written again is exactly the v2 fixture, in both encodings.
    let mut upgraded = ModelArtifact::from_binary(V1_BINARY).expect("v1");
    upgraded.lineage.horizon_days = Some(90);
    assert_eq!(upgraded.to_binary().expect("writable"), V2_BINARY);
    assert_eq!(upgraded.to_json().expect("writable"), V2_JSON);
    let v2 = ModelArtifact::from_json(V2_JSON).expect("v2");
    assert_eq!(v2.schema_version, ARTIFACT_SCHEMA_VERSION);
    assert!(ModelArtifact::from_binary(&v2.to_binary().expect("writable")).expect("v2") == v2);
    assert!(ModelArtifact::from_json(&v2.to_json().expect("writable")).expect("v2") == v2);
    // The checksum is of the content, not of the text: reformatted JSON still loads.
    let compact = serde_json::to_string(&serde_json::from_str::<Json>(V2_JSON).expect("json"))
        .expect("compact");
    assert!(ModelArtifact::from_json(&compact).expect("compact JSON loads") == v2);
}

/// The v2 JSON fixture with `edit` applied.
fn edited(edit: impl FnOnce(&mut Json)) -> String {
    let mut json: Json = serde_json::from_str(V2_JSON).expect("json");
    edit(&mut json);
    serde_json::to_string_pretty(&json).expect("json")
}

fn is_modified(result: Result<ModelArtifact, ArtifactError>, recorded: bool) -> bool {
    match result {
        Err(error @ ArtifactError::Modified { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains("modified after training") && text.contains("retrain"),
                "{text}"
            );
            matches!(error, ArtifactError::Modified { recorded: r, .. } if r.is_some() == recorded)
        }
        _ => false,
    }
}

#[test]
fn artifacts_edited_after_training_are_refused_as_modified() {
    // The threshold (issue 12: nobody was flagged, under the same model id).
    let threshold = edited(|json| json["decision"]["threshold"] = Json::from(0.999));
    assert!(is_modified(ModelArtifact::from_json(&threshold), true));
    // One split of one tree.
    let split = edited(|json| {
        // Looked up with pointers: indexing a missing key would insert it.
        let components = json["components"].as_array_mut().expect("components");
        let node = components
            .iter_mut()
            .find_map(|c| c.pointer_mut("/model/trees/trees/0/nodes/0/threshold"))
            .expect("a tree model");
        *node = Json::from(node.as_f64().expect("a split") + 1.0);
    });
    assert!(is_modified(ModelArtifact::from_json(&split), true));
    // Removing the checksum does not help, nor does calling the file version 1.
    let unsealed = edited(|json| {
        json.as_object_mut().expect("object").remove("checksum");
    });
    assert!(is_modified(ModelArtifact::from_json(&unsealed), false));
    let relabelled = edited(|json| {
        json.as_object_mut().expect("object").remove("checksum");
        json["schema_version"] = Json::from(1);
    });
    assert!(is_modified(ModelArtifact::from_json(&relabelled), false));
    let not_hex = edited(|json| json["checksum"] = Json::from("not a checksum!!"));
    assert!(matches!(
        ModelArtifact::from_json(&not_hex),
        Err(ArtifactError::Damaged(_))
    ));

    // The binary encoding: the threshold's eight bytes, then the checksum itself.
    let artifact = ModelArtifact::from_binary(V2_BINARY).expect("v2");
    let old = artifact.decision.threshold.to_le_bytes();
    let at = V2_BINARY
        .windows(8)
        .position(|w| w == old)
        .expect("the threshold's bytes");
    let mut binary = V2_BINARY.to_vec();
    binary[at..at + 8].copy_from_slice(&0.999f64.to_le_bytes());
    assert!(is_modified(ModelArtifact::from_binary(&binary), true));
    let mut binary = V2_BINARY.to_vec();
    let last = binary.len() - 1;
    binary[last] ^= 1;
    assert!(is_modified(ModelArtifact::from_binary(&binary), true));
    // Relabelled as version 1, the body does not decode with the v1 layout.
    let mut binary = V2_BINARY.to_vec();
    binary[4..8].copy_from_slice(&1u32.to_le_bytes());
    assert!(matches!(
        ModelArtifact::from_binary(&binary),
        Err(ArtifactError::Damaged(_))
    ));
}

#[test]
fn json_records_name_what_is_wrong_with_them() {
    let scorer = Scorer::new(ModelArtifact::from_binary(V2_BINARY).expect("loads")).expect("valid");
    let error = |record: Json| {
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
    let newer = V2_JSON.replacen("\"schema_version\": 2", "\"schema_version\": 3", 1);
    match ModelArtifact::from_json(&newer) {
        Err(
            error @ ArtifactError::TooNew {
                found: 3,
                supported: 2,
            },
        ) => {
            assert!(error.to_string().contains("upgrade churn"), "{error}");
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    for fixture in [V1_BINARY, V2_BINARY] {
        let mut binary = fixture.to_vec();
        binary[4..8].copy_from_slice(&7u32.to_le_bytes());
        assert!(matches!(
            ModelArtifact::from_binary(&binary),
            Err(ArtifactError::TooNew { found: 7, .. })
        ));
        binary[4..8].copy_from_slice(&0u32.to_le_bytes());
        assert!(matches!(
            ModelArtifact::from_binary(&binary),
            Err(ArtifactError::Damaged(_))
        ));
    }
}

#[test]
fn damaged_artifacts_are_refused_not_panicked_on() {
    for fixture in [V1_BINARY, V2_BINARY] {
        for cut in [0, 3, 8, 15, 100, fixture.len() / 2, fixture.len() - 1] {
            let error = ModelArtifact::from_binary(&fixture[..cut]).expect_err("truncated");
            assert!(matches!(error, ArtifactError::Damaged(_)), "{cut}: {error}");
        }
        let mut flipped = fixture.to_vec();
        for position in (8..flipped.len()).step_by(997) {
            flipped[position] ^= 0xa5;
            // Any result but a panic is fine; most flips are caught as damage, a
            // modification or an inconsistency.
            let _ = ModelArtifact::from_binary(&flipped);
            flipped[position] ^= 0xa5;
        }
        let mut trailing = fixture.to_vec();
        trailing.push(0);
        assert!(matches!(
            ModelArtifact::from_binary(&trailing),
            Err(ArtifactError::Damaged(_))
        ));
    }
    for json in [V1_JSON, V2_JSON] {
        assert!(matches!(
            ModelArtifact::from_json(&json[..json.len() / 2]),
            Err(ArtifactError::Damaged(_))
        ));
    }
    assert!(matches!(
        ModelArtifact::from_json("{\"hello\": 1}"),
        Err(ArtifactError::Damaged(_))
    ));
    // A tree node pointing outside its tree: v1 has no checksum, so validation catches
    // it; in v2 the checksum does first.
    let broken = V1_JSON.replacen("\"left\": 1,", "\"left\": 4000000,", 1);
    assert_ne!(broken, V1_JSON);
    assert!(matches!(
        ModelArtifact::from_json(&broken),
        Err(ArtifactError::Inconsistent(_))
    ));
    let broken = V2_JSON.replacen("\"left\": 1,", "\"left\": 4000000,", 1);
    assert!(is_modified(ModelArtifact::from_json(&broken), true));
}

#[test]
fn an_artifact_with_a_number_that_is_not_finite_is_never_written() {
    let mut artifact = ModelArtifact::from_binary(V2_BINARY).expect("v2");
    let (component, column) = artifact
        .components
        .iter()
        .enumerate()
        .find_map(|(index, component)| {
            let column = component
                .preprocessing
                .scaling
                .iter()
                .position(|s| matches!(s, Scaling::Standard { .. }))?;
            Some((index, column))
        })
        .expect("a standardised column");
    let preprocessing = &artifact.components[component].preprocessing;
    let feature = preprocessing.inputs[preprocessing.output_sources()[column]]
        .feature
        .clone();
    artifact.components[component].preprocessing.scaling[column] = Scaling::Standard {
        mean: 1.0,
        std: f64::INFINITY,
    };
    let expected =
        format!("component {component}: the scaling of column {column} (of '{feature}')");
    for error in [
        artifact.to_json().expect_err("not written"),
        artifact.to_binary().expect_err("not written"),
        artifact.validate().expect_err("not valid"),
    ] {
        assert_eq!(
            error,
            ArtifactError::NotFinite {
                parameter: expected.clone()
            }
        );
        assert!(error.to_string().contains("not finite"), "{error}");
    }
    let mut artifact = ModelArtifact::from_binary(V2_BINARY).expect("v2");
    artifact.metrics.insert("test_roc_auc".into(), f64::NAN);
    assert!(matches!(
        artifact.to_json(),
        Err(ArtifactError::NotFinite { parameter }) if parameter == "the metric 'test_roc_auc'"
    ));
}
