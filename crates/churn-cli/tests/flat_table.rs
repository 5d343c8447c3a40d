//! The flat-table job most users start with, straight from the CLI: train once on a
//! table they have, then score new tables of the same schema (other row order, unseen
//! categories, missing-value tokens, another delimiter, no label column) with the
//! model's own feature spec.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

fn churn() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churn"));
    command.env_remove("CHURN_LOG");
    command
}

fn run(args: &[&str], dirs: &[(&str, &Path)]) -> Output {
    let mut command = churn();
    command.args(args);
    for (flag, path) in dirs {
        command.arg(flag).arg(path);
    }
    command.output().expect("run churn")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ok(output: Output) -> String {
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    text
}

/// A seeded generator of the customers of a subscription business.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Customer {
    id: String,
    surname: String,
    contract: &'static str,
    tenure: u32,
    charges: String,
    promo: &'static str,
    churned: bool,
}

fn customers(count: usize, seed: u64) -> Vec<Customer> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|index| {
            let contract = match rng.next() {
                x if x < 0.55 => "Month-to-month",
                x if x < 0.8 => "One year",
                _ => "Two year",
            };
            let tenure = 1 + (rng.next() * 71.0) as u32;
            let charges = 20.0 + rng.next() * 100.0;
            let promo = if rng.next() < 0.3 { "spring" } else { "" };
            let margin =
                -1.0 + if contract == "Month-to-month" {
                    1.4
                } else {
                    -0.8
                } - 0.04 * f64::from(tenure)
                    + 0.015 * (charges - 70.0)
                    - if promo.is_empty() { 0.0 } else { 0.7 };
            let churned = rng.next() < 1.0 / (1.0 + (-margin).exp());
            Customer {
                id: format!("C{index:05}"),
                surname: format!("name{}", (rng.next() * 300.0) as u32),
                contract,
                tenure,
                charges: format!("{charges:.2}"),
                promo,
                churned,
            }
        })
        .collect()
}

/// Writes customers as a table; `label` adds the churn column.
fn write_table(path: &Path, rows: &[&Customer], delimiter: char, label: bool) {
    let mut text = [
        "CustomerID",
        "RowNumber",
        "Surname",
        "Contract",
        "Tenure",
        "MonthlyCharges",
        "Promo",
    ]
    .join(&delimiter.to_string());
    if label {
        text.push_str(&format!("{delimiter}Churn"));
    }
    text.push('\n');
    for (number, customer) in rows.iter().enumerate() {
        let fields = [
            customer.id.clone(),
            (number + 1).to_string(),
            customer.surname.clone(),
            customer.contract.to_owned(),
            customer.tenure.to_string(),
            customer.charges.clone(),
            customer.promo.to_owned(),
        ];
        text.push_str(&fields.join(&delimiter.to_string()));
        if label {
            text.push(delimiter);
            text.push_str(if customer.churned { "Yes" } else { "No" });
        }
        text.push('\n');
    }
    std::fs::write(path, text).expect("write table");
}

/// Probability per customer of a prediction folder.
fn probabilities(out: &Path) -> BTreeMap<String, f64> {
    let frame = churn_pipeline::store::scan_parquet_file(&out.join("predictions.parquet"))
        .expect("scan")
        .collect()
        .expect("read predictions");
    let ids = frame
        .column("customer_id")
        .expect("ids")
        .str()
        .expect("text");
    let scores = frame
        .column("churn_probability")
        .expect("scores")
        .f64()
        .expect("numbers");
    ids.iter()
        .zip(scores.iter())
        .map(|(id, score)| {
            (
                id.expect("id").to_owned(),
                score.expect("every customer is scored"),
            )
        })
        .collect()
}

