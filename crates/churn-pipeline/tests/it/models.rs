use std::path::{Path, PathBuf};

use churn_core::{ModelArtifact, Scorer};
use churn_pipeline::features::build_as_of;
use churn_pipeline::features::data::load_dir;
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::{RawFormat, Store};
use churn_pipeline::train::family::Family;
use churn_pipeline::train::{TrainOptions, ValidTrainOptions, train};

use crate::common::{generate_into, ingest_dir};

/// A labelled feature folder built from generated data, shared by the model tests.
pub fn feature_dir(dir: &Path, customers: u64) -> PathBuf {
    generate_into(dir, customers, 0.0, RawFormat::Parquet);
    ingest_dir(dir).expect("ingest");
    let summary = build_as_of(
        &Store::new(dir),
        chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date"),
        90,
        None,
    )
    .expect("features");
    PathBuf::from(summary.dir)
}

/// Quick options: few trials, so debug builds stay fast.
pub fn quick_options() -> TrainOptions {
    TrainOptions {
        trials: [
            (Family::Linear, 2),
            (Family::Forest, 1),
            (Family::Boosting, 2),
        ]
        .into_iter()
        .collect(),
        folds: 3,
        ..TrainOptions::default()
    }
}

/// Options checked as training requires.
pub fn valid(options: TrainOptions) -> ValidTrainOptions {
    options.validate().expect("valid options")
}

fn without_time(mut artifact: ModelArtifact) -> String {
    artifact.lineage.trained_at.clear();
    artifact.to_json().expect("writable")
}

#[test]
fn same_data_and_seed_give_the_same_models_bit_for_bit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 1500);
    let data = load_dir(&features, true).expect("load");
    let first = train(&data, &valid(quick_options()), &NoProgress).expect("train");
    let second = train(&data, &valid(quick_options()), &NoProgress).expect("train");
    assert_eq!(first.families.len(), second.families.len());
    for (a, b) in first.families.iter().zip(&second.families) {
        let (a, b) = (
            a.artifact.clone().expect("artifact"),
            b.artifact.clone().expect("artifact"),
        );
        assert_eq!(without_time(a), without_time(b));
    }
    let other_seed = train(
        &data,
        &valid(TrainOptions {
            seed: 7,
            ..quick_options()
        }),
        &NoProgress,
    )
    .expect("train");
    let champion = |o: &churn_pipeline::train::TrainOutcome| {
        without_time(o.champion().artifact.clone().expect("artifact"))
    };
    assert_ne!(champion(&first), champion(&other_seed));
}

#[test]
fn every_family_learns_and_explains_additively() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 2000);
    let data = load_dir(&features, true).expect("load");
    let outcome = train(&data, &valid(quick_options()), &NoProgress).expect("train");
    let names: Vec<&str> = outcome.families.iter().map(|f| f.family.as_str()).collect();
    for family in ["logistic_regression", "random_forest", "gradient_boosting"] {
        assert!(names.contains(&family), "{names:?}");
    }
    for family in &outcome.families {
        assert!(
            family.test.roc_auc > 0.7,
            "{}: test ROC-AUC {}",
            family.family,
            family.test.roc_auc
        );
        let artifact = family.artifact.clone().expect("artifact");
        assert_eq!(
            artifact.lineage.horizon_days,
            Some(90),
            "{}: the as-of folder's horizon is recorded",
            family.family
        );
        let scorer = Scorer::new(artifact.clone()).expect("valid artifact");
        for row in (0..data.len()).step_by(97) {
            let values = data.row_values(row);
            let explanation = scorer.explain(&values).expect("explain");
            let total = explanation.base
                + explanation
                    .contributions
                    .iter()
                    .map(|r| r.contribution)
                    .sum::<f64>();
            assert!(
                (total - explanation.score.margin).abs() < 1e-9,
                "{}: base + contributions = {total}, margin = {}",
                family.family,
                explanation.score.margin
            );
            let score = scorer.score(&values).expect("score");
            assert_eq!(score, explanation.score, "explain and score agree");
            assert!((0.0..=1.0).contains(&score.probability));
        }
    }
    let blend = blend_of(&outcome);
    let artifacts: Vec<ModelArtifact> = outcome
        .families
        .iter()
        .filter(|f| f.family != "blend")
        .map(|f| f.artifact.clone().expect("artifact"))
        .chain([blend])
        .collect();
    for artifact in artifacts {
        round_trips_bit_for_bit(&artifact, &data);
    }
}

