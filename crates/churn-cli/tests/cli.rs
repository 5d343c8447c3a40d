//! The `churn` binary end to end: what a user types, what they see.

use std::process::Command;

fn churn() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_churn"));
    command.env_remove("CHURN_LOG");
    command
}

/// HubSpot (contacts, tasks) and Twilio, answering as documented.
async fn providers() -> wiremock::MockServer {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(|request: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
            let results: Vec<serde_json::Value> = body["inputs"]
                .as_array()
                .expect("inputs")
                .iter()
                .map(|i| serde_json::json!({ "id": format!("hs-{}", i["id"].as_str().unwrap_or("")), "objectWriteTraceId": i["objectWriteTraceId"] }))
                .collect();
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "status": "COMPLETE", "results": results }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tasks/batch/create"))
        .respond_with(|request: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
            let results: Vec<serde_json::Value> = body["inputs"]
                .as_array()
                .expect("inputs")
                .iter()
                .map(|i| serde_json::json!({ "id": "task", "objectWriteTraceId": i["objectWriteTraceId"] }))
                .collect();
            ResponseTemplate::new(201).set_body_json(serde_json::json!({ "status": "COMPLETE", "results": results }))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "sid": "SM1", "status": "queued" })),
        )
        .mount(&server)
        .await;
    server
}

const SEND_PLAYBOOK: &str = r#"
format = 1
revision = "cli-test"
control_share = 0.2
[value]
expected_months = 12
[budget]
daily = 500
[caps]
call = 5
[[actions]]
id = "call-owner"
kind = "call"
cost = 10
save_rate = 0.35
cooldown_days = 30
[[actions]]
id = "discount-sms"
kind = "discount"
channel = "sms"
cost = 0.05
discount_percent = 10
discount_months = 2
save_rate = 0.2
cooldown_days = 60
body = "{discount_percent}% off for {discount_months} months: {offer_code}"
[[rules]]
name = "high"
tiers = ["high"]
actions = ["call-owner", "discount-sms"]
"#;

