use churn_io::events::{DomainEvent, EventPublisher};
use churn_tests::{RoutedQueue, emulator, fresh};

#[tokio::test]
async fn events_go_out_in_batches_of_ten_and_arrive() {
    let Some(clients) = emulator("events").await else {
        return;
    };
    // A bus with a rule that forwards our source's events to a queue.
    let bus = fresh("churn-bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let queue = RoutedQueue::new(
        &clients,
        &bus,
        &serde_json::json!({"source": ["churn.test"]}),
    )
    .await;

    let publisher = EventPublisher::new(clients.eventbridge.clone(), &bus, "churn.test");
    let events: Vec<DomainEvent> = (0..23)
        .map(|i| DomainEvent {
            detail_type: "PredictionsReady".into(),
            detail: serde_json::json!({ "date": "2026-11-25", "shard": i }),
        })
        .collect();
    assert_eq!(
        publisher.publish(&events).await.expect("publish"),
        3,
        "23 events: 3 calls"
    );

    let mut shards = Vec::new();
    for body in queue.receive(events.len()).await {
        assert_eq!(body["detail-type"], "PredictionsReady");
        assert_eq!(body["source"], "churn.test");
        shards.push(body["detail"]["shard"].as_u64().expect("shard"));
    }
    shards.sort_unstable();
    assert_eq!(shards, (0..23).collect::<Vec<u64>>());
}