/// The run's blend, or one composed of its linear and boosted models when the blend did
/// not beat both (every family must round-trip, the blend included).
fn blend_of(outcome: &churn_pipeline::train::TrainOutcome) -> ModelArtifact {
    let artifact_of = |family: &str| {
        outcome
            .families
            .iter()
            .find(|f| f.family == family)
            .and_then(|f| f.artifact.clone())
    };
    if let Some(blend) = artifact_of("blend") {
        return blend;
    }
    let linear = artifact_of("logistic_regression").expect("a linear model");
    let boosted = artifact_of("gradient_boosting").expect("a booster");
    let mut components = Vec::new();
    for artifact in [&linear, &boosted] {
        for component in &artifact.components {
            components.push(churn_core::Component {
                weight: 0.5 * component.weight,
                ..component.clone()
            });
        }
    }
    ModelArtifact {
        family: "blend".into(),
        model_id: "blend-composed".into(),
        components,
        ..linear
    }
}

/// JSON and binary both load back to the same artifact, scoring every row bit for bit as
/// the artifact training returned.
fn round_trips_bit_for_bit(
    artifact: &ModelArtifact,
    data: &churn_pipeline::features::data::Dataset,
) {
    let family = &artifact.family;
    let json = ModelArtifact::from_json(&artifact.to_json().expect("writable")).expect("json");
    assert!(
        json == *artifact,
        "{family}: the JSON round trip changed the artifact"
    );
    let binary =
        ModelArtifact::from_binary(&artifact.to_binary().expect("writable")).expect("binary");
    assert!(
        binary == *artifact,
        "{family}: the binary round trip changed the artifact"
    );
    let scorers = [artifact.clone(), json, binary].map(|a| Scorer::new(a).expect("valid"));
    for row in 0..data.len() {
        let values = data.row_values(row);
        let [original, from_json, from_binary] = scorers
            .each_ref()
            .map(|s| s.score(&values).expect("score").probability.to_bits());
        assert_eq!(original, from_json, "{family}: row {row} from JSON");
        assert_eq!(original, from_binary, "{family}: row {row} from binary");
    }
}