#[test]
fn train_on_one_half_and_score_the_other_straight_from_a_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let everyone = customers(2000, 7);
    let (train_half, score_half) = everyone.split_at(1600);
    let mut train_rows: Vec<&Customer> = train_half.iter().collect();
    // A missing-value token among the training numbers.
    let mut token = Customer {
        charges: "N/A".into(),
        id: "C99999".into(),
        surname: "name1".into(),
        ..customers(1, 99).remove(0)
    };
    token.churned = false;
    train_rows.push(&token);
    write_table(&path("train.csv"), &train_rows, ',', true);

    let features = ok(run(
        &[
            "features",
            "--table",
            path("train.csv").to_str().expect("utf-8"),
            "--id",
            "CustomerID",
            "--target",
            "Churn",
        ],
        &[("--out", &path("features"))],
    ));
    assert!(
        features.contains("'row_number' dropped") && features.contains("row number"),
        "{features}"
    );
    assert!(
        features.contains("'promo_filled'") && features.contains("surname"),
        "{features}"
    );
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path("features/feature_spec.json")).expect("spec"))
            .expect("json");
    let kinds: BTreeMap<String, String> = spec["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().expect("name").to_owned(),
                f["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("surname", "categorical"),
            ("contract", "categorical"),
            ("tenure", "numeric"),
            ("monthly_charges", "numeric"),
            ("promo_filled", "boolean"),
        ]
        .map(|(n, k)| (n.to_owned(), k.to_owned()))
        .into_iter()
        .collect(),
        "the N/A token keeps monthly_charges numeric"
    );

    let train = ok(run(
        &["train", "--trials", "1,1,1", "--folds", "3", "--bags", "1"],
        &[("--features", &path("features")), ("--out", &path("model"))],
    ));
    assert!(train.contains("fitted_on_rows=1601"), "{train}");

    // The half to score: other row order, another delimiter, no label, an unseen
    // contract, a missing-value token, and too few rows for `surname` to look like a
    // category if its kind were inferred again.
    let mut to_score: Vec<Customer> = score_half
        .iter()
        .map(|c| Customer {
            id: c.id.clone(),
            surname: c.surname.clone(),
            charges: c.charges.clone(),
            ..*c
        })
        .collect();
    to_score.reverse();
    to_score[3].contract = "Three year";
    to_score[5].charges = "NA".into();
    let rows: Vec<&Customer> = to_score.iter().collect();
    write_table(&path("score.csv"), &rows, ';', false);
    let predict = ok(run(
        &[
            "predict",
            "--table",
            path("score.csv").to_str().expect("utf-8"),
        ],
        &[("--model", &path("model")), ("--out", &path("scored"))],
    ));
    assert!(predict.contains("semicolon"), "{predict}");
    assert!(
        predict.contains("'three-year' ×1") && predict.contains("not seen"),
        "{predict}"
    );
    assert!(
        predict.contains("ignored: row_number"),
        "an extra column is a note: {predict}"
    );
    // The half to score against the model's training profile: every feature compared,
    // the unseen contract named as a new category.
    ok(run(
        &[
            "features",
            "--table",
            path("score.csv").to_str().expect("utf-8"),
            "--id",
            "CustomerID",
        ],
        &[
            ("--spec", &path("model")),
            ("--out", &path("score-features")),
        ],
    ));
    let monitor = ok(run(
        &["monitor"],
        &[
            ("--model", &path("model")),
            ("--features", &path("score-features")),
            ("--out", &path("monitoring")),
        ],
    ));
    assert!(monitor.contains("monitoring written"), "{monitor}");
    assert!(path("monitoring").join("report.html").exists());
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(path("monitoring").join("monitor.json")).expect("monitor.json"),
    )
    .expect("json");
    let drift = &report["data_drift"];
    let features = drift["features"].as_array().expect("features");
    assert_eq!(features.len(), 5, "{drift}");
    let contract = features
        .iter()
        .find(|f| f["name"] == "contract")
        .expect("contract");
    assert_eq!(contract["new_categories"]["three-year"], 1, "{contract}");
    // The same customers' tenure, all the same distribution: no alert on it.
    let tenure = features
        .iter()
        .find(|f| f["name"] == "tenure")
        .expect("tenure");
    assert_ne!(tenure["level"], "alert", "{tenure}");
    assert_eq!(drift["rows"][1], 400);

    let scored = probabilities(&path("scored"));
    assert_eq!(scored.len(), 400);
    assert!(
        scored
            .values()
            .all(|p| p.is_finite() && *p > 0.0 && *p < 1.0)
    );

    // The same customers in another order, with their labels: the same scores, bit for
    // bit.
    let mut shuffled: Vec<&Customer> = to_score.iter().collect();
    shuffled.sort_by_key(|c| (c.tenure, c.id.clone()));
    write_table(&path("labelled.csv"), &shuffled, ',', true);
    ok(run(
        &[
            "predict",
            "--table",
            path("labelled.csv").to_str().expect("utf-8"),
        ],
        &[("--model", &path("model")), ("--out", &path("again"))],
    ));
    assert_eq!(probabilities(&path("again")), scored);

    // A column the model reads is missing: an error naming it.
    let without_tenure = std::fs::read_to_string(path("score.csv"))
        .expect("read")
        .lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split(';').collect();
            fields.remove(4);
            fields.join(";")
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(path("no-tenure.csv"), without_tenure).expect("write");
    let output = run(
        &[
            "predict",
            "--table",
            path("no-tenure.csv").to_str().expect("utf-8"),
        ],
        &[("--model", &path("model")), ("--out", &path("never"))],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("lacks 1 column the model reads: tenure"),
        "{}",
        stderr(&output)
    );
    assert!(!path("never/predictions.parquet").exists());
}

