use std::path::{Path, PathBuf};

use churn_core::FeatureKind;
use churn_pipeline::features::table::{TableOptions, build_from_tables};
use polars::prelude::*;

fn read(dir: &Path) -> DataFrame {
    let path = dir.join("features.parquet");
    churn_pipeline::store::scan_parquet_file(&path)
        .expect("scan")
        .collect()
        .expect("read features")
}

fn spec(dir: &Path) -> churn_core::FeatureSpec {
    serde_json::from_slice(&std::fs::read(dir.join("feature_spec.json")).expect("spec"))
        .expect("json")
}

fn options(tables: Vec<PathBuf>, out: &Path) -> TableOptions {
    TableOptions::new(tables, "customerID", Some("Churn"), out)
}

const TABLE: &str = "customerID,gender,SeniorCitizen,tenure,Contract,TotalCharges,Region,Churn
0001,Female,0,1,Month-to-month,29.85,x,No
0002,Male,1,34,One year, ,x,Yes
0003,Male,0,2,Month-to-month,108.15,x,Yes
0003,Male,0,2,Month-to-month,108.15,x,Yes
0004,Female,0,45,Two year,1840.75,x,No
0004,Female,0,46,Two year,1840.75,x,No
,Female,0,5,Two year,10,x,No
0005,Female,1,8,MONTH_TO_MONTH,99.65,x,
";

#[test]
fn kinds_are_inferred_and_bad_rows_quarantined() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("customers.csv");
    std::fs::write(&input, TABLE).expect("write");
    let out = dir.path().join("out");
    let summary = build_from_tables(&options(vec![input], &out)).expect("features");
    let spec = spec(&out);
    let kinds: Vec<(&str, FeatureKind)> = spec
        .features
        .iter()
        .map(|f| (f.name.as_str(), f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("gender", FeatureKind::Categorical),
            ("senior_citizen", FeatureKind::Boolean),
            ("tenure", FeatureKind::Numeric),
            ("contract", FeatureKind::Categorical),
            ("total_charges", FeatureKind::Numeric),
        ]
    );
    assert_eq!(spec.id_column, "customer_id");
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("'region' dropped")),
        "{:?}",
        summary.warnings
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("1 rows have no target")),
        "{:?}",
        summary.warnings
    );
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("2 rows quarantined") && w.contains("1 exact duplicates")),
        "{:?}",
        summary.warnings
    );
    assert_eq!(
        (summary.rows, summary.labelled, summary.positives),
        (5, 4, 2)
    );

    let frame = read(&out);
    let contract: Vec<_> = frame
        .column("contract")
        .expect("c")
        .str()
        .expect("s")
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect();
    assert_eq!(
        contract,
        [
            "month-to-month",
            "one-year",
            "month-to-month",
            "two-year",
            "month-to-month"
        ]
        .map(|s| Some(s.to_owned()))
    );
    let charges = frame
        .column("total_charges")
        .expect("c")
        .f64()
        .expect("f")
        .clone();
    assert_eq!(
        charges.get(1),
        None,
        "a blank TotalCharges is missing, not zero"
    );
    assert_eq!(
        frame.column("tenure").expect("t").f64().expect("f").get(3),
        Some(45.0),
        "the first of two conflicting rows wins"
    );

    let quarantined: Vec<serde_json::Value> = std::fs::read_to_string(out.join("quarantine.jsonl"))
        .expect("quarantine")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(quarantined.len(), 2, "{quarantined:?}");
    assert_eq!(quarantined[0]["line"], 7, "{quarantined:?}");
    assert!(
        quarantined[0]["reason"]
            .as_str()
            .expect("r")
            .contains("repeats an earlier row"),
        "{quarantined:?}"
    );
    assert_eq!(quarantined[1]["line"], 8);
    assert_eq!(quarantined[1]["reason"], "missing id");
}