#[test]
fn bad_tables_are_refused_with_reasons() {
    use churn_pipeline::features::data::from_frame;
    use polars::prelude::*;
    let spec = churn_core::FeatureSpec::new(
        "customer_id",
        Some("churned"),
        vec![
            churn_core::FeatureDef::new("tenure", churn_core::FeatureKind::Numeric, "t"),
            churn_core::FeatureDef::new("plan", churn_core::FeatureKind::Categorical, "p"),
        ],
    );
    let origin = Path::new("table.parquet");
    let frame = |tenure: Vec<f64>, plan: Vec<&str>, churned: Vec<bool>| {
        let n = tenure.len();
        DataFrame::new(
            n,
            vec![
                Column::new(
                    "customer_id".into(),
                    (0..n).map(|i| format!("C{i}")).collect::<Vec<_>>(),
                ),
                Column::new("tenure".into(), tenure),
                Column::new("plan".into(), plan),
                Column::new("churned".into(), churned),
            ],
        )
        .expect("frame")
    };
    let ok = frame(
        vec![1.0, 2.0, f64::NAN],
        vec!["a", "b", "a"],
        vec![true, false, false],
    );
    let data = from_frame(&ok, spec.clone(), true, origin).expect("NaN is read as missing");
    assert!(
        data.warnings
            .iter()
            .any(|w| w.contains("NaN values in 'tenure'")),
        "{:?}",
        data.warnings
    );

    let error = from_frame(&ok.drop("plan").expect("drop"), spec.clone(), true, origin)
        .expect_err("missing column");
    assert!(
        error.to_string().contains("lacks column(s) plan"),
        "{error}"
    );

    let with_extra = ok
        .clone()
        .with_column(Column::new("extra".into(), vec![1, 2, 3]))
        .expect("extra")
        .clone();
    let data =
        from_frame(&with_extra, spec.clone(), true, origin).expect("extra columns are ignored");
    assert!(
        data.warnings.iter().any(|w| w.contains("ignored: extra")),
        "{:?}",
        data.warnings
    );

    let infinite = frame(
        vec![1.0, f64::INFINITY, 3.0],
        vec!["a", "b", "a"],
        vec![true, false, false],
    );
    let error = from_frame(&infinite, spec.clone(), true, origin).expect_err("infinite");
    assert!(
        error.to_string().contains("infinite value") && error.to_string().contains("C1"),
        "{error}"
    );

    let one_class = frame(
        vec![1.0, 2.0, 3.0],
        vec!["a", "b", "a"],
        vec![false, false, false],
    );
    let error = from_frame(&one_class, spec.clone(), true, origin).expect_err("one class");
    assert!(
        error.to_string().contains("every labelled row is a stayer"),
        "{error}"
    );

    let mut wrong_type = ok.clone();
    wrong_type
        .with_column(Column::new("plan".into(), vec![1.0, 2.0, 3.0]))
        .expect("replace");
    let error = from_frame(&wrong_type, spec, true, origin).expect_err("wrong type");
    assert!(
        error
            .to_string()
            .contains("column 'plan' is f64 but the spec says categorical"),
        "{error}"
    );
}

#[test]
fn too_few_rows_for_the_folds_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 300);
    let data = load_dir(&features, true).expect("load");
    let options = TrainOptions {
        folds: 50,
        ..quick_options()
    };
    let error = train(&data, &valid(options), &NoProgress).expect_err("too many folds");
    assert!(
        error
            .to_string()
            .contains("too few rows for 50-fold cross-validation"),
        "{error}"
    );
}

