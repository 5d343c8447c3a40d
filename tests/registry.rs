use churn_io::IoError;
use churn_io::registry::{ModelRegistry, ModelVersion};
use churn_tests::{emulator, table};

fn version(id: &str, metric: f64) -> ModelVersion {
    ModelVersion {
        version: id.into(),
        trained_at: "2026-11-25T06:00:00Z".into(),
        artifact_key: format!("models/{id}/model.bin"),
        metric_name: "roc_auc".into(),
        metric,
        holdout: "holdout-2026-11-01-seed-42".into(),
        data_hash: "9f2c".into(),
        seed: 42,
    }
}

#[tokio::test]
async fn versions_are_recorded_once_with_their_lineage() {
    let Some(clients) = emulator("registry versions").await else {
        return;
    };
    let registry = ModelRegistry::new(clients.dynamodb.clone(), table(&clients, "models").await);
    let first = version("gbdt-1", 0.8487);
    registry.register(&first).await.expect("register");
    // A retried event registers it again with other numbers: the first record stays.
    registry
        .register(&version("gbdt-1", 0.5))
        .await
        .expect("again");
    assert_eq!(registry.version("gbdt-1").await.expect("get"), Some(first));
    assert_eq!(registry.version("nope").await.expect("get"), None);
    assert_eq!(registry.champion().await.expect("champion"), None);
}

#[tokio::test]
async fn of_two_promotions_at_once_exactly_one_wins() {
    let Some(clients) = emulator("registry promotion").await else {
        return;
    };
    let registry = ModelRegistry::new(clients.dynamodb.clone(), table(&clients, "models").await);
    let (a, b) = (version("a", 0.84), version("b", 0.85));
    // Both saw no champion and both try to become it.
    let (left, right) = tokio::join!(
        registry.promote(&a, None, "2026-11-25T06:00:00Z"),
        registry.promote(&b, None, "2026-11-25T06:00:01Z"),
    );
    assert!(left.is_ok() != right.is_ok(), "{left:?} / {right:?}");
    let loser = left.err().or(right.err()).expect("one lost");
    assert!(matches!(loser, IoError::Conflict(_)), "{loser}");
    assert!(
        loser.to_string().contains("another promotion won"),
        "{loser}"
    );
    let champion = registry.champion().await.expect("champion").expect("set");
    assert!(champion.version == "a" || champion.version == "b");

    // Two challengers compared against the same champion: again one wins.
    let current = champion.version.clone();
    let (c, d) = (version("c", 0.86), version("d", 0.87));
    let (left, right) = tokio::join!(
        registry.promote(&c, Some(&current), "2026-11-26T06:00:00Z"),
        registry.promote(&d, Some(&current), "2026-11-26T06:00:00Z"),
    );
    assert!(left.is_ok() != right.is_ok(), "{left:?} / {right:?}");
    // A stale expectation loses even when nobody races.
    let stale = registry
        .promote(&version("e", 0.99), Some(&current), "2026-11-27T06:00:00Z")
        .await;
    assert!(matches!(stale, Err(IoError::Conflict(_))), "{stale:?}");
}
