//! The `churn` binary end to end: what a user types, what they see.

use std::process::Command;

fn churn() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churn"));
    command.env_remove("CHURN_LOG");
    command
}

#[test]
fn demo_runs_every_stage_and_says_where_outputs_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = churn()
        .args(["demo", "--customers", "1200", "--trials", "1,1,1", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run churn");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "raw/",
        "ingest-report.json",
        "balanced: true",
        "report.html",
        "ROC-AUC",
        "<- champion",
        "high_risk.csv",
        "rank,customer_id,churn_probability,reasons",
    ] {
        assert!(
            stdout.contains(expected),
            "demo output mentions {expected}: {stdout}"
        );
    }
    assert!(dir.path().join("reports/ingest-report.json").exists());
    let models: Vec<_> = std::fs::read_dir(dir.path().join("models"))
        .expect("models")
        .collect();
    assert_eq!(models.len(), 1, "one model folder");
}

#[test]
fn failures_exit_non_zero_with_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = churn()
        .args(["ingest", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run churn");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("'customers'") && errors[0].contains("churn generate"),
        "{stderr}"
    );

    let output = churn()
        .args(["features", "--as-of", "31/01/2026", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run churn");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--as-of") && stderr.contains("YYYY-MM-DD"),
        "{stderr}"
    );
}

#[test]
fn help_explains_the_flags() {
    let output = churn()
        .args(["generate", "--help"])
        .output()
        .expect("run churn");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in [
        "--customers",
        "--seed",
        "--out",
        "--format",
        "--dirt",
        "--history-months",
        "--force",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    let output = churn()
        .args(["features", "--help"])
        .output()
        .expect("run churn");
    let help = String::from_utf8_lossy(&output.stdout);
    for flag in ["--as-of", "--horizon", "--table", "--id", "--target"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn docs_pages_print() {
    for page in ["contract", "features"] {
        let output = churn().args(["docs", page]).output().expect("run churn");
        assert!(output.status.success());
        assert!(String::from_utf8_lossy(&output.stdout).starts_with('#'));
    }
}
