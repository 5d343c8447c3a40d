//! The wasm scorer against the golden files of every artifact version (the same ones the
//! native tests assert), artifacts edited after training, and every bad input of the
//! issue. Runs in Node and in headless Chromium through wasm-bindgen-test-runner (see
//! build.sh).

use churn_wasm_scorer::WasmScorer;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

const BINARY: &[u8] = include_bytes!("../../crates/churn-core/tests/fixtures/model-v1.bin");
const GOLDEN: &str = include_str!("../../crates/churn-core/tests/fixtures/golden-v1.json");
const V2_BINARY: &[u8] = include_bytes!("../../crates/churn-core/tests/fixtures/model-v2.bin");
const V2_GOLDEN: &str = include_str!("../../crates/churn-core/tests/fixtures/golden-v2.json");

fn message(error: wasm_bindgen::JsError) -> String {
    let value: JsValue = error.into();
    js_sys::Error::from(value).message().into()
}

fn score(
    scorer: &mut WasmScorer,
    tags: &[u8],
    numbers: &[f64],
    texts: &str,
) -> Result<f64, wasm_bindgen::JsError> {
    let packed: Vec<f64> = tags
        .iter()
        .map(|&t| f64::from(t))
        .chain(numbers.iter().copied())
        .collect();
    scorer.score_packed(&packed, texts)
}

fn explain(
    scorer: &WasmScorer,
    tags: &[u8],
    numbers: &[f64],
    texts: &str,
) -> Result<Vec<f64>, wasm_bindgen::JsError> {
    let packed: Vec<f64> = tags
        .iter()
        .map(|&t| f64::from(t))
        .chain(numbers.iter().copied())
        .collect();
    scorer.explain_packed(&packed, texts, 3)
}

/// Packs a golden record as js/record.mjs would: tags then numbers, and the texts.
fn pack(scorer: &WasmScorer, record: &serde_json::Value) -> (Vec<u8>, Vec<f64>, String) {
    let mut tags = Vec::new();
    let mut numbers = Vec::new();
    let mut texts = Vec::new();
    for name in scorer.feature_names() {
        match &record[&name] {
            serde_json::Value::Number(n) => {
                tags.push(1);
                numbers.push(n.as_f64().unwrap_or(f64::NAN));
            }
            serde_json::Value::Bool(flag) => {
                tags.push(2);
                numbers.push(f64::from(u8::from(*flag)));
            }
            serde_json::Value::String(text) => {
                tags.push(3);
                numbers.push(0.0);
                texts.push(text.clone());
            }
            _ => {
                tags.push(0);
                numbers.push(0.0);
            }
        }
    }
    (tags, numbers, texts.join("\u{1f}"))
}

#[wasm_bindgen_test]
fn golden_probabilities_and_reasons_are_bit_for_bit_the_native_ones() {
    assert_eq!(WasmScorer::artifact_version(), 2);
    for (binary, golden) in [(BINARY, GOLDEN), (V2_BINARY, V2_GOLDEN)] {
        scores_the_golden_records(binary, golden);
    }
}

