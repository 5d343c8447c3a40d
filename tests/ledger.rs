use churn_io::ledger::{Claim, Ledger};
use churn_tests::{emulator, table};

#[tokio::test]
async fn an_event_is_processed_once() {
    let Some(clients) = emulator("ledger").await else {
        return;
    };
    let ledger = Ledger::new(
        clients.dynamodb.clone(),
        table(&clients, "ledger").await,
        900,
    );
    let key = "ingest:churn-bucket/raw/customers/a.csv:etag-1";
    let now = 1_764_000_000;
    assert_eq!(
        ledger.claim(key, now).await.expect("claim"),
        Claim::Acquired
    );
    // A second delivery while the first runs.
    assert_eq!(
        ledger.claim(key, now + 5).await.expect("claim"),
        Claim::Busy {
            lease_until: now + 900
        }
    );
    ledger
        .finish(key, now + 60, "curated 5000 rows")
        .await
        .expect("finish");
    // Every later delivery sees it done, with the outcome.
    for later in [now + 61, now + 86_400] {
        assert_eq!(
            ledger.claim(key, later).await.expect("claim"),
            Claim::Done {
                outcome: "curated 5000 rows".into()
            }
        );
    }
    // Finishing twice is a conflict, not a silent overwrite.
    assert!(ledger.finish(key, now + 70, "again").await.is_err());
}

#[tokio::test]
async fn a_failed_or_dead_claim_can_be_taken_again() {
    let Some(clients) = emulator("ledger leases").await else {
        return;
    };
    let ledger = Ledger::new(
        clients.dynamodb.clone(),
        table(&clients, "ledger").await,
        900,
    );
    let now = 1_764_000_000;
    // The handler failed and released its claim: the retry claims it at once.
    assert_eq!(
        ledger.claim("k1", now).await.expect("claim"),
        Claim::Acquired
    );
    ledger.release("k1").await.expect("release");
    assert_eq!(
        ledger.claim("k1", now + 1).await.expect("claim"),
        Claim::Acquired
    );
    // The handler died holding it: after the lease, another delivery takes over.
    assert_eq!(
        ledger.claim("k2", now).await.expect("claim"),
        Claim::Acquired
    );
    assert!(matches!(
        ledger.claim("k2", now + 899).await.expect("claim"),
        Claim::Busy { .. }
    ));
    assert_eq!(
        ledger.claim("k2", now + 901).await.expect("claim"),
        Claim::TakenOver
    );
    // Releasing a finished key changes nothing.
    ledger.finish("k2", now + 950, "ok").await.expect("finish");
    ledger.release("k2").await.expect("release");
    assert!(matches!(
        ledger.claim("k2", now + 2000).await.expect("claim"),
        Claim::Done { .. }
    ));
}
