use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use churn_core::drift::Level;
use churn_pipeline::features::build_as_of;
use churn_pipeline::features::data::load_dir;
use churn_pipeline::models::train_dir;
use churn_pipeline::monitor::{self, MonitorReport, MonitorRequest};
use churn_pipeline::predict::{PredictOptions, predict};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;

use crate::common::curated_path;
use crate::models::{feature_dir, quick_options, valid};

fn day(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

/// `customers` generated into `dir`, features as of 2026-06-01 (data to 2026-10-31), and
/// a quick model trained on them in `dir/models/m`.
fn trained(dir: &Path, customers: u64) -> PathBuf {
    let training = feature_dir(dir, customers);
    let model = dir.join("models/m");
    train_dir(
        &training,
        &valid(quick_options()),
        Some(&model),
        dir,
        &NoProgress,
    )
    .expect("train");
    model
}

/// Features as of `as_of` scored into `predictions/dt=<as_of>`.
fn predicted(dir: &Path, model: &Path, as_of: &str) -> (PathBuf, PathBuf) {
    let summary = build_as_of(&Store::new(dir), day(as_of), 90, None).expect("features");
    let features = PathBuf::from(summary.dir);
    let out = dir.join(format!("predictions/dt={as_of}"));
    let options = PredictOptions {
        reasons: 0,
        ..PredictOptions::default()
    }
    .validate()
    .expect("options");
    predict(model, &features, &out, &options, &NoProgress).expect("predict");
    (features, out)
}

/// The ROC-AUC of the scores in a prediction folder joined by customer to the labelled
/// features of that day (the training label, built by another path than the monitor's).
fn direct_roc_auc(labelled: &churn_pipeline::features::data::Dataset, scored: &Path) -> f64 {
    let scores = monitor::DayScores::read(scored).expect("scores");
    let by_id: std::collections::HashMap<&str, f64> = scores
        .ids
        .iter()
        .map(String::as_str)
        .zip(scores.probabilities.iter().copied())
        .collect();
    let probabilities: Vec<f64> = labelled.ids.iter().map(|id| by_id[id.as_str()]).collect();
    churn_core::metrics::roc_auc(&labelled.labels, &probabilities).expect("auc")
}

#[test]
fn realised_accuracy_is_the_direct_join_estimates_cover_unmatured_days_and_drift_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Trained as of 2026-06-01 on data that ends 2026-10-31.
    let model = trained(dir.path(), 1500);
    // 2026-07-01 + 90 days is covered; 2026-10-01 + 90 days is not.
    let (_, matured) = predicted(dir.path(), &model, "2026-07-01");
    let (latest_features, latest) = predicted(dir.path(), &model, "2026-10-01");

    let request = MonitorRequest {
        model_dir: model.clone(),
        features: Some(latest_features.clone()),
        predictions: vec![latest.clone(), matured.clone()],
        data: Some(dir.path().to_path_buf()),
        ..MonitorRequest::default()
    };
    let report = monitor::monitor(&request).expect("monitor");
    assert_eq!(report.date.as_deref(), Some("2026-10-01"));
    assert_eq!(report.accuracy.len(), 2, "oldest first");
    let (old, new) = (&report.accuracy[0], &report.accuracy[1]);
    assert_eq!(
        (old.date.as_str(), new.date.as_str()),
        ("2026-07-01", "2026-10-01")
    );
    assert_eq!(old.matures_on, "2026-09-28");
    assert!(new.realised.is_none(), "{new:?}");
    assert!(new.estimated.roc_auc.is_some());

    // The realised ROC-AUC is the one computed directly on the labelled features of
    // that day (the training label, built by another path) joined to the scores.
    let realised = old.realised.as_ref().expect("matured");
    let labelled = load_dir(&dir.path().join("features/as_of=2026-07-01"), true).expect("labels");
    let direct = direct_roc_auc(&labelled, &matured);
    let auc = realised.roc_auc.expect("auc");
    assert!((auc - direct).abs() < 1e-12, "{auc} vs {direct}");
    assert_eq!(
        realised.positives as usize,
        labelled.labels.iter().filter(|l| **l).count()
    );
    let error = old.estimate_error.expect("error");
    assert!((error - (old.estimated.roc_auc.expect("estimate") - auc)).abs() < 1e-15);
    assert!(realised.top_decile_lift.expect("lift") > 1.0);

    // Prediction and data drift of the latest day against the training table.
    let scores = report.prediction_drift.as_ref().expect("prediction drift");
    assert_eq!(scores.date, "2026-10-01");
    assert!(scores.psi.is_some());
    for shares in &scores.histogram {
        assert!(
            (shares.iter().sum::<f64>() - 1.0).abs() < 1e-6,
            "{shares:?}"
        );
    }
    let tiers: f64 = scores.tiers.values().map(|[_, now]| now).sum();
    assert!((tiers - 1.0).abs() < 1e-9);
    let drift = report.data_drift.as_ref().expect("data drift");
    assert_eq!(drift.rows[1] as usize, scores.rows[1] as usize);
    assert!(report.reference_roc_auc.is_some());
    assert_eq!(
        report.auc_floor,
        report
            .reference_roc_auc
            .map(|a| a - monitor::DEFAULT_AUC_DROP)
    );

    // A daily run carries the matured day over from the previous report instead of
    // reading its scores again: the same series, the same findings. A day also passed
    // as a folder is measured again, not taken from the carried figures.
    let mut stale = old.clone();
    stale.realised = None;
    let carried = monitor::monitor(&MonitorRequest {
        predictions: vec![latest.clone()],
        earlier: vec![old.clone(), {
            let mut n = new.clone();
            n.rows = 0;
            n
        }],
        ..request.clone()
    })
    .expect("carried over");
    assert_eq!(carried.accuracy, report.accuracy);
    assert_eq!(carried.findings, report.findings);
    let remeasured = monitor::monitor(&MonitorRequest {
        earlier: vec![stale],
        ..request.clone()
    })
    .expect("measured again");
    assert_eq!(remeasured.accuracy, report.accuracy);

    // Written and read back; the report is one offline page.
    let out = dir.path().join("monitoring/dt=2026-10-01");
    monitor::write(&out, &report).expect("write");
    let back: MonitorReport = serde_json::from_str(
        &std::fs::read_to_string(out.join(monitor::MONITOR_FILE)).expect("json"),
    )
    .expect("read back");
    assert_eq!(back, report);
    let html = std::fs::read_to_string(out.join(monitor::REPORT_FILE)).expect("html");
    for part in [
        "Data drift",
        "Prediction drift",
        "Accuracy over time",
        "<svg",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "offline"
    );

    // A floor above every figure: degraded, realised (the matured day) and estimated.
    let strict = monitor::monitor(&MonitorRequest {
        auc_floor: Some(0.999),
        ..request.clone()
    })
    .expect("monitor");
    let figures: Vec<&str> = strict
        .findings
        .degraded
        .iter()
        .map(|d| d.figure.as_str())
        .collect();
    assert_eq!(figures, ["realised", "estimated"]);

    // Without the curated data: estimated only, and said so.
    let blind = monitor::monitor(&MonitorRequest {
        data: Some(dir.path().join("nowhere")),
        features: None,
        ..request.clone()
    })
    .expect("monitor");
    assert!(blind.accuracy.iter().all(|d| d.realised.is_none()));
    assert!(
        blind.warnings.iter().any(|w| w.contains("estimated only")),
        "{:?}",
        blind.warnings
    );
    assert!(blind.data_drift.is_none());
    assert_eq!(
        blind.findings.drift,
        scores.level.max(Level::Stable),
        "scores only"
    );
}

