use churn_io::online::{OnlineFeatures, OnlineRow};
use churn_tests::{emulator, table};

#[tokio::test]
async fn rows_round_trip_across_several_batches() {
    let Some(clients) = emulator("online features").await else {
        return;
    };
    let online = OnlineFeatures::new(clients.dynamodb.clone(), table(&clients, "online").await);
    let rows: Vec<OnlineRow> = (0..60)
        .map(|i| OnlineRow {
            customer_id: format!("c{i:03}"),
            as_of: "2026-11-25".into(),
            values: serde_json::json!({
                "tenure_days": 30 * i,
                "contract_type": if i % 2 == 0 { "month-to-month" } else { "one-year" },
                "avg_satisfaction_90d": null,
                "paperless_billing": i % 3 == 0,
            })
            .as_object()
            .expect("object")
            .clone(),
        })
        .collect();
    assert_eq!(online.put(&rows).await.expect("put"), 60);
    for row in [&rows[0], &rows[26], &rows[59]] {
        assert_eq!(
            online.get(&row.customer_id).await.expect("get").as_ref(),
            Some(row)
        );
    }
    assert_eq!(online.get("c999").await.expect("get"), None);
    // A later snapshot replaces the row.
    let mut newer = rows[7].clone();
    newer.as_of = "2026-11-26".into();
    newer
        .values
        .insert("tenure_days".into(), serde_json::json!(211));
    online.put(std::slice::from_ref(&newer)).await.expect("put");
    assert_eq!(online.get("c007").await.expect("get"), Some(newer));
}