async fn run(command: Command) -> std::process::Output {
    let mut command = command;
    tokio::task::spawn_blocking(move || command.output().expect("run churn"))
        .await
        .expect("joined")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_every_stage_and_the_plan_is_sent_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut demo = churn();
    demo.args(["demo", "--customers", "1200", "--trials", "1,1,1", "--dir"])
        .arg(dir.path());
    let output = run(demo).await;
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
        "monitoring/dt=2026-11-01/  drift ",
        "estimated ROC-AUC 0.",
        "churn actions: plan of 2026-11-01 (playbook 2026-12-02), dry run: nothing sent",
        "expected      cost",
        "not acted on",
    ] {
        assert!(
            stdout.contains(expected),
            "demo output mentions {expected}: {stdout}"
        );
    }
    let monitored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("monitoring/dt=2026-11-01/monitor.json"))
            .expect("monitor.json"),
    )
    .expect("json");
    assert_eq!(monitored["schema_version"], 1);
    assert_eq!(monitored["accuracy"][0]["date"], "2026-11-01");
    assert!(
        monitored["prediction_drift"]["psi"].is_number(),
        "{monitored}"
    );
    // The demo's data set is published as one version: its pointer names the report.
    let pointer: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("curated/_current.json")).expect("pointer"),
    )
    .expect("json");
    let version = pointer["version"].as_str().expect("version");
    assert!(
        dir.path()
            .join(format!("reports/v={version}/ingest-report.json"))
            .exists()
    );
    let models: Vec<_> = std::fs::read_dir(dir.path().join("models"))
        .expect("models")
        .collect();
    assert_eq!(models.len(), 1, "one model folder");
    let plan = dir.path().join("actions/dt=2026-11-01");
    assert!(plan.join("plan.json").exists() && plan.join("plan.jsonl").exists());
    assert!(
        !plan.join("outcomes.jsonl").exists(),
        "a dry run sends nothing"
    );

    // Now send a plan for the same day to local HubSpot and Twilio servers.
    let server = providers().await;
    let playbook = dir.path().join("send-playbook.toml");
    std::fs::write(&playbook, SEND_PLAYBOOK).expect("playbook");
    let connections = dir.path().join("connections.toml");
    std::fs::write(
        &connections,
        format!(
            "[crm]\nprovider = \"hubspot\"\nbase_url = \"{0}\"\ntoken = {{ env = \"TEST_HUBSPOT_TOKEN\" }}\n\n[sms]\nprovider = \"twilio\"\nbase_url = \"{0}\"\naccount_sid = \"AC123\"\nauth_token = {{ env = \"TEST_TWILIO_TOKEN\" }}\nfrom = \"+15005550006\"\nmessages_per_second = 1000\n",
            server.uri()
        ),
    )
    .expect("connections");
    let predictions = dir.path().join("predictions/dt=2026-11-01");
    let send = || {
        let mut command = churn();
        command
            .args(["actions", "--send", "--predictions"])
            .arg(&predictions)
            .arg("--playbook")
            .arg(&playbook)
            .arg("--connections")
            .arg(&connections)
            .arg("--dir")
            .arg(dir.path())
            .env("TEST_HUBSPOT_TOKEN", "pat-test-token")
            .env("TEST_TWILIO_TOKEN", "twilio-test-token");
        command
    };
    // The dry-run plan is not frozen: sending plans the day anew with this playbook.
    let output = run(send()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("(playbook cli-test), sent"), "{stdout}");
    assert!(stdout.contains("  controls      "), "{stdout}");
    let requests = server.received_requests().await.expect("recorded");
    let texts = requests
        .iter()
        .filter(|r| r.url.path().ends_with("Messages.json"))
        .count();
    let tasks = requests
        .iter()
        .filter(|r| r.url.path().ends_with("tasks/batch/create"))
        .count();
    assert!(texts > 0 && tasks == 1, "{texts} texts, {tasks} task calls");
    for secret in ["pat-test-token", "twilio-test-token"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }
    let outcomes = std::fs::read_to_string(plan.join("outcomes.jsonl")).expect("outcomes");
    assert!(
        outcomes.lines().all(|l| l.contains("\"status\":\"sent\"")),
        "{outcomes}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(plan.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(
        summary["outcomes"]["sent"].as_u64(),
        Some(outcomes.lines().count() as u64)
    );
    assert_eq!(
        summary["plan"]["planned"]["discount-sms"].as_u64(),
        Some(texts as u64)
    );
    assert!(
        summary["plan"]["expected_cost"]
            .as_f64()
            .is_some_and(|c| c <= 500.0)
    );

    // The monitor reads the sent day: its controls are counted, its outcomes not matured.
    let model = models[0].as_ref().expect("model folder").path();
    let mut command = churn();
    command
        .arg("monitor")
        .arg("--model")
        .arg(&model)
        .arg("--actions")
        .arg(&plan)
        .arg("--dir")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("monitoring/actions"));
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let monitored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("monitoring/actions/monitor.json"))
            .expect("monitor.json"),
    )
    .expect("json");
    let day = &monitored["actions"]["days"][0];
    assert_eq!(day["date"], "2026-11-01");
    assert_eq!(
        (day["sent"].as_bool(), day["measured"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(
        day["controls"].as_u64(),
        summary["plan"]["controls"]
            .as_object()
            .map(|c| c.values().filter_map(|v| v.as_u64()).sum::<u64>()),
        "{monitored}"
    );
    assert!(day["controls"].as_u64() > Some(0), "{monitored}");

    // Thresholds of one feature: a name the reference lacks is refused by name, and a
    // malformed flag says how to write it.
    let features_now = dir.path().join("features/as_of=2026-11-01");
    for (flag, says) in [
        (
            "tenure_dayz=0.1,0.2",
            "'tenure_dayz', which is not a feature",
        ),
        ("tenure_days=0.1", "use NAME=WARN,ALERT"),
    ] {
        let mut command = churn();
        command
            .arg("monitor")
            .arg("--model")
            .arg(&model)
            .arg("--features")
            .arg(&features_now)
            .arg("--feature-psi")
            .arg(flag)
            .arg("--dir")
            .arg(dir.path())
            .arg("--out")
            .arg(dir.path().join("monitoring/thresholds"));
        let output = run(command).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(says),
            "{flag}: {stderr}"
        );
    }

    // A challenger scored in shadow beside the day (here the same model, for the
    // wiring): its own folder, and the monitor's comparison.
    let shadowed = dir.path().join("shadow/predictions/dt=2026-11-01");
    let mut command = churn();
    command
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--features")
        .arg(&features_now)
        .arg("--reasons")
        .arg("0")
        .arg("--shadow")
        .arg(&model)
        .args(["--segment-feature", "region"])
        .arg("--out")
        .arg(&shadowed);
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let model_id = model
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        shadowed
            .join(format!("challenger={model_id}/predictions.parquet"))
            .exists()
    );
    assert!(
        !shadowed
            .join(format!("challenger={model_id}/customers.jsonl"))
            .exists(),
        "the list is the champion's only"
    );
    // --segment-feature names the column the customer list's segment is read from.
    let listed = std::fs::read_to_string(shadowed.join("customers.jsonl")).expect("list");
    let regions: std::collections::BTreeSet<String> = listed
        .lines()
        .map(|line| {
            let entry: serde_json::Value = serde_json::from_str(line).expect("JSON");
            entry["segment"].as_str().expect("a segment").to_owned()
        })
        .collect();
    assert!(
        regions.len() > 1 && !regions.iter().any(|r| r.contains("month")),
        "regions, not contracts: {regions:?}"
    );
    let mut command = churn();
    command
        .arg("predict")
        .arg("--model")
        .arg(&model)
        .arg("--features")
        .arg(&features_now)
        .args(["--segment-feature", " "])
        .arg("--out")
        .arg(dir.path().join("shadow/refused"));
    let output = run(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("segment"),
        "{stderr}"
    );
    let mut command = churn();
    command
        .arg("monitor")
        .arg("--model")
        .arg(&model)
        .arg("--predictions")
        .arg(&shadowed)
        .arg("--dir")
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("monitoring/shadow"));
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let monitored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("monitoring/shadow/monitor.json"))
            .expect("monitor.json"),
    )
    .expect("json");
    let shadow = &monitored["shadow"][0];
    assert_eq!(
        shadow["challenger"]["model_id"],
        model_id.as_str(),
        "{monitored}"
    );
    assert_eq!(
        shadow["challenger"]["estimated"], monitored["accuracy"][0]["estimated"],
        "the same model on the same customers"
    );

    // Running the same command again sends nothing.
    let output = run(send()).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("frozen plan of an earlier run") && stdout.contains("already_done"),
        "{stdout}"
    );
    assert_eq!(
        server.received_requests().await.expect("recorded").len(),
        requests.len()
    );

    // Sending needs connections, and a bad playbook is refused naming the field.
    let mut command = churn();
    command
        .args(["actions", "--send", "--predictions"])
        .arg(&predictions)
        .arg("--playbook")
        .arg(&playbook);
    let output = run(command).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--send needs --connections"));
    std::fs::write(
        &playbook,
        SEND_PLAYBOOK.replace("save_rate = 0.35", "save_rate = 3.5"),
    )
    .expect("write");
    let mut command = churn();
    command
        .args(["actions", "--predictions"])
        .arg(&predictions)
        .arg("--playbook")
        .arg(&playbook);
    let output = run(command).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("actions[0] (call-owner).save_rate: must be a share in [0, 1]"),
        "{stderr}"
    );

    // The local registry: a second model of the same features, promoted after the first,
    // then rolled back; every move is in the history with who and why.
    let first = model
        .file_name()
        .expect("id")
        .to_string_lossy()
        .into_owned();
    let training: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("training.json")).expect("training.json"))
            .expect("json");
    let mut command = churn();
    command
        .args([
            "train",
            "--seed",
            "7",
            "--families",
            "lr",
            "--trials",
            "1",
            "--features",
        ])
        .arg(training["features"].as_str().expect("features"))
        .arg("--dir")
        .arg(dir.path());
    let output = run(command).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let second = std::fs::read_dir(dir.path().join("models"))
        .expect("models")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .find(|id| *id != first)
        .expect("a second model");
    let models = |arguments: &[&str]| {
        let mut command = churn();
        command
            .arg("models")
            .args(arguments)
            .arg("--dir")
            .arg(dir.path());
        command.env("USER", "ana");
        command
    };
    // The demo promoted its own model; promoting it again is refused.
    let output = run(models(&["promote", first.as_str(), "--reason", "again"])).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is the champion already"));
    for (arguments, expected) in [
        (
            vec!["promote", second.as_str(), "--reason", "seed 7"],
            "was ",
        ),
        (vec!["rollback", "--reason", "lr only"], "rolled back from "),
    ] {
        let output = run(models(&arguments)).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(expected),
            "{arguments:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = run(models(&["list"])).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let champion_line = stdout
        .lines()
        .find(|l| l.contains("<- champion"))
        .expect("a champion");
    assert!(champion_line.starts_with(&first), "{stdout}");
    for expected in [
        format!("promote  {first} (from none) by churn demo: the demo's model"),
        format!("promote  {second} (from {first}) by ana: seed 7"),
        format!("rollback {first} (from {second}) by ana: lr only"),
    ] {
        assert!(stdout.contains(&expected), "{expected}: {stdout}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path().join("registry/history"))
            .expect("history")
            .count(),
        3
    );
    // Nothing before the first champion; an unknown version is named.
    let output = run(models(&["rollback", "--reason", "again"])).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no earlier one"));
    let output = run(models(&["promote", "nope", "--reason", "x"])).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("nope is not registered"));
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

    let output = churn()
        .args(["train", "--bags", "0", "--features"])
        .arg(dir.path())
        .output()
        .expect("run churn");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("'0' for '--bags"), "{stderr}");

    // Options the pipeline refuses are named by their flag, before any data is read;
    // none is silently raised to a minimum any more.
    for (flag, value, says) in [
        ("--folds", "1", "--folds 1: use at least 2"),
        ("--search-rows", "50", "--search-rows"),
        ("--trials", "0,1,1", "--trials"),
        (
            "--test-fraction",
            "0.9",
            "--test-fraction 0.9 is out of range",
        ),
    ] {
        let output = churn()
            .args(["train", flag, value, "--features"])
            .arg(dir.path())
            .output()
            .expect("run churn");
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{flag}: {stderr}");
    }
    let output = churn()
        .args(["ingest", "--chunk-rows", "0", "--dir"])
        .arg(dir.path())
        .output()
        .expect("run churn");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--chunk-rows"));
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
    for flag in [
        "--as-of",
        "--horizon",
        "--table",
        "--id",
        "--target",
        "--positive",
        "--negative",
        "--drop",
        "--categorical",
        "--spec",
    ] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
}