#[test]
fn bad_monitor_input_gets_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = trained(dir.path(), 600);
    let (_, day) = predicted(dir.path(), &model, "2026-10-01");
    let request = |predictions: Vec<PathBuf>| MonitorRequest {
        model_dir: model.clone(),
        predictions,
        data: Some(dir.path().to_path_buf()),
        ..MonitorRequest::default()
    };
    let message =
        |request: MonitorRequest| monitor::monitor(&request).expect_err("refused").to_string();
    assert!(message(request(Vec::new())).contains("nothing to monitor"));
    assert!(message(request(vec![day.clone(), day.clone()])).contains("pass each day once"));
    // A folder not named after its day.
    let unnamed = dir.path().join("scored");
    std::fs::create_dir_all(&unnamed).expect("mkdir");
    assert!(message(request(vec![unnamed])).contains("dt=<date>"));
    // An unfinished folder: no summary.
    let unfinished = dir.path().join("predictions/dt=2026-10-02");
    std::fs::create_dir_all(&unfinished).expect("mkdir");
    std::fs::copy(
        day.join("predictions.parquet"),
        unfinished.join("predictions.parquet"),
    )
    .expect("copy");
    assert!(message(request(vec![unfinished.clone()])).contains("unfinished"));
    // Predictions by another model than the reference's: no prediction drift, and why.
    let summary = std::fs::read_to_string(day.join("summary.json")).expect("summary");
    let mut summary: serde_json::Value = serde_json::from_str(&summary).expect("json");
    summary["model_id"] = "another-model".into();
    std::fs::write(unfinished.join("summary.json"), summary.to_string()).expect("write");
    let report = monitor::monitor(&request(vec![unfinished])).expect("monitor");
    assert!(report.prediction_drift.is_none());
    assert!(
        report.warnings.iter().any(|w| w.contains("another-model")),
        "{:?}",
        report.warnings
    );
    // A model folder that is not one.
    let error = message(MonitorRequest {
        model_dir: dir.path().join("models"),
        ..request(vec![day])
    });
    assert!(error.contains("not a model folder"), "{error}");
}

