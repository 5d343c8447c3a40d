use churn_app::config::Env;
use churn_io::registry::{ModelVersion, Move, Registry};
use churn_io::store::{ObjectGet, ObjectPut};
use churn_io::sync::{download_prefix, upload_dir};
use churn_pipeline::generate::{GenerateConfig, generate};
use churn_pipeline::progress::NoProgress;
use churn_pipeline::store::Store;
use churn_pipeline::train::family::Family;
use churn_tests::{emulator, event_file, function_env, keys, platform};
use serde_json::json;

/// A day scored by the Distributed Map (the daily run hands the snapshot over, one
/// child per part, then the merge) gives the day's high-risk list a single invocation
/// gives, and every step replays as a no-op.
#[tokio::test]
async fn a_day_scored_in_shards_equals_the_day_scored_at_once() {
    let Some(clients) = emulator("fan-out").await else {
        return;
    };
    let platform = platform(&clients).await;
    let local = tempfile::tempdir().expect("tempdir");
    let root = local.path().to_path_buf();
    // Polars runs off the async runtime, as in the functions.
    let (model_dir, challenger_dir) = tokio::task::spawn_blocking(move || prepare(&root))
        .await
        .expect("prepared");
    let store = Store::new(local.path());
    upload_dir(&platform.store, local.path(), "curated", &[])
        .await
        .expect("upload curated");
    let bytes = std::fs::read(model_dir.join(churn_pipeline::models::BINARY_FILE)).expect("model");
    let artifact = churn_core::ModelArtifact::from_binary(&bytes).expect("artifact");
    let key = format!("models/{}/model.bin", artifact.model_id);
    platform.store.put(&key, bytes).await.expect("put model");
    let version = ModelVersion {
        version: artifact.model_id.clone(),
        trained_at: "test".into(),
        artifact_key: key,
        metric_name: "roc_auc".into(),
        metric: 0.8,
        holdout: "test".into(),
        data_hash: artifact.lineage.data_hash.clone(),
        seed: artifact.lineage.seed,
    };
    platform
        .registry
        .register(&version)
        .await
        .expect("register");
    platform
        .registry
        .promote(
            &version,
            None,
            Move {
                at: "test",
                by: "test",
                reason: "the fixture",
            },
        )
        .await
        .expect("promote");
    // A challenger trained after it: every shard scores it in shadow too.
    let bytes =
        std::fs::read(challenger_dir.join(churn_pipeline::models::BINARY_FILE)).expect("model");
    let challenger = churn_core::ModelArtifact::from_binary(&bytes)
        .expect("artifact")
        .model_id;
    let key = format!("models/{challenger}/model.bin");
    platform.store.put(&key, bytes).await.expect("put model");
    platform
        .registry
        .register(&ModelVersion {
            version: challenger.clone(),
            trained_at: "test, later".into(),
            artifact_key: key,
            ..version.clone()
        })
        .await
        .expect("register the challenger");

    // The daily run: more customers than the fan-out threshold, as the template sets it
    // (this read is what was missing: the deployed stack never fanned out).
    let env = function_env(
        &platform,
        &[
            ("CHURN_SNAPSHOT_ROWS_PER_PART", "300"),
            ("CHURN_FANOUT_ABOVE", "0"),
        ],
    );
    let fan_out = churn_batch_predict::Config::read(&Env::new(env)).expect("config");
    assert_eq!(fan_out.predict.fan_out_above, Some(0));
    let handle = |event: serde_json::Value| {
        let (platform, fan_out) = (&platform, &fan_out);
        async move {
            let event = serde_json::from_value(event).expect("an event the function takes");
            churn_batch_predict::handle(platform, fan_out, event).await
        }
    };
    let handed = handle(event_file("schedule-daily.json"))
        .await
        .expect("snapshot");
    assert!(handed.fanned_out && !handed.duplicate, "{handed:?}");
    let replay = handle(event_file("schedule-daily.json"))
        .await
        .expect("replay");
    assert!(replay.duplicate, "{replay:?}");
    let date = handed.date.clone();
    let prefix = format!("features/as_of={date}/");
    let snapshot = keys(&platform, &prefix).await;
    let parts: Vec<&String> = snapshot
        .iter()
        .filter(|k| k.ends_with(".parquet"))
        .collect();
    assert_eq!(
        parts.len(),
        3,
        "900 customers in parts of 300: {snapshot:?}"
    );
    assert!(
        keys(&platform, &format!("predictions/dt={date}/"))
            .await
            .is_empty(),
        "nothing is scored before the Distributed Map runs"
    );

    // What the state machine passes on (SnapshotReady's detail).
    let mut merge = event_file("merge-shards.json");
    merge["merge"] = json!({
        "bucket": platform.settings.bucket, "prefix": prefix, "date": date,
        "model": version.version, "parts": parts.len(),
    });
    // One child done, the merge too early: retryable, and it may be tried again.
    handle(json!({ "Key": parts[0] }))
        .await
        .expect("first shard");
    let early = handle(merge.clone()).await.expect_err("two shards missing");
    assert!(
        early.is_retryable() && early.to_string().contains("1 of 3 shards"),
        "{early:?}"
    );
    assert_eq!(
        lambda_runtime::Diagnostic::from(early).error_type,
        "Retryable",
        "what the state machine's Retry matches"
    );
    let mut rows = 0;
    for key in &snapshot {
        let shard = handle(json!({ "Key": key })).await.expect("shard");
        rows += shard.rows;
    }
    let merged = handle(merge.clone()).await.expect("merge");
    let first_part_rows = handle(json!({ "Key": parts[0] }))
        .await
        .expect("replayed shard");
    assert!(first_part_rows.duplicate);
    // rows counts parts 2 and 3 (part 1 was a replay), merged counts all three.
    assert!(merged.rows > rows && merged.high_risk > 0, "{merged:?}");
    let again = handle(merge).await.expect("merge replay");
    assert!(again.duplicate);
    // The challenger's shards, summed up by the merge.
    let shadowed = format!("predictions/dt={date}/challenger={challenger}/");
    let written = keys(&platform, &shadowed).await;
    assert_eq!(
        written.len(),
        2 * parts.len() + 1,
        "scores and summary per shard, and the day's summary: {written:?}"
    );
    let challenger_summary: serde_json::Value = serde_json::from_slice(
        &platform
            .store
            .get(&format!("{shadowed}summary.json"))
            .await
            .expect("the challenger's summary"),
    )
    .expect("json");
    assert_eq!(challenger_summary["rows"].as_u64(), Some(merged.rows));
    assert_eq!(challenger_summary["model_id"], challenger.as_str());

    // The same snapshot scored at once, locally, gives the same ranked list.
    let check = tempfile::tempdir().expect("tempdir");
    download_prefix(&platform.store, &prefix, check.path())
        .await
        .expect("snapshot");
    let at_once = check.path().join("at-once");
    let summary = {
        let (model_dir, snapshot, at_once) = (
            model_dir.clone(),
            check.path().join(&prefix),
            at_once.clone(),
        );
        tokio::task::spawn_blocking(move || {
            churn_pipeline::predict::predict(
                &model_dir,
                &snapshot,
                &at_once,
                &churn_pipeline::predict::PredictOptions::default()
                    .validate()
                    .expect("valid options"),
                &NoProgress,
            )
        })
        .await
        .expect("joined")
        .expect("predict")
    };
    assert_eq!(summary.rows, merged.rows);
    let day = format!("predictions/dt={date}/");
    let list = platform
        .store
        .get(&format!("{day}high_risk.csv"))
        .await
        .expect("the day's list");
    assert_eq!(
        String::from_utf8(list).expect("utf8"),
        std::fs::read_to_string(at_once.join("high_risk.csv")).expect("list")
    );
    let day_summary: serde_json::Value = serde_json::from_slice(
        &platform
            .store
            .get(&format!("{day}summary.json"))
            .await
            .expect("summary"),
    )
    .expect("json");
    assert_eq!(day_summary["rows"].as_u64(), Some(merged.rows));
    // The challenger's scores in shards are its scores of the snapshot at once.
    download_prefix(&platform.store, &shadowed, check.path())
        .await
        .expect("the challenger's shards");
    let (in_shards, at_once) = {
        let (challenger_dir, snapshot, shards, at_once) = (
            challenger_dir.clone(),
            check.path().join(&prefix),
            check.path().join(&shadowed),
            check.path().join(format!("at-once-shadow/dt={date}")),
        );
        tokio::task::spawn_blocking(move || {
            let (folder, _) =
                churn_pipeline::predict::shadow(&challenger_dir, &snapshot, &at_once, &NoProgress)
                    .expect("shadow at once");
            let sorted = |dir: &std::path::Path| {
                let scores = churn_pipeline::monitor::DayScores::read(dir).expect("scores");
                let mut pairs: Vec<(String, f64)> =
                    scores.ids.into_iter().zip(scores.probabilities).collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                pairs
            };
            (sorted(&shards), sorted(&folder))
        })
        .await
        .expect("joined")
    };
    assert_eq!(in_shards.len() as u64, merged.rows);
    assert_eq!(in_shards, at_once);

    // The CRM push reads a day in shards like a whole one.
    download_prefix(&platform.store, &day, check.path())
        .await
        .expect("predictions");
    let playbook = churn_io::connections::parse_playbook(
        include_str!("../examples/playbook.toml"),
        "examples/playbook.toml",
    )
    .expect("playbook");
    let sources = churn_pipeline::actions::CandidateSources {
        predictions: check.path().join(&day),
        features: Some(check.path().join(&prefix)),
        customers: Some(
            churn_pipeline::dataset::Dataset::current(&store)
                .expect("published")
                .curated(churn_pipeline::contract::Source::Customers)
                .local(store.root()),
        ),
    };
    let candidates = tokio::task::spawn_blocking(move || {
        churn_pipeline::actions::load_candidates(&sources, &playbook)
    })
    .await
    .expect("joined")
    .expect("candidates");
    assert_eq!(candidates.scored, merged.rows);
    let high = candidates
        .candidates
        .iter()
        .filter(|c| c.tier == churn_core::Tier::High)
        .count() as u64;
    assert_eq!(high, merged.high_risk);
    assert!(
        candidates
            .candidates
            .iter()
            .any(|c| c.monthly_charge.is_some())
    );

    // Every shard refreshed its customers' online rows.
    let first = candidates.candidates[0].customer_id.clone();
    assert!(platform.online.get(&first).await.expect("online").is_some());
}