#[test]
fn train_evaluate_and_predict_end_to_end() {
    use churn_pipeline::evaluate::evaluate;
    use churn_pipeline::models::train_dir;
    use churn_pipeline::predict::{PredictOptions, predict};
    use polars::prelude::*;

    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 1500);
    let model = dir.path().join("models/test");
    let (outcome, written) = train_dir(
        &features,
        &valid(quick_options()),
        Some(&model),
        dir.path(),
        &NoProgress,
    )
    .expect("train");
    assert_eq!(written, model);
    for file in ["model.json", "model.bin", "training.json", "profile.json"] {
        assert!(model.join(file).exists(), "{file}");
    }
    // The drift reference: every feature, its missing values and categories counted.
    {
        use churn_pipeline::features::data::FeatureColumn;
        use churn_pipeline::features::profile::FeatureProfile;
        let reference = churn_pipeline::reference::read(&model).expect("profile");
        let data = load_dir(&features, true).expect("load");
        // The model's scores on every training row, and the measured champion's
        // calibration on the test split.
        let scores = reference.scores.as_ref().expect("score reference");
        assert_eq!(scores.distribution.rows as usize, data.len());
        assert_eq!(scores.distribution.missing, 0);
        assert_eq!(scores.model_id, outcome.deployed().expect("model").model_id);
        assert!((scores.tiers.values().sum::<f64>() - 1.0).abs() < 1e-9);
        let holdout = scores.holdout.as_ref().expect("holdout");
        assert_eq!(holdout.rows as usize, outcome.test_rows);
        assert_eq!(
            holdout.calibration.iter().map(|b| b.count).sum::<u64>(),
            holdout.rows
        );
        let measured = outcome.champion().test.roc_auc;
        assert!(
            (holdout.roc_auc.expect("auc") - measured).abs() < 1e-12,
            "{holdout:?} vs {measured}"
        );
        let profile = &reference.table;
        assert_eq!(profile.rows as usize, data.len());
        assert_eq!(profile.features.len(), data.spec.features.len());
        for (feature, column) in data.spec.features.iter().zip(&data.columns) {
            match (&profile.features[&feature.name], column) {
                (FeatureProfile::Numeric(p), FeatureColumn::Numeric(values)) => {
                    let missing = values.iter().filter(|v| v.is_nan()).count();
                    assert_eq!(p.missing as usize, missing, "{}", feature.name);
                    assert_eq!(p.quantiles.is_empty(), missing == values.len());
                }
                (FeatureProfile::Numeric(p), FeatureColumn::Boolean(values)) => {
                    assert_eq!(
                        p.missing as usize,
                        values.iter().filter(|v| v.is_none()).count()
                    );
                }
                (FeatureProfile::Categorical(p), FeatureColumn::Categorical { codes, .. }) => {
                    let counted: u64 = p.counts.values().sum();
                    assert_eq!(counted + p.missing, codes.len() as u64, "{}", feature.name);
                }
                (profile, _) => panic!("{}: {profile:?} for another kind", feature.name),
            }
        }
        // A model folder from before profiles: the features it names are profiled again;
        // when they are gone too, the error says what to do.
        let old = dir.path().join("old-model");
        std::fs::create_dir_all(&old).expect("mkdir");
        let error = churn_pipeline::monitor::reference_of(&old).expect_err("no model");
        assert!(error.to_string().contains("not a model folder"), "{error}");
        for file in ["model.json", "training.json"] {
            std::fs::copy(model.join(file), old.join(file)).expect("copy");
        }
        let rebuilt = churn_pipeline::monitor::reference_of(&old).expect("rebuilt");
        assert_eq!(&rebuilt.table, profile);
        assert_eq!(
            rebuilt.scores, None,
            "no scores without the model's own profile"
        );
        let mut training: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(old.join("training.json")).expect("read"),
        )
        .expect("json");
        training["features"] = serde_json::Value::from("/nowhere/features");
        std::fs::write(old.join("training.json"), training.to_string()).expect("write");
        let error = churn_pipeline::monitor::reference_of(&old).expect_err("no reference");
        assert!(error.to_string().contains("train again"), "{error}");
    }
    for family in &outcome.families {
        assert!(
            model
                .join(format!("candidates/{}.json", family.family))
                .exists()
        );
    }

    let evaluation = evaluate(&model, None).expect("evaluate");
    assert_eq!(evaluation.champion, outcome.champion);
    assert_eq!(evaluation.rows, outcome.test_rows);
    assert!(evaluation.families.len() >= 3);
    let champion = &evaluation.families[0];
    assert_eq!(champion.family, outcome.champion);
    assert!(
        (champion.held_out.roc_auc - outcome.champion().test.roc_auc).abs() < 1e-12,
        "evaluate scores the same test split as training"
    );
    let html = std::fs::read_to_string(model.join("report.html")).expect("report");
    assert!(html.matches("<svg").count() >= 6, "six charts");
    for needle in [
        "ROC curve",
        "Precision-recall",
        "Calibration",
        "Cumulative gains",
        "Model card",
        "data hash",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    for external in ["src=\"http", "href=\"http", "<link", "<script"] {
        assert!(!html.contains(external), "self-contained: no {external}");
    }
    assert_eq!(evaluation.horizon_days, Some(90));
    assert!(
        html.contains("churn within 90 days"),
        "the report says what the probability means"
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("metrics.json")).expect("metrics"))
            .expect("json");
    assert_eq!(metrics["horizon_days"], 90);
    assert_eq!(metrics["horizon"], "churn within 90 days");

    let read = |path: &std::path::Path| {
        churn_pipeline::store::scan_parquet_file(path)
            .expect("scan")
            .collect()
            .expect("read")
    };
    let small_batches = dir.path().join("predictions/small");
    let summary = predict(
        &model,
        &features,
        &small_batches,
        &PredictOptions {
            batch_rows: 97,
            ..PredictOptions::default()
        }
        .validate()
        .expect("valid"),
        &NoProgress,
    )
    .expect("predict");
    let table_rows = read(&features.join("features.parquet")).height() as u64;
    assert_eq!(summary.rows, table_rows);
    assert_eq!(summary.tiers.values().sum::<u64>(), table_rows);
    let predictions = read(&small_batches.join("predictions.parquet"));
    assert_eq!(predictions.height() as u64, table_rows);
    for column in [
        "customer_id",
        "churn_probability",
        "tier",
        "reason_1",
        "reason_1_value",
        "reason_1_impact",
        "model_id",
    ] {
        assert!(predictions.column(column).is_ok(), "{column}");
    }
    // By default the high tier is explained, and only it.
    let tiers = predictions
        .column("tier")
        .expect("tier")
        .str()
        .expect("str");
    let first_reasons = predictions
        .column("reason_1")
        .expect("r")
        .str()
        .expect("str");
    assert!(
        tiers.iter().any(|t| t == Some("low")),
        "some customers are low risk"
    );
    for (tier, reason) in tiers.iter().zip(first_reasons.iter()) {
        assert_eq!(
            tier == Some("high"),
            reason.is_some(),
            "{tier:?}: {reason:?}"
        );
    }
    let high = read(&small_batches.join("high_risk.parquet"));
    assert_eq!(high.height() as u64, summary.high_risk);
    let probabilities: Vec<f64> = high
        .column("churn_probability")
        .expect("p")
        .f64()
        .expect("f64")
        .iter()
        .flatten()
        .collect();
    assert!(
        probabilities.windows(2).all(|w| w[0] >= w[1]),
        "ranked riskiest first"
    );
    assert!(probabilities.iter().all(|p| *p >= summary.threshold));
    let csv = std::fs::read_to_string(small_batches.join("high_risk.csv")).expect("csv");
    assert_eq!(csv.lines().count() as u64, summary.high_risk + 1);

    // The customer list holds every customer in the scores' order, with the same score,
    // tier and reasons, and the table's segment and monthly charge.
    let list = std::fs::read_to_string(small_batches.join("customers.jsonl")).expect("list");
    let listed: Vec<churn_core::listing::Listed> = list
        .lines()
        .map(|line| serde_json::from_str(line).expect("a listed customer"))
        .collect();
    assert_eq!(listed.len() as u64, table_rows);
    let table = read(&features.join("features.parquet"));
    let contract = table
        .column("contract_type")
        .expect("c")
        .str()
        .expect("str");
    let charge = table
        .column("monthly_charge")
        .expect("m")
        .f64()
        .expect("f64");
    let ids = predictions
        .column("customer_id")
        .expect("id")
        .str()
        .expect("str");
    let scores = predictions
        .column("churn_probability")
        .expect("p")
        .f64()
        .expect("f64");
    for (row, entry) in listed.iter().enumerate() {
        assert_eq!(Some(entry.customer_id.as_str()), ids.get(row));
        assert_eq!(Some(entry.probability), scores.get(row), "bit for bit");
        assert_eq!(Some(entry.tier.as_str()), tiers.get(row));
        assert_eq!(entry.reasons.is_empty(), first_reasons.get(row).is_none());
        assert_eq!(entry.segment.as_deref(), contract.get(row));
        assert_eq!(
            entry.monthly_charge,
            charge.get(row).filter(|x| x.is_finite())
        );
    }
    assert!(listed.iter().any(|entry| entry.segment.is_some()));

    // One big batch and no reasons give the same probabilities.
    let one_batch = dir.path().join("predictions/one");
    predict(
        &model,
        &features,
        &one_batch,
        &PredictOptions {
            reasons: 0,
            ..PredictOptions::default()
        }
        .validate()
        .expect("valid"),
        &NoProgress,
    )
    .expect("predict");
    let again = read(&one_batch.join("predictions.parquet"));
    assert!(
        predictions
            .column("churn_probability")
            .expect("p")
            .equals(again.column("churn_probability").expect("p"))
    );
    // Reasons for every tier: every customer explained.
    let everyone = dir.path().join("predictions/everyone");
    predict(
        &model,
        &features,
        &everyone,
        &PredictOptions {
            reasons_from: churn_core::Tier::Low,
            ..PredictOptions::default()
        }
        .validate()
        .expect("valid"),
        &NoProgress,
    )
    .expect("predict");
    let explained = read(&everyone.join("predictions.parquet"));
    let first_reasons = explained.column("reason_1").expect("r").str().expect("str");
    assert!(
        first_reasons
            .iter()
            .all(|r| r.is_some_and(|r| !r.is_empty())),
        "every customer has a reason"
    );

    // A table that does not fit the model is refused with the problem named.
    let wrong = dir.path().join("wrong.parquet");
    let mut frame = read(&features.join("features.parquet"))
        .drop("tenure_days")
        .expect("drop");
    ParquetWriter::new(std::fs::File::create(&wrong).expect("create"))
        .finish(&mut frame)
        .expect("write");
    let error = predict(
        &model,
        &wrong,
        &dir.path().join("p3"),
        &PredictOptions::default().validate().expect("valid"),
        &NoProgress,
    )
    .expect_err("missing column");
    assert!(
        error.to_string().contains("no column 'tenure_days'"),
        "{error}"
    );
}