/// The day's plan of a one-action playbook with a control share, written as a sent
/// `churn actions` day writes it (`frozen`), or as a dry run.
fn acted(dir: &Path, predictions: &Path, features: &Path, date: &str, sent: bool) -> PathBuf {
    use churn_core::playbook::{ContactHistory, Day, PlanHeader, Playbook, plan};
    use churn_pipeline::actions::{CandidateSources, load_candidates};
    let playbook: Playbook = serde_json::from_value(serde_json::json!({
        "format": 1, "revision": "test", "control_share": 0.3,
        "value": { "expected_months": 12 },
        "budget": { "daily": 1_000_000 },
        "actions": [{ "id": "call", "kind": "call", "cost": 5, "save_rate": 0.3 }],
        "rules": [{ "name": "everyone", "actions": ["call"] }]
    }))
    .expect("playbook");
    playbook.validate().expect("valid");
    let candidates = load_candidates(
        &CandidateSources {
            predictions: predictions.to_path_buf(),
            features: Some(features.to_path_buf()),
            customers: Some(curated_path(dir, "customers")),
        },
        &playbook,
    )
    .expect("candidates");
    let day = Day::parse(date).expect("day");
    let plan = plan(
        &playbook,
        day,
        &candidates.candidates,
        &ContactHistory::default(),
    );
    let out = dir.join(format!("actions/dt={date}"));
    std::fs::create_dir_all(&out).expect("mkdir");
    let lines = |items: Vec<String>| items.into_iter().map(|l| l + "\n").collect::<String>();
    std::fs::write(
        out.join("plan.jsonl"),
        lines(
            plan.actions
                .iter()
                .map(|a| serde_json::to_string(a).expect("json"))
                .collect(),
        ),
    )
    .expect("write");
    std::fs::write(
        out.join("skipped.jsonl"),
        lines(
            plan.skipped
                .iter()
                .map(|a| serde_json::to_string(a).expect("json"))
                .collect(),
        ),
    )
    .expect("write");
    let header = PlanHeader {
        date: day,
        revision: plan.revision.clone(),
        currency: plan.currency.clone(),
        frozen: sent,
        summary: plan.summary.clone(),
    };
    std::fs::write(
        out.join("plan.json"),
        serde_json::to_string(&header).expect("json"),
    )
    .expect("write");
    out
}