/// 900 generated customers ingested under `root`, and a logistic regression (the
/// champion) and a boosted model (the challenger) trained on an earlier as-of date of them.
fn prepare(root: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let store = Store::new(root);
    let config = GenerateConfig {
        customers: 900,
        seed: 11,
        ..GenerateConfig::default()
    };
    generate(&store, &config, &NoProgress).expect("generate");
    let options = churn_pipeline::ingest::IngestOptions::new(config.end_date);
    churn_pipeline::ingest::ingest(&store, &options, &NoProgress).expect("ingest");
    let as_of = config.end_date - chrono::Duration::days(29);
    let table = churn_pipeline::features::build_as_of(&store, as_of, 30, None).expect("features");
    let mut options = churn_pipeline::train::TrainOptions {
        families: vec![Family::Linear],
        trained_at: "test".into(),
        ..Default::default()
    };
    options.trials.insert(Family::Linear, 1);
    let train = |options: &churn_pipeline::train::TrainOptions, name: &str| {
        churn_pipeline::models::train_dir(
            std::path::Path::new(&table.dir),
            &options.clone().validate().expect("valid options"),
            Some(&root.join(name)),
            root,
            &NoProgress,
        )
        .expect("train")
        .1
    };
    let champion = train(&options, "model");
    options.families = vec![Family::Boosting];
    options.trials.insert(Family::Boosting, 1);
    (champion, train(&options, "challenger"))
}