#[test]
fn a_leaked_label_and_a_misspelt_positive_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = |name: &str| dir.path().join(name);
    let everyone = customers(600, 11);
    let mut text = String::from("id,tenure,contract,status,closed_on\n");
    for customer in &everyone {
        let status = if customer.churned {
            "Churned"
        } else {
            "Stayed"
        };
        // Filled in when the customer leaves: the label under another name.
        let closed = if customer.churned { "2026-03-01" } else { "" };
        text.push_str(&format!(
            "{},{},{},{status},{closed}\n",
            customer.id, customer.tenure, customer.contract
        ));
    }
    std::fs::write(path("t.csv"), &text).expect("write");
    let table = path("t.csv");
    let table = table.to_str().expect("utf-8");

    // `churn features` on the table with `extra` flags, into `out`.
    let features_with = |extra: &[&str], out: &str| {
        let mut args = vec![
            "features", "--table", table, "--id", "id", "--target", "status",
        ];
        args.extend_from_slice(extra);
        run(&args, &[("--out", &path(out))])
    };
    let output = features_with(&["--positive", "Churnd"], "f");
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--positive 'churnd' never occurs")
            && stderr(&output).contains("'churned'"),
        "{}",
        stderr(&output)
    );

    let features = ok(features_with(&["--positive", "Churned"], "f"));
    assert!(
        features.contains("'closed_on_filled' alone separates"),
        "{features}"
    );
    let output = run(
        &["train", "--trials", "1,1,1", "--folds", "3"],
        &[("--features", &path("f")), ("--out", &path("m"))],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("'closed_on_filled' alone separates")
            && stderr(&output).contains("--allow-leaky"),
        "{}",
        stderr(&output)
    );
    assert!(!path("m/model.json").exists());
    ok(run(
        &[
            "train",
            "--trials",
            "1,1,1",
            "--folds",
            "3",
            "--allow-leaky",
        ],
        &[("--features", &path("f")), ("--out", &path("m"))],
    ));
    // Leaving it out is the fix.
    ok(features_with(
        &["--positive", "Churned", "--drop", "closed_on"],
        "g",
    ));
    ok(run(
        &["train", "--trials", "1,1,1", "--folds", "3"],
        &[("--features", &path("g")), ("--out", &path("n"))],
    ));
}