fn scores_the_golden_records(binary: &[u8], golden: &str) {
    let mut scorer = WasmScorer::new(binary).expect("the fixture loads");
    let golden: serde_json::Value = serde_json::from_str(golden).expect("golden");
    assert_eq!(scorer.model_id(), golden["model_id"].as_str().expect("id"));
    let records = golden["records"].as_array().expect("records");
    assert!(records.len() >= 40);
    let names = scorer.feature_names();
    for (index, record) in records.iter().enumerate() {
        let (tags, numbers, texts) = pack(&scorer, &record["values"]);
        let probability = score(&mut scorer, &tags, &numbers, &texts).expect("score");
        let expected = record["probability"].as_f64().expect("probability");
        assert_eq!(
            probability.to_bits(),
            expected.to_bits(),
            "record {index}: {probability} vs {expected}"
        );
        let explained = explain(&scorer, &tags, &numbers, &texts).expect("explain");
        assert_eq!(explained[0].to_bits(), expected.to_bits());
        let tier = ["low", "medium", "high"][explained[1] as usize];
        assert_eq!(
            tier,
            record["tier"].as_str().expect("tier"),
            "record {index}"
        );
        let reasons: Vec<&str> = explained[4..]
            .chunks(2)
            .map(|pair| names[pair[0] as usize].as_str())
            .collect();
        let golden_reasons: Vec<&str> = record["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .map(|r| r.as_str().unwrap_or(""))
            .collect();
        assert_eq!(reasons, golden_reasons, "record {index}");
    }
}

#[wasm_bindgen_test]
fn damaged_and_newer_artifacts_are_errors_not_crashes() {
    for binary in [BINARY, V2_BINARY] {
        for cut in [0, 7, 100, binary.len() - 1] {
            let error = WasmScorer::new(&binary[..cut]).expect_err("truncated");
            assert!(message(error).contains("damaged"));
        }
        let mut newer = binary.to_vec();
        newer[4..8].copy_from_slice(&9u32.to_le_bytes());
        let text = message(WasmScorer::new(&newer).expect_err("newer"));
        assert!(
            text.contains("schema version 9") && text.contains("upgrade churn"),
            "{text}"
        );
        let mut corrupted = binary.to_vec();
        for position in (9..corrupted.len()).step_by(1013) {
            corrupted[position] ^= 0x5a;
        }
        // Any error is fine; a panic would abort the test.
        let _ = WasmScorer::new(&corrupted);
    }
}

#[wasm_bindgen_test]
fn artifacts_edited_after_training_are_refused_as_modified() {
    // Issue 12: a threshold edited (nobody flagged) loaded under the same model id.
    let threshold = WasmScorer::new(V2_BINARY).expect("loads").threshold();
    let at = V2_BINARY
        .windows(8)
        .position(|w| w == threshold.to_le_bytes())
        .expect("the threshold's bytes");
    let mut edited = V2_BINARY.to_vec();
    edited[at..at + 8].copy_from_slice(&0.999f64.to_le_bytes());
    let text = message(WasmScorer::new(&edited).expect_err("edited"));
    assert!(
        text.contains("modified after training") && text.contains("retrain"),
        "{text}"
    );
    // The checksum itself edited.
    let mut edited = V2_BINARY.to_vec();
    let last = edited.len() - 1;
    edited[last] ^= 0x10;
    assert!(message(WasmScorer::new(&edited).expect_err("edited")).contains("modified"));
}

#[wasm_bindgen_test]
fn bad_records_are_errors_and_the_scorer_keeps_working() {
    let mut scorer = WasmScorer::new(BINARY).expect("loads");
    let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden");
    let good = &golden["records"][0]["values"];
    let (tags, numbers, texts) = pack(&scorer, good);
    let names = scorer.feature_names();
    let kinds = scorer.feature_kinds();
    let numeric = kinds
        .iter()
        .position(|k| k == "numeric")
        .expect("a numeric feature");
    let categorical = kinds
        .iter()
        .position(|k| k == "categorical")
        .expect("a categorical feature");

    // A string where a number belongs.
    let mut as_text = good.clone();
    as_text[&names[numeric]] = serde_json::json!("12");
    let (t, n, x) = pack(&scorer, &as_text);
    let error = message(score(&mut scorer, &t, &n, &x).expect_err("text for a number"));
    assert!(
        error.contains(&format!("feature '{}' expects a number", names[numeric])),
        "{error}"
    );

    // NaN and Infinity.
    for bad in [f64::NAN, f64::INFINITY] {
        let mut numbers = numbers.clone();
        numbers[numeric] = bad;
        let mut tags = tags.clone();
        tags[numeric] = 1;
        let error = message(score(&mut scorer, &tags, &numbers, &texts).expect_err("not finite"));
        assert!(error.contains("send null for an unknown value"), "{error}");
    }

    // An object.
    let mut tags_object = tags.clone();
    tags_object[numeric] = 4;
    assert!(score(&mut scorer, &tags_object, &numbers, &texts).is_err());

    // An unknown category is allowed (scored like a missing one).
    let mut unknown = good.clone();
    unknown[&names[categorical]] = serde_json::json!("Galactic Plan");
    let (t, n, x) = pack(&scorer, &unknown);
    let probability = score(&mut scorer, &t, &n, &x).expect("unknown category");
    assert!((0.0..=1.0).contains(&probability));

    // Batches: empty, and not a multiple of the column count.
    let columns = names.len();
    assert!(message(scorer.score_batch(&[], columns).expect_err("empty")).contains("empty"));
    let error = message(
        scorer
            .score_batch(&vec![0.0; columns + 1], columns)
            .expect_err("ragged"),
    );
    assert!(error.contains("not a multiple"), "{error}");
    assert!(
        scorer
            .score_batch(&vec![0.0; columns], columns + 1)
            .is_err()
    );

    // After all that, the scorer still scores the good record exactly.
    let again = score(&mut scorer, &tags, &numbers, &texts).expect("still works");
    let expected = golden["records"][0]["probability"].as_f64().expect("p");
    assert_eq!(again.to_bits(), expected.to_bits());
}

#[wasm_bindgen_test]
fn batches_of_numbers_score_like_records() {
    let mut scorer = WasmScorer::new(BINARY).expect("loads");
    let golden: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden");
    let names = scorer.feature_names();
    let kinds = scorer.feature_kinds();
    let mut values = Vec::new();
    let mut expected = Vec::new();
    for record in golden["records"].as_array().expect("records") {
        let row = &record["values"];
        let mut usable = true;
        let mut numbers = Vec::new();
        for (name, kind) in names.iter().zip(&kinds) {
            numbers.push(match (&row[name], kind.as_str()) {
                (serde_json::Value::Null, _) => f64::NAN,
                (serde_json::Value::Bool(flag), _) => f64::from(u8::from(*flag)),
                (serde_json::Value::Number(n), _) => n.as_f64().unwrap_or(f64::NAN),
                (serde_json::Value::String(text), _) => {
                    let categories = scorer.categories(name).expect("categories");
                    match categories.iter().position(|c| c == text) {
                        Some(index) => index as f64,
                        None => {
                            usable = false; // an unknown category has no index
                            f64::NAN
                        }
                    }
                }
                _ => f64::NAN,
            });
        }
        if usable {
            values.extend(numbers);
            expected.push(record["probability"].as_f64().expect("p"));
        }
    }
    let scores = scorer.score_batch(&values, names.len()).expect("batch");
    assert_eq!(scores.len(), expected.len());
    for (got, want) in scores.iter().zip(&expected) {
        assert_eq!(got.to_bits(), want.to_bits());
    }
}