#[test]
fn the_effect_of_actions_is_treated_against_control_on_the_direct_join() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = trained(dir.path(), 1200);
    // Sent on 2026-07-01 (matured), a dry run on 2026-08-01, sent on 2026-10-01 (not
    // matured).
    let (features, predictions) = predicted(dir.path(), &model, "2026-07-01");
    let matured = acted(dir.path(), &predictions, &features, "2026-07-01", true);
    let (features, predictions) = predicted(dir.path(), &model, "2026-08-01");
    let dry = acted(dir.path(), &predictions, &features, "2026-08-01", false);
    let (features, predictions) = predicted(dir.path(), &model, "2026-10-01");
    let young = acted(dir.path(), &predictions, &features, "2026-10-01", true);

    let report = monitor::monitor(&MonitorRequest {
        model_dir: model.clone(),
        actions: vec![young.clone(), matured.clone(), dry.clone()],
        data: Some(dir.path().to_path_buf()),
        ..MonitorRequest::default()
    })
    .expect("monitor");
    assert_eq!(report.date.as_deref(), Some("2026-10-01"), "the latest day");
    let effects = report.actions.as_ref().expect("effects");
    let days: Vec<(&str, bool, bool)> = effects
        .days
        .iter()
        .map(|d| (d.date.as_str(), d.sent, d.measured))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-07-01", true, true),
            ("2026-08-01", false, false),
            ("2026-10-01", true, false)
        ]
    );
    for expected in [
        "2026-08-01 were a dry run",
        "2026-10-01 mature when the data reaches",
    ] {
        assert!(
            report.warnings.iter().any(|w| w.contains(expected)),
            "{expected}: {:?}",
            report.warnings
        );
    }

    // The arms are the matured day's planned and held-back customers joined to the
    // labels of the features as of that day (built by another path).
    let labelled = load_dir(&dir.path().join("features/as_of=2026-07-01"), true).expect("labels");
    let churned: std::collections::HashMap<&str, bool> = labelled
        .ids
        .iter()
        .map(String::as_str)
        .zip(labelled.labels.iter().copied())
        .collect();
    let read = |name: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(matured.join(name))
            .expect("read")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    };
    let mut treated = churn_core::uplift::Arm::default();
    let (mut value, mut expected) = (0.0, 0.0);
    for action in read("plan.jsonl").iter().filter(|a| a["action"] == "call") {
        treated.add(churned[action["customer_id"].as_str().expect("id")]);
        value += action["customer_value"].as_f64().expect("value");
        expected += action["expected_saved"].as_f64().expect("saved");
    }
    let mut control = churn_core::uplift::Arm::default();
    for skip in read("skipped.jsonl")
        .iter()
        .filter(|s| s["reason"] == "control")
    {
        control.add(churned[skip["customer_id"].as_str().expect("id")]);
    }
    assert!(
        treated.customers > 300 && control.customers > 100,
        "{treated:?} {control:?}"
    );
    assert!(treated.churned > 0 && control.churned > 0);
    let all = effects
        .effects
        .iter()
        .find(|e| e.action == "call" && e.tier.is_none())
        .expect("every tier");
    assert_eq!((all.treated, all.control), (treated, control));
    let uplift = churn_core::uplift::uplift(treated, control).expect("uplift");
    assert_eq!(all.uplift, Some(uplift));
    assert!((all.realised_saved.expect("saved") - uplift.difference * value).abs() < 1e-6);
    assert!((all.expected_saved - expected).abs() < 1e-6);
    assert!((all.assumed_save_rate.expect("assumed") - 0.3).abs() < 1e-12);
    // The tiers add up to the whole.
    let tiers: Vec<_> = effects
        .effects
        .iter()
        .filter(|e| e.tier.is_some())
        .collect();
    assert!(!tiers.is_empty());
    let sum = |f: fn(&churn_pipeline::monitor::ActionEffect) -> u64| {
        tiers.iter().map(|e| f(e)).sum::<u64>()
    };
    assert_eq!(sum(|e| e.treated.customers), treated.customers);
    assert_eq!(sum(|e| e.control.churned), control.churned);

    // The generated customers do not react to calls: the playbook's 30 % is not what was
    // realised, and the report says which actions it overrates only when the interval
    // is clear of the assumption.
    let high = uplift.save_rate_high.expect("interval");
    assert_eq!(
        report.findings.overrated_actions.is_empty(),
        high >= 0.3,
        "{uplift:?}"
    );

    let out = dir.path().join("monitoring/dt=2026-10-01");
    monitor::write(&out, &report).expect("write");
    let back: MonitorReport = serde_json::from_str(
        &std::fs::read_to_string(out.join(monitor::MONITOR_FILE)).expect("json"),
    )
    .expect("read back");
    assert_eq!(back, report);
    let html = std::fs::read_to_string(out.join(monitor::REPORT_FILE)).expect("html");
    assert!(html.contains("Did the actions work?") && html.contains("call control"));

    // Bad input: a folder that is not a day of actions, the same day twice.
    let message =
        |request: MonitorRequest| monitor::monitor(&request).expect_err("refused").to_string();
    let request = |actions: Vec<PathBuf>| MonitorRequest {
        model_dir: model.clone(),
        actions,
        data: Some(dir.path().to_path_buf()),
        ..MonitorRequest::default()
    };
    let error = message(request(vec![dir.path().join("models")]));
    assert!(error.contains("not a day of `churn actions`"), "{error}");
    let error = message(request(vec![matured.clone(), matured.clone()]));
    assert!(error.contains("pass each day once"), "{error}");
    std::fs::write(matured.join("skipped.jsonl"), "{\"customer_id\": 1}\n").expect("write");
    let error = message(request(vec![matured.clone()]));
    assert!(
        error.contains("skipped.jsonl") && error.contains("line 1"),
        "{error}"
    );
}