#[test]
fn bags_average_boosters_refitted_with_their_own_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 800);
    let data = load_dir(&features, true).expect("load");
    let booster = |bags: usize| {
        let options = TrainOptions {
            families: vec![Family::Boosting],
            trials: [(Family::Boosting, 1)].into_iter().collect(),
            bags,
            ..quick_options()
        };
        let outcome = train(&data, &valid(options), &NoProgress).expect("train");
        outcome.families[0].artifact.clone().expect("artifact")
    };
    let trees = |artifact: &ModelArtifact| -> Vec<usize> {
        artifact
            .components
            .iter()
            .map(|component| match &component.model {
                churn_core::model::Model::Trees(ensemble) => ensemble.trees.len(),
                churn_core::model::Model::Linear(_) => 0,
            })
            .collect()
    };
    let (one, three) = (booster(1), booster(3));
    assert!(!one.lineage.parameters.contains_key("bags"));
    assert_eq!(three.lineage.parameters["bags"], "3");
    // Three refits of the same config, concatenated with their leaves scaled by 1/3:
    // three times the trees, and not three copies of one booster.
    assert_eq!(trees(&one).len(), 1);
    assert_eq!(trees(&three).len(), 1);
    assert_eq!(trees(&three)[0], 3 * trees(&one)[0]);
    let churn_core::model::Model::Trees(ensemble) = &three.components[0].model else {
        panic!("a boosted model");
    };
    let per_bag = trees(&one)[0];
    assert_ne!(
        ensemble.trees[..per_bag],
        ensemble.trees[per_bag..2 * per_bag],
        "each bag has its own seed"
    );
}

