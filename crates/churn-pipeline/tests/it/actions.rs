use churn_core::Tier;
use churn_core::playbook::Playbook;
use churn_pipeline::actions::{CandidateSources, load_candidates};
use polars::prelude::*;

fn write(path: &std::path::Path, mut frame: DataFrame) {
    ParquetWriter::new(std::fs::File::create(path).expect("create"))
        .finish(&mut frame)
        .expect("write");
}

fn playbook(json: serde_json::Value) -> Playbook {
    serde_json::from_value(json).expect("playbook")
}

#[test]
fn candidates_join_scores_values_segments_and_contact_flags() {
    let dir = tempfile::tempdir().expect("dir");
    let predictions = dir.path().join("predictions.parquet");
    write(
        &predictions,
        df!(
            "customer_id" => ["C1", "C2", "C3", "C4"],
            "churn_probability" => [0.9, 0.5, 0.1, 0.8],
            "tier" => ["high", "medium", "low", "high"],
            "reason_1" => [Some("tenure_days"), None, None, Some("plan")],
            "reason_1_value" => [Some("40"), None, None, Some("basic")],
            "reason_1_impact" => [Some(0.5), None, None, Some(0.2)],
            "model_id" => ["m", "m", "m", "m"],
        )
        .expect("frame"),
    );
    let features = dir.path().join("features.parquet");
    write(
        &features,
        df!(
            "customer_id" => ["C1", "C2", "C3", "C4"],
            "monthly_charge" => [Some(70.0), Some(20.0), Some(5.0), None],
            "contract_type" => ["month-to-month", "one-year", "two-year", "month-to-month"],
        )
        .expect("frame"),
    );
    let customers = dir.path().join("customers.parquet");
    write(
        &customers,
        df!(
            "customer_id" => ["C1", "C2", "C3"],
            "email" => [Some("c1@example.com"), None, Some("c3@example.com")],
            "phone" => [Some("+15550000001"), Some("+15550000002"), None],
            "contact_opt_out" => [false, true, false],
            "do_not_contact" => [true, false, false],
        )
        .expect("frame"),
    );
    // Acts on high and medium customers, by contract type.
    let playbook = playbook(serde_json::json!({
        "format": 1, "revision": "r", "value": { "expected_months": 12 }, "budget": { "daily": 1 },
        "actions": [],
        "rules": [{ "name": "r", "tiers": ["high", "medium"], "segment": { "contract_type": ["month-to-month"], "region": ["north"] }, "actions": [] }],
        "crm_sync": { "tiers": ["high"] }
    }));
    let loaded = load_candidates(
        &CandidateSources {
            predictions: predictions.clone(),
            features: Some(features),
            customers: Some(customers),
        },
        &playbook,
    )
    .expect("candidates");
    assert_eq!(loaded.scored, 4);
    let ids: Vec<&str> = loaded
        .candidates
        .iter()
        .map(|c| c.customer_id.as_str())
        .collect();
    assert_eq!(ids, ["C1", "C2", "C4"], "the low tier is not read");
    let c1 = &loaded.candidates[0];
    assert_eq!((c1.tier, c1.probability), (Tier::High, 0.9));
    assert_eq!(c1.reasons, ["tenure days = 40"]);
    assert_eq!(c1.monthly_charge, Some(70.0));
    assert_eq!(
        c1.segment.get("contract_type").map(String::as_str),
        Some("month-to-month")
    );
    assert_eq!(c1.email.as_deref(), Some("c1@example.com"));
    assert!(c1.do_not_contact && !c1.opted_out);
    let c2 = &loaded.candidates[1];
    assert!(c2.opted_out && c2.email.is_none() && c2.reasons.is_empty());
    // C4 is not among the customers: the cautious answer.
    let c4 = &loaded.candidates[2];
    assert!(c4.opted_out && c4.monthly_charge.is_none());
    let warnings = loaded.warnings.join("\n");
    assert!(warnings.contains("'region' is not a column"), "{warnings}");
    assert!(
        warnings.contains("1 scored customers are not in"),
        "{warnings}"
    );

    // Without contact data nobody is messaged.
    let loaded = load_candidates(
        &CandidateSources {
            predictions: predictions.clone(),
            features: None,
            customers: None,
        },
        &playbook,
    )
    .expect("candidates");
    assert!(
        loaded
            .candidates
            .iter()
            .all(|c| c.opted_out && c.monthly_charge.is_none())
    );
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);

    // Not a predictions file: an error naming it.
    let error = load_candidates(
        &CandidateSources {
            predictions: dir.path().join("features.parquet"),
            features: None,
            customers: None,
        },
        &playbook,
    )
    .expect_err("not predictions")
    .to_string();
    assert!(
        error.contains("features.parquet") && error.contains("no column 'churn_probability'"),
        "{error}"
    );
}