/// `customers` (seed 7, as `trained` generates them) generated again with the `drift`
/// scenarios, ingested, and their features as of `as_of` held against `model`'s
/// reference.
fn monitored_with(model: &Path, customers: u64, drift: &[&str], as_of: &str) -> MonitorReport {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = churn_pipeline::generate::GenerateConfig {
        customers,
        seed: 7,
        format: churn_pipeline::store::RawFormat::Parquet,
        customers_per_file: customers.div_ceil(2).max(1),
        overwrite: true,
        drift: drift
            .iter()
            .map(|d| d.parse().expect("a scenario"))
            .collect(),
        ..churn_pipeline::generate::GenerateConfig::default()
    };
    churn_pipeline::generate::generate(&Store::new(dir.path()), &config, &NoProgress)
        .expect("generate");
    crate::common::ingest_dir(dir.path()).expect("ingest");
    let summary = build_as_of(&Store::new(dir.path()), day(as_of), 90, None).expect("features");
    monitor::monitor(&MonitorRequest {
        model_dir: model.to_path_buf(),
        features: Some(PathBuf::from(summary.dir)),
        ..MonitorRequest::default()
    })
    .expect("monitor")
}

#[test]
fn every_drift_scenario_of_the_generator_is_detected_with_its_features_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let customers = 2000;
    // Trained as of 2026-06-01; each scenario starts a month later and is looked at as
    // of 2026-09-01. The same customers without a scenario raise their own alerts (time
    // itself moves some features: see docs/monitoring.md); a scenario's are those the
    // undrifted data does not raise.
    let model = trained(dir.path(), customers);
    // Evaluated, as training in the functions and the CLI does: the monitor weighs the
    // features by the importance the evaluation measured.
    churn_pipeline::evaluate::evaluate(&model, None).expect("evaluate");
    let as_of = "2026-09-01";
    let baseline = monitored_with(&model, customers, &[], as_of);
    // Alerts split by the model's use of the feature: those it barely uses page nobody.
    let drift = baseline.data_drift.as_ref().expect("data drift");
    for feature in drift.features.iter().filter(|f| f.level == Level::Alert) {
        let quiet = feature.importance.expect("evaluated") < monitor::data::DEFAULT_MIN_IMPORTANCE
            && feature.new_categories.is_empty()
            && feature.missing[1] < 1.0;
        assert_eq!(
            baseline.findings.quiet_alerts.contains(&feature.name),
            quiet,
            "{feature:?}"
        );
        assert_eq!(
            baseline.findings.drifted_features.contains(&feature.name),
            !quiet
        );
    }
    if baseline.findings.drifted_features.is_empty() && !baseline.findings.quiet_alerts.is_empty() {
        assert_eq!(
            baseline.findings.drift,
            Level::Warn,
            "quiet alerts are warnings"
        );
    }
    let undrifted: Vec<String> = baseline
        .findings
        .drifted_features
        .iter()
        .chain(&baseline.findings.quiet_alerts)
        .cloned()
        .collect();
    let sessions = [
        "session_count_7d",
        "session_count_30d",
        "session_count_90d",
        "avg_session_minutes_7d",
        "avg_session_minutes_30d",
        "avg_session_minutes_90d",
        "daily_active_minutes_30d",
        "active_days_30d",
        "usage_trend_30d_vs_prior_60d",
        "minutes_used_30d",
        "data_used_mb_30d",
        "days_since_last_session",
    ];
    let scenarios: [(&str, &[&str]); 4] = [
        (
            "price-rise@2026-07-01=1.3",
            &[
                "monthly_charge",
                "monthly_charge_change_90d",
                "price_increases_365d",
                "days_in_current_contract",
                "outstanding_amount",
            ],
        ),
        ("usage-decline@2026-07-01=0.5", &sessions),
        ("new-plan@2026-07-01=family", &["plan"]),
        (
            "null-column@2026-07-01=sessions.data_used_mb",
            &["data_used_mb_30d"],
        ),
    ];
    for (scenario, changed) in scenarios {
        let report = monitored_with(&model, customers, &[scenario], as_of);
        assert_eq!(report.findings.drift, Level::Alert, "{scenario}");
        let new: Vec<&String> = report
            .findings
            .drifted_features
            .iter()
            .filter(|f| !undrifted.contains(f))
            .collect();
        assert!(!new.is_empty(), "{scenario}: nothing new at alert");
        // Only what the scenario changes alerts, and the first of them is the most
        // urgent of all that the undrifted data does not raise.
        for feature in &new {
            assert!(
                changed.contains(&feature.as_str()),
                "{scenario}: {feature} alerts, which it does not change ({new:?})"
            );
        }
        let drift = report.data_drift.as_ref().expect("data drift");
        if scenario.starts_with("new-plan") {
            let plan = drift
                .features
                .iter()
                .find(|f| f.name == "plan")
                .expect("plan");
            assert!(
                plan.new_categories
                    .get("family")
                    .is_some_and(|rows| *rows > 0),
                "{plan:?}"
            );
        }
        if scenario.starts_with("null-column") {
            // A broken column is the first thing to look at, whatever else moved.
            assert_eq!(report.findings.drifted_features[0], "data_used_mb_30d");
        }
    }
}