/// Issue 12, item 8: one `tenure=1e300` in a flat table made a standard deviation
/// infinite; training exited 0 and model.json stored `null`. Such a value is now refused
/// when the table is read, naming its column, row and id.
#[test]
fn a_huge_finite_value_in_a_flat_table_is_refused_with_its_column_and_row() {
    use churn_pipeline::features::data::read_horizon;
    use churn_pipeline::features::table::{TableOptions, build_from_tables};

    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("customerID,tenure,Contract,Churn\n");
    for row in 0..60 {
        let tenure = if row == 17 {
            "1e300".to_owned()
        } else {
            (row % 13).to_string()
        };
        let contract = ["Month-to-month", "One year"][row % 2];
        let churn = ["Yes", "No", "No"][row % 3];
        csv.push_str(&format!("C{row:03},{tenure},{contract},{churn}\n"));
    }
    let input = dir.path().join("customers.csv");
    std::fs::write(&input, csv).expect("write");
    let out = dir.path().join("features");
    build_from_tables(&TableOptions::new(
        vec![input],
        "customerID",
        Some("Churn"),
        &out,
    ))
    .expect("features");
    assert_eq!(
        read_horizon(&out).expect("summary"),
        None,
        "a flat table has no horizon"
    );
    let error = load_dir(&out, true).expect_err("1e300 is refused");
    let message = error.to_string();
    for needed in [
        "'tenure'",
        "1e300",
        "row 18",
        "C017",
        "mark the value missing",
    ] {
        assert!(message.contains(needed), "{needed}: {message}");
    }
}