#[test]
fn train_and_predict_help_name_the_flat_table_flags() {
    for (command, flags) in [
        ("train", &["--allow-leaky", "--train-split-only"][..]),
        ("predict", &["--table", "--id", "--features"][..]),
    ] {
        let output = churn()
            .args([command, "--help"])
            .output()
            .expect("run churn");
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in flags {
            assert!(help.contains(flag), "{command} {flag} in {help}");
        }
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

#[test]
fn models_with_table_read_the_dynamodb_registry() {
    // An endpoint where nothing listens: the error names the call and the table, so the
    // flag reached DynamoDB (the registry's semantics there are tested against the
    // emulator in tests/registry.rs).
    let output = churn()
        .args(["models", "list", "--table", "churn-models-cli-test"])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run churn");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("churn-models-cli-test") && stderr.contains("GetItem"),
        "{stderr}"
    );
}

/// `churn models --table` against the emulator's DynamoDB (the test script starts it and
/// exports `AWS_ENDPOINT_URL`): promote, promote, list, rollback, show, each through the
/// real SDK, read back from the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_with_table_promote_and_roll_back_in_dynamodb() {
    use churn_io::registry::{ModelRegistry, ModelVersion, Registry};
    let Some(clients) = churn_tests::emulator("churn models --table").await else {
        return;
    };
    let table = churn_tests::table(&clients, "churn-models-cli").await;
    let registry = ModelRegistry::new(clients.dynamodb.clone(), &table);
    for (id, at, metric) in [
        ("boosting-aaaa", "2026-10-01T00:00:00Z", 0.81),
        ("boosting-bbbb", "2026-11-01T00:00:00Z", 0.83),
    ] {
        registry
            .register(&ModelVersion {
                version: id.into(),
                trained_at: at.into(),
                artifact_key: format!("models/{id}/model.bin"),
                metric_name: "roc_auc".into(),
                metric,
                holdout: "h".into(),
                data_hash: "d".into(),
                seed: 42,
            })
            .await
            .expect("register");
    }
    let models = |args: &[&str]| {
        let mut command = churn();
        command.arg("models").args(args).args(["--table", &table]);
        command
    };
    for (version, reason) in [
        ("boosting-aaaa", "first champion"),
        ("boosting-bbbb", "better on November"),
    ] {
        let output = run(models(&[
            "promote", version, "--reason", reason, "--by", "ana",
        ]))
        .await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let output = run(models(&[
        "rollback",
        "--reason",
        "complaints from sales",
        "--by",
        "ana",
    ]))
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("rolled back from boosting-bbbb to boosting-aaaa"),
        "{stdout}"
    );
    // What the table now says, read with the SDK.
    let champion = registry
        .champion()
        .await
        .expect("read")
        .expect("a champion");
    assert_eq!(champion.version, "boosting-aaaa");
    let moves: Vec<(&str, &str, &str)> = champion
        .history
        .iter()
        .map(|c| (c.kind.as_str(), c.version.as_str(), c.by.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            ("promote", "boosting-aaaa", "ana"),
            ("promote", "boosting-bbbb", "ana"),
            ("rollback", "boosting-aaaa", "ana"),
        ]
    );
    let output = run(models(&["list"])).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("boosting-aaaa") && stdout.contains("<- champion"),
        "{stdout}"
    );
    assert!(stdout.contains("complaints from sales"), "{stdout}");
    let output = run(models(&["show", "boosting-bbbb"])).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("better on November"), "{stdout}");
    // A version nobody registered is refused by name.
    let output = run(models(&["promote", "boosting-cccc", "--reason", "x"])).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("boosting-cccc"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