#[test]
fn split_tables_join_on_the_id_and_report_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, "customerID,gender,tenure\n1,f,3\n2,m,4\n3,m,5\n").expect("write");
    std::fs::write(
        &b,
        "customerID,Churn,MonthlyCharges\n2,Yes,10\n1,No,20\n4,No,30",
    )
    .expect("write");
    let out = dir.path().join("out");
    let summary = build_from_tables(&options(vec![a, b], &out)).expect("features");
    assert_eq!(summary.rows, 4);
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("1 ids not in the tables before it and 1 ids missing")),
        "{:?}",
        summary.warnings
    );
    let frame = read(&out);
    let ids: Vec<_> = frame
        .column("customer_id")
        .expect("ids")
        .str()
        .expect("s")
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4"]);
    let labels: Vec<_> = frame
        .column("churned")
        .expect("l")
        .bool()
        .expect("b")
        .iter()
        .collect();
    assert_eq!(labels, [Some(false), Some(true), None, Some(false)]);
}

#[test]
fn unreadable_targets_and_missing_columns_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("t.csv");
    std::fs::write(&input, "customerID,x,Churn\n1,2,maybe\n2,3,No\n").expect("write");
    let error =
        build_from_tables(&options(vec![input.clone()], &dir.path().join("o"))).expect_err("maybe");
    assert!(
        error.to_string().contains("maybe") && error.to_string().contains("--positive"),
        "{error}"
    );

    let mut wrong_id = options(vec![input], &dir.path().join("o"));
    wrong_id.id = "client".into();
    let error = build_from_tables(&wrong_id).expect_err("no id");
    assert!(
        error.to_string().contains("no id column 'client'")
            && error.to_string().contains("customer_id, x, churn"),
        "{error}"
    );
}

fn shared_data(relative: &str) -> Option<PathBuf> {
    let path =
        Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"))
            .join("../../../shared/data")
            .join(relative);
    path.exists().then_some(path)
}

/// The IBM Telco export, when the shared data sets are on this machine.
#[test]
fn telco_as_one_table_and_as_three_give_the_same_features() {
    let (Some(full), Some(split)) = (
        shared_data("telco-ibm/Telco-Customer-Churn.csv"),
        shared_data("telco-ibm/split"),
    ) else {
        eprintln!("skipped: ../shared/data/telco-ibm is not on this machine");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let one = build_from_tables(&options(vec![full], &dir.path().join("one"))).expect("one table");
    assert_eq!((one.rows, one.positives), (7043, 1869));
    assert_eq!(one.features, 19);
    let tables =
        ["customer-service.csv", "products.csv", "billing.csv"].map(|name| split.join(name));
    let three = build_from_tables(&options(tables.to_vec(), &dir.path().join("three")))
        .expect("three tables");
    assert_eq!(
        (three.rows, three.positives, three.features),
        (7043, 1869, 19)
    );
    let total = spec(&dir.path().join("one"));
    assert_eq!(
        total.feature("total_charges").map(|f| f.kind),
        Some(FeatureKind::Numeric)
    );
    let a = read(&dir.path().join("one"));
    assert_eq!(a.column("total_charges").expect("c").null_count(), 11);
    let b = read(&dir.path().join("three"));
    let columns: Vec<PlSmallStr> = a.get_column_names().into_iter().cloned().collect();
    let b = b.select(columns).expect("same columns");
    let sorted = |frame: DataFrame| {
        frame
            .sort(["customer_id"], Default::default())
            .expect("sort")
    };
    assert!(sorted(a).equals_missing(&sorted(b)));
}

#[test]
fn a_table_without_rows_is_refused_and_its_rejected_rows_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header_only = dir.path().join("h.csv");
    std::fs::write(&header_only, "customerID,tenure,Churn\n").expect("write");
    let error =
        build_from_tables(&options(vec![header_only], &dir.path().join("a"))).expect_err("no rows");
    assert!(error.to_string().contains("no customer rows"), "{error}");

    // Every row without an id: refused, and each is in the quarantine with its reason.
    let no_ids = dir.path().join("n.csv");
    std::fs::write(&no_ids, "customerID,tenure,Churn\n,1,Yes\n,2,No\n").expect("write");
    let out = dir.path().join("b");
    let error = build_from_tables(&options(vec![no_ids], &out)).expect_err("no rows");
    assert!(error.to_string().contains("quarantine.jsonl"), "{error}");
    let quarantined = std::fs::read_to_string(out.join("quarantine.jsonl")).expect("kept");
    assert_eq!(quarantined.lines().count(), 2, "{quarantined}");
    assert!(!out.join("features.parquet").exists());
}