/// The last line of defence behind the table checks: a table that reaches training with a
/// value that overflows the scaling gives an error naming the parameter, never an
/// artifact holding an infinity.
#[test]
fn training_never_returns_an_artifact_with_a_non_finite_parameter() {
    use churn_core::{FeatureDef, FeatureKind, FeatureSpec};
    use churn_pipeline::features::data::{Dataset, FeatureColumn};

    let rows = 240;
    let labels: Vec<bool> = (0..rows).map(|row| row % 3 == 0).collect();
    let signal: Vec<f64> = (0..rows)
        .map(|row| f64::from(u8::from(labels[row])) + (row % 7) as f64 / 10.0)
        .collect();
    let mut tenure: Vec<f64> = (0..rows).map(|row| (row % 11) as f64).collect();
    tenure[17] = 1e300;
    let data = Dataset {
        spec: FeatureSpec::new(
            "customer_id",
            Some("churned"),
            vec![
                FeatureDef::new("tenure", FeatureKind::Numeric, "t"),
                FeatureDef::new("signal", FeatureKind::Numeric, "s"),
            ],
        ),
        ids: (0..rows).map(|row| format!("C{row}")).collect(),
        labels,
        columns: vec![
            FeatureColumn::Numeric(tenure),
            FeatureColumn::Numeric(signal),
        ],
        hash: "test".into(),
        warnings: Vec::new(),
        horizon_days: None,
    };
    let options = TrainOptions {
        families: vec![Family::Linear],
        trials: [(Family::Linear, 1)].into_iter().collect(),
        folds: 3,
        // `signal` separates the classes by construction.
        allow_leaky: true,
        ..TrainOptions::default()
    };
    let error = train(&data, &valid(options), &NoProgress).expect_err("an infinite scale");
    let message = error.to_string();
    assert!(
        message.contains("not finite") && message.contains("(of 'tenure')"),
        "{message}"
    );
}

/// The deployed model has seen every labelled row; the figures are those of the same
/// configuration measured on the test split, and the report says which is which.
#[test]
fn the_champion_is_refitted_on_every_row_and_the_report_names_both_models() {
    use churn_pipeline::evaluate::evaluate;
    use churn_pipeline::models::{read_artifact, train_dir};

    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 1200);
    let refit_dir = dir.path().join("models/refit");
    let (outcome, _) = train_dir(
        &features,
        &valid(quick_options()),
        Some(&refit_dir),
        dir.path(),
        &NoProgress,
    )
    .expect("train");
    assert_eq!(outcome.final_rows, outcome.rows);
    let deployed = read_artifact(&refit_dir).expect("model.json");
    let measured = read_artifact(
        &refit_dir
            .join("candidates")
            .join(format!("{}.json", outcome.champion)),
    )
    .expect("candidate");
    assert_eq!(deployed.lineage.training_rows as usize, outcome.rows);
    assert_eq!(measured.lineage.training_rows as usize, outcome.train_rows);
    assert_ne!(deployed.model_id, measured.model_id);
    assert_eq!(deployed.family, measured.family);
    assert_eq!(deployed.metrics, measured.metrics, "the measured figures");
    assert_eq!(deployed.decision.threshold, measured.decision.threshold);
    assert!(
        deployed.lineage.parameters["fitted_on"].contains(&measured.model_id),
        "{:?}",
        deployed.lineage.parameters
    );
    // A different model: it learnt from the test rows too.
    let data = load_dir(&features, true).expect("features");
    let rows: Vec<usize> = (0..data.len()).collect();
    let score = |artifact: ModelArtifact| {
        churn_pipeline::train::score_rows(&Scorer::new(artifact).expect("scorer"), &data, &rows)
    };
    assert_ne!(score(deployed.clone()), score(measured.clone()));
    let evaluation = evaluate(&refit_dir, None).expect("evaluate");
    assert!(
        evaluation.models.contains(&deployed.model_id)
            && evaluation.models.contains(&measured.model_id)
            && evaluation.models.contains("refitted on all"),
        "{}",
        evaluation.models
    );
    let html = std::fs::read_to_string(refit_dir.join("report.html")).expect("report");
    assert!(html.contains(&evaluation.models));

    // --train-split-only: the measured model is the deployed one.
    let kept_dir = dir.path().join("models/kept");
    let (kept, _) = train_dir(
        &features,
        &valid(TrainOptions {
            refit_on_all_rows: false,
            ..quick_options()
        }),
        Some(&kept_dir),
        dir.path(),
        &NoProgress,
    )
    .expect("train");
    assert_eq!(kept.final_rows, kept.train_rows);
    let deployed = read_artifact(&kept_dir).expect("model.json");
    assert_eq!(
        deployed.model_id, measured.model_id,
        "same seed, same model"
    );
    assert!(!deployed.lineage.parameters.contains_key("fitted_on"));
}

