use churn_io::IoError;
use churn_io::registry::{ChangeKind, ModelRegistry, ModelVersion, Move, Registry};
use churn_tests::{emulator, table};

fn why(at: &str) -> Move<'_> {
    Move {
        at,
        by: "churn-train",
        reason: "beats the champion",
    }
}

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
        registry.promote(&a, None, why("2026-11-25T06:00:00Z")),
        registry.promote(&b, None, why("2026-11-25T06:00:01Z")),
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
        registry.promote(&c, Some(&current), why("2026-11-26T06:00:00Z")),
        registry.promote(&d, Some(&current), why("2026-11-26T06:00:00Z")),
    );
    assert!(left.is_ok() != right.is_ok(), "{left:?} / {right:?}");
    // A stale expectation loses even when nobody races.
    let stale = registry
        .promote(
            &version("e", 0.99),
            Some(&current),
            why("2026-11-27T06:00:00Z"),
        )
        .await;
    assert!(matches!(stale, Err(IoError::Conflict(_))), "{stale:?}");
}

#[tokio::test]
async fn rollback_returns_to_the_previous_champion_once_and_the_history_keeps_every_move() {
    let Some(clients) = emulator("registry rollback").await else {
        return;
    };
    let registry = ModelRegistry::new(clients.dynamodb.clone(), table(&clients, "models").await);
    let (a, b, c) = (version("a", 0.84), version("b", 0.85), version("c", 0.86));
    for model in [&a, &b, &c] {
        registry.register(model).await.expect("register");
    }
    let listed: Vec<String> = registry
        .versions()
        .await
        .expect("versions")
        .into_iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, ["a", "b", "c"]);
    registry.promote(&a, None, why("t1")).await.expect("a");
    registry.promote(&b, Some("a"), why("t2")).await.expect("b");
    registry.promote(&c, Some("b"), why("t3")).await.expect("c");

    // Two rollbacks of c at once: exactly one moves the champion back to b.
    let manual = |at| Move {
        at,
        by: "ana",
        reason: "c scores the wrong tier",
    };
    let (left, right) = tokio::join!(
        registry.rollback("c", manual("t4")),
        registry.rollback("c", manual("t4")),
    );
    assert!(left.is_ok() != right.is_ok(), "{left:?} / {right:?}");
    let loser = left
        .as_ref()
        .err()
        .or(right.as_ref().err())
        .expect("one lost");
    assert!(matches!(loser, IoError::Conflict(_)), "{loser}");
    let champion = registry.champion().await.expect("read").expect("set");
    assert_eq!((champion.version.as_str(), champion.metric), ("b", 0.85));
    assert_eq!(champion.holdout, b.holdout);

    // Again: back to a; then there is nothing before a.
    registry.rollback("b", manual("t5")).await.expect("to a");
    let first = registry
        .rollback("a", manual("t6"))
        .await
        .expect_err("first");
    assert!(first.to_string().contains("no earlier one"), "{first}");
    let champion = registry.champion().await.expect("read").expect("set");
    assert_eq!(champion.version, "a");
    let moves: Vec<(ChangeKind, &str, Option<&str>, &str)> = champion
        .history
        .iter()
        .map(|c| {
            (
                c.kind,
                c.version.as_str(),
                c.previous.as_deref(),
                c.by.as_str(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            (ChangeKind::Promote, "a", None, "churn-train"),
            (ChangeKind::Promote, "b", Some("a"), "churn-train"),
            (ChangeKind::Promote, "c", Some("b"), "churn-train"),
            (ChangeKind::Rollback, "b", Some("c"), "ana"),
            (ChangeKind::Rollback, "a", Some("b"), "ana"),
        ]
    );
    assert_eq!(champion.history[3].reason, "c scores the wrong tier");
    // A rollback naming a champion that is not the current one loses.
    let stale = registry.rollback("c", manual("t7")).await;
    assert!(matches!(stale, Err(IoError::Conflict(_))), "{stale:?}");
}
