use churn_io::events::{DomainEvent, EventPublisher};
use churn_tests::{emulator, fresh};

#[tokio::test]
async fn events_go_out_in_batches_of_ten_and_arrive() {
    let Some(clients) = emulator("events").await else {
        return;
    };
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&shared);

    // A bus with a rule that forwards our source's events to a queue.
    let bus = fresh("churn-bus");
    clients
        .eventbridge
        .create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("bus");
    let queue_url = sqs
        .create_queue()
        .queue_name(fresh("churn-events"))
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("arn");
    let rule = fresh("churn-rule");
    clients
        .eventbridge
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"source": ["churn.test"]}"#)
        .send()
        .await
        .expect("rule");
    clients
        .eventbridge
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("targets");

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
    for _ in 0..20 {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        for message in received.messages() {
            let body: serde_json::Value =
                serde_json::from_str(message.body().unwrap_or_default()).expect("json");
            assert_eq!(body["detail-type"], "PredictionsReady");
            assert_eq!(body["source"], "churn.test");
            shards.push(body["detail"]["shard"].as_u64().expect("shard"));
            sqs.delete_message()
                .queue_url(&queue_url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
        if shards.len() >= events.len() {
            break;
        }
    }
    shards.sort_unstable();
    assert_eq!(shards, (0..23).collect::<Vec<u64>>());
}