#[test]
fn random_configs_that_trail_on_their_first_folds_are_dropped_there_and_never_chosen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 1500);
    let data = load_dir(&features, true).expect("load");
    let options = TrainOptions {
        families: vec![Family::Boosting],
        trials: [(Family::Boosting, 12)].into_iter().collect(),
        folds: 5,
        ..TrainOptions::default()
    };
    let outcome = train(&data, &valid(options), &NoProgress).expect("train");
    let family = &outcome.families[0];
    let first_two = |folds: &[f64]| (folds[0] + folds[1]) / 2.0;
    let best_finished = family
        .trials
        .iter()
        .filter(|t| !t.pruned)
        .map(|t| first_two(&t.folds))
        .fold(f64::NEG_INFINITY, f64::max);
    let pruned: Vec<usize> = (0..family.trials.len())
        .filter(|&i| family.trials[i].pruned)
        .collect();
    assert!(
        !pruned.is_empty(),
        "some of 10 random configs trail: {:?}",
        family.trials
    );
    for (index, trial) in family.trials.iter().enumerate() {
        if trial.pruned {
            assert!(index >= 2, "the presets always run in full");
            assert_eq!(trial.folds.len(), 2);
            assert_eq!(trial.trees.len(), 2);
            assert!(first_two(&trial.folds) < best_finished - 0.002);
            assert!(!family.members.contains(&index));
        } else {
            assert_eq!(trial.folds.len(), 5);
        }
    }
}

#[test]
fn the_time_budget_stops_later_trials_and_says_so_only_when_it_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let features = feature_dir(dir.path(), 1500);
    let data = load_dir(&features, true).expect("load");
    let with = |boosting: usize| TrainOptions {
        trials: [
            (Family::Linear, 1),
            (Family::Forest, 1),
            (Family::Boosting, boosting),
        ]
        .into_iter()
        .collect(),
        folds: 3,
        time_budget: Some(std::time::Duration::ZERO),
        ..TrainOptions::default()
    };
    let said = |outcome: &churn_pipeline::train::TrainOutcome| {
        outcome.warnings.iter().any(|w| w.contains("time budget"))
    };
    // Only the defaults, which always run: nothing was cut.
    let defaults = train(&data, &valid(with(1)), &NoProgress).expect("train");
    assert!(!said(&defaults), "{:?}", defaults.warnings);
    // Two more boosting configs: the budget (already spent) stops them.
    let cut = train(&data, &valid(with(3)), &NoProgress).expect("train");
    assert!(said(&cut), "{:?}", cut.warnings);
    let boosting = cut
        .families
        .iter()
        .find(|f| f.family == "gradient_boosting")
        .expect("boosting");
    assert_eq!(boosting.trials.len(), 1);
}