#[test]
fn a_challenger_in_shadow_is_compared_with_the_champion_on_the_same_matured_customers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let champion = trained(dir.path(), 1500);
    // A challenger of another family, trained on the same features.
    let mut options = quick_options();
    options.families = vec![churn_pipeline::train::family::Family::Linear];
    let challenger = dir.path().join("models/c");
    train_dir(
        &dir.path().join("features/as_of=2026-06-01"),
        &valid(options),
        Some(&challenger),
        dir.path(),
        &NoProgress,
    )
    .expect("train the challenger");
    let (features, day) = predicted(dir.path(), &champion, "2026-07-01");
    let (folder, summary) =
        churn_pipeline::predict::shadow(&challenger, &features, &day, &NoProgress).expect("shadow");
    assert_eq!(folder, day.join(format!("challenger={}", summary.model_id)));
    // Its scores and summary only: the day's high-risk list is the champion's.
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["predictions.parquet", "summary.json"]);

    let request = MonitorRequest {
        model_dir: champion.clone(),
        features: Some(features.clone()),
        predictions: vec![day.clone()],
        data: Some(dir.path().to_path_buf()),
        ..MonitorRequest::default()
    };
    let report = monitor::monitor(&request).expect("monitor");
    assert_eq!(report.shadow.len(), 1);
    let shadow = &report.shadow[0];
    assert_eq!(shadow.challenger.model_id, summary.model_id);
    assert_eq!(shadow.champion, report.accuracy[0].model_id);
    // The challenger's realised ROC-AUC is the direct one on the labelled features of
    // the day, and the gain is against the champion's on the same customers.
    let labelled = load_dir(&dir.path().join("features/as_of=2026-07-01"), true).expect("labels");
    let direct = direct_roc_auc(&labelled, &folder);
    let theirs = shadow
        .challenger
        .realised
        .as_ref()
        .and_then(|r| r.roc_auc)
        .expect("matured");
    assert!((theirs - direct).abs() < 1e-12, "{theirs} vs {direct}");
    let ours = report.accuracy[0]
        .realised
        .as_ref()
        .and_then(|r| r.roc_auc)
        .expect("matured");
    let gain = shadow.roc_auc_gain.expect("a gain");
    assert!((gain - (theirs - ours)).abs() < 1e-15);
    assert_ne!(gain, 0.0, "two different models");
    assert_eq!(
        report.findings.challengers_ahead,
        if gain > 0.0 {
            vec![summary.model_id.clone()]
        } else {
            Vec::new()
        }
    );
    let html = monitor::html::render(&report);
    assert!(html.contains("Champion and challengers"));

    // Carried over from the report, the comparison stands without reading the day again.
    let carried = monitor::monitor(&MonitorRequest {
        predictions: Vec::new(),
        earlier: report.accuracy.clone(),
        earlier_shadow: report.shadow.clone(),
        ..request
    })
    .expect("carried");
    assert_eq!(carried.shadow, report.shadow);
    assert_eq!(
        carried.findings.challengers_ahead,
        report.findings.challengers_ahead
    );
}
